import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { databaseError } from '../errors/errors.js';
import { toAuthctlError } from '../errors/map.js';

export type SqliteDb = Database.Database;

/** How long a statement waits for the app's write lock before giving up. */
export const BUSY_TIMEOUT_MS = 5000;

/**
 * Whether an error means another connection holds a lock that this one needs
 * now (SQLITE_BUSY, or one of its extended codes such as SQLITE_BUSY_RECOVERY
 * while another process replays the log). Such an attempt may be retried.
 */
export function isSqliteBusy(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'SQLITE_BUSY' || (typeof code === 'string' && code.startsWith('SQLITE_BUSY_'));
}

export function sqliteFileExists(file: string): boolean {
  try {
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/**
 * Opens the SQLite file directly. A missing file is an error here: only
 * init-db creates one, and only on purpose.
 */
export function openSqlite(file: string, opts: { readonly?: boolean } = {}): SqliteDb {
  if (!sqliteFileExists(file)) {
    throw databaseError(
      'DATABASE_NOT_FOUND',
      `No database file at ${file}.`,
      'Check DATABASE_URL (or -d), or create the database with `authctl init-db`.',
    );
  }
  const readonly = opts.readonly ?? false;
  try {
    return openChecked(file, readonly);
  } catch (err) {
    if ((err as { code?: unknown }).code !== 'SQLITE_READONLY_ROLLBACK') throw sqliteOpenError(file, err);
    // Opened for writing, SQLite fell back to reading: this user cannot write.
    if (!readonly) throw unfinishedWriteError(file);
  }
  // A process that stopped in the middle of a write (a kill, a crash, a power
  // cut) left its rollback journal behind. Nobody may read the file until that
  // write is undone, and a read-only connection cannot undo it. Any connection
  // that can write does so on its first read, as the app's next one would; it
  // only restores what was last committed.
  rollBackHotJournal(file);
  try {
    return openChecked(file, true);
  } catch (err) {
    throw sqliteOpenError(file, err);
  }
}

function openChecked(file: string, readonly: boolean): SqliteDb {
  const db = new Database(file, { readonly, fileMustExist: true, timeout: BUSY_TIMEOUT_MS });
  try {
    // Fail now, with a clear message, if the file is not a database at all.
    db.prepare('SELECT count(*) FROM sqlite_master').get();
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}

function rollBackHotJournal(file: string): void {
  let writer: SqliteDb;
  try {
    writer = openChecked(file, false);
  } catch (err) {
    // The app may be in the middle of a write: that is the usual lock error.
    const opened = sqliteOpenError(file, err);
    throw opened.code === 'DATABASE_LOCKED' ? opened : unfinishedWriteError(file);
  }
  writer.close();
}

function unfinishedWriteError(file: string) {
  return databaseError(
    'DATABASE_READ_ONLY',
    `${file} has a write left unfinished by a process that stopped (${path.basename(file)}-journal), and this user cannot undo it: that needs write access to the file and its folder. Nothing was read or changed.`,
    'Run any authctl command (or start the app) once as a user that can write both; SQLite then rolls the unfinished write back.',
  );
}

function sqliteOpenError(file: string, err: unknown) {
  const message = err instanceof Error ? err.message : String(err);
  if (String((err as { code?: unknown }).code).startsWith('SQLITE_CORRUPT')) return toAuthctlError(err);
  if (/not a database|file is encrypted/i.test(message)) {
    return databaseError('DATABASE_INVALID', `${file} is not a SQLite database.`, 'Check DATABASE_URL (or -d).');
  }
  if (/locked|busy/i.test(message)) {
    return databaseError('DATABASE_LOCKED', `${file} stayed locked for more than ${BUSY_TIMEOUT_MS / 1000}s.`, 'Another process holds a long write lock; try again shortly.');
  }
  if (/readonly|permission|EACCES|unable to open/i.test(message)) {
    return databaseError('DATABASE_UNREADABLE', `Cannot open ${file}: ${message}.`, 'Check the file and folder permissions.');
  }
  return databaseError('DATABASE_ERROR', `Cannot use ${file}: ${message}.`);
}

/** Fails with exit 5 when the file's folder does not exist. */
export function requireParentFolder(file: string): void {
  const dir = path.dirname(file);
  if (!fs.existsSync(dir)) {
    throw databaseError(
      'DATABASE_FOLDER_MISSING',
      `The folder ${dir} does not exist, so ${path.basename(file)} cannot be created there.`,
      'Create the folder first, or point DATABASE_URL (or -d) somewhere else.',
    );
  }
}

/** Creates a new, empty database file that only its owner can read. */
export function createSqliteFile(file: string): void {
  requireParentFolder(file);
  try {
    fs.closeSync(fs.openSync(file, 'wx', 0o600));
    fs.chmodSync(file, 0o600);
  } catch (err) {
    throw databaseError('DATABASE_CREATE_FAILED', `Cannot create ${file}: ${(err as Error).message}.`);
  }
}

/**
 * Copies the database next to itself with SQLite's online backup, which stays
 * consistent even while the app writes. Returns the copy's path.
 */
export async function backupSqlite(db: SqliteDb, file: string, now = new Date()): Promise<string> {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\..*$/, '').replace('T', '-');
  let target = `${file}.bak-${stamp}`;
  for (let i = 1; fs.existsSync(target); i++) target = `${file}.bak-${stamp}-${i}`;
  await db.backup(target);
  fs.chmodSync(target, 0o600);
  return target;
}
