import fs from 'node:fs';
import { fillNewFile } from './new-file.js';
import { stringify } from 'csv-stringify/sync';
import type { Db } from '../db/handle.js';
import { sql } from '../db/query.js';
import { databaseError, refused, usageError } from '../errors/errors.js';
import type { ImportFormat } from './import-rows.js';
import { readableFlagCommand, readBool, readText, storedText, unreadableFlagSql, unreadableFlagText } from './rows.js';

export type ExportScope = 'active' | 'inactive' | 'all';

/** One user as `user export` writes it: the columns `user import` reads. */
export interface ExportRow {
  username: string;
  email: string | null;
  full_name: string | null;
  is_admin: boolean;
  is_active: boolean;
  /** Only with --include-hashes. */
  password_hash?: string | null;
}

export async function selectExportRows(db: Db, scope: ExportScope, includeHashes: boolean): Promise<ExportRow[]> {
  const conn = await db.sql();
  // Users whose is_active is neither are in no scope: read them too, so that they stop the export below rather than go missing from it.
  const where = scope === 'all' ? sql`` : sql`WHERE is_active = ${scope === 'active'} OR ${unreadableFlagSql('is_active')}`;
  const rows = await conn.all<Record<string, unknown>>(sql`SELECT username, email, full_name, is_admin, is_active, password_hash FROM users ${where} ORDER BY id`);
  // A flag another tool stored as something other than a boolean would be
  // written as false, and an import would then demote or disable that user.
  for (const r of rows) {
    const column = (['is_admin', 'is_active'] as const).find((c) => readBool(r[c]) === null);
    if (!column) continue;
    const username = String(r.username);
    throw databaseError(
      'UNREADABLE_VALUE',
      `${unreadableFlagText(username, column, storedText(r[column]))}: the export would write it as false. Nothing was written.`,
      `Store a readable flag first with \`${readableFlagCommand(username, column)}\` (or ${column === 'is_admin' ? '--no-admin' : 'disable'}), then export again.`,
    );
  }
  // Text as text: a blob or number another tool stored is written as user list shows it (x'4142'), never as a Buffer's JSON.
  return rows.map((r) => ({
    username: readText(r.username) ?? '',
    email: readText(r.email),
    full_name: readText(r.full_name),
    is_admin: readBool(r.is_admin)!,
    is_active: readBool(r.is_active)!,
    ...(includeHashes ? { password_hash: readText(r.password_hash) } : {}),
  }));
}

/** The rows as a file `user import` reads back exactly: CSV with a header (quoted as needed), a JSON array, or NDJSON. */
export function serialiseUsers(rows: ExportRow[], format: ImportFormat, includeHashes: boolean): string {
  if (format === 'json') return JSON.stringify(rows, null, 2) + '\n';
  if (format === 'ndjson') return rows.map((r) => JSON.stringify(r) + '\n').join('');
  const columns = ['username', 'email', 'full_name', 'is_admin', 'is_active', ...(includeHashes ? ['password_hash'] : [])];
  return stringify(rows, {
    header: true,
    columns,
    cast: { boolean: (v) => (v ? 'true' : 'false') },
    // Every line break inside a field is quoted, so CR, LF and CRLF all come back as they were.
    quoted_match: /[\r\n]/,
  });
}

/**
 * Writes an export file that did not exist: mode 0600 when it holds password
 * hashes, 0644 otherwise. An existing file is never overwritten (exit 7).
 */
export function writeExportFile(file: string, text: string, includeHashes: boolean): void {
  const mode = includeHashes ? 0o600 : 0o644;
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, mode);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'EEXIST') throw refused('EXPORT_FILE_EXISTS', `${file} already exists; authctl never overwrites an export.`, 'Choose a new path, or move the old file away first.');
    throw usageError(`Cannot create ${file}: ${e.code ?? e.message}.`, 'Choose a path in a folder you can write to.');
  }
  fillNewFile(
    file,
    fd,
    text,
    (err) => usageError(`Writing ${file} failed (${err.code ?? err.message}); the incomplete file was removed.`, 'Free space on that disk or choose another path for -o, then export again.'),
    // A hashes file stays 0600 whatever the umask; another keeps what the umask left of 0644.
    includeHashes ? 0o600 : undefined,
  );
}
