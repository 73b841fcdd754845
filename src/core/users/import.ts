import fs from 'node:fs';
import { fillNewFile } from './new-file.js';
import { becomesActiveAdmin } from './active-admin.js';
import { findWellKnownPasswords } from './admin-password.js';
import { writeAudit } from '../audit/write.js';
import type { Db } from '../db/handle.js';
import { asBool, asNumber, join, sql, type Queryable, type Sql } from '../db/query.js';
import { AuthctlError, conflict, refused, usageError } from '../errors/errors.js';
import { hashPasswords } from '../passwords/hash-pool.js';
import { checkNewPassword, generatePassword } from '../passwords/password.js';
import { formatAppTimestamp } from '../time/timestamps.js';
import type { ImportFormat, ImportRow } from './import-rows.js';

export type OnConflict = 'fail' | 'skip' | 'update';
/** What a new user gets when its row has no password: a generated one, none (GPUStack login only), or the row is an error. */
export type MissingPassword = 'generate' | 'none' | 'error';

export interface ImportOptions {
  onConflict: OnConflict;
  missingPassword: MissingPassword;
  rounds: number;
  dryRun: boolean;
  weakPasswordAllowed: boolean;
  /** Where generated passwords go (created 0600, never overwritten); without it they are returned. */
  passwordsOut?: string;
  /** For the audit row: the file name, or "-" for stdin, and its format. */
  source: string;
  format: ImportFormat;
}

export interface GeneratedPassword {
  username: string;
  password: string;
}

export interface ImportResult {
  dryRun: boolean;
  created: number;
  updated: number;
  skipped: number;
  createdUsers: string[];
  updatedUsers: string[];
  skippedUsers: string[];
  /** Sessions of updated users whose password, admin flag or active flag changed. */
  sessionsRevoked: number;
  passwordsGenerated: number;
  /** The file the generated passwords went to. */
  passwordsFile: string | null;
  /** Generated passwords, shown once, when no --passwords-out file took them. */
  passwords?: GeneratedPassword[];
}

interface Existing {
  id: number;
  username: string;
  email: string | null;
  fullName: string | null;
  isAdmin: boolean;
  isActive: boolean;
  passwordHash: string | null;
  linked: boolean;
}

type Planned = { row: ImportRow; kind: 'create' } | { row: ImportRow; kind: 'update'; user: Existing } | { row: ImportRow; kind: 'skip' };

function listed(lines: string[], what: string): string {
  return `${lines.length} ${lines.length === 1 ? 'row' : 'rows'} ${what}; nothing was written:`;
}

function lastAdmin(): AuthctlError {
  return refused('LAST_ADMIN', 'The import would leave no active admin; nothing was written.', 'Keep at least one row with is_admin and is_active true, or leave those users out.');
}

/** Whether the plan takes the last active admins away (updates that demote or disable them, and no new active admin). */
function leavesNoActiveAdmin(existing: Existing[], planned: Planned[]): boolean {
  const update = new Map<number, ImportRow>();
  for (const p of planned) if (p.kind === 'update') update.set(p.user.id, p.row);
  if (update.size === 0) return false;
  const before = existing.filter((u) => u.isAdmin && u.isActive).length;
  if (before === 0) return false;
  const after =
    existing.filter((u) => {
      const row = update.get(u.id);
      return (row?.isAdmin ?? u.isAdmin) && (row?.isActive ?? u.isActive);
    }).length + planned.filter((p) => p.kind === 'create' && p.row.isAdmin === true && p.row.isActive !== false).length;
  return after === 0;
}

/** Sorts the rows into create, update and skip against the users already there, or fails naming every row that cannot go in. */
function plan(rows: ImportRow[], existing: Existing[], opts: ImportOptions): Planned[] {
  const byName = new Map(existing.map((u) => [u.username, u]));
  const byEmail = new Map(existing.filter((u) => u.email !== null).map((u) => [u.email!, u]));
  const planned: Planned[] = [];
  const missing: string[] = [];
  const conflicts: string[] = [];
  const linked: string[] = [];
  const weakForAdmin: string[] = [];
  for (const row of rows) {
    const user = byName.get(row.username);
    const owner = row.email ? byEmail.get(row.email) : undefined;
    if (!user && !owner) {
      if (!row.password && opts.missingPassword === 'error') missing.push(`line ${row.line}: ${row.username}`);
      planned.push({ row, kind: 'create' });
      continue;
    }
    if (opts.onConflict === 'skip') {
      planned.push({ row, kind: 'skip' });
      continue;
    }
    if (opts.onConflict === 'fail' || !user) {
      conflicts.push(
        user
          ? `line ${row.line}: the username "${row.username}" is taken`
          : `line ${row.line}: the email ${row.email} belongs to "${owner!.username}"`,
      );
      continue;
    }
    if (owner && owner.id !== user.id) {
      conflicts.push(`line ${row.line}: the email ${row.email} belongs to "${owner.username}", not "${row.username}"`);
      continue;
    }
    const changesSynced =
      (row.fullName !== undefined && row.fullName !== user.fullName) ||
      (row.isAdmin !== undefined && row.isAdmin !== user.isAdmin) ||
      (row.isActive !== undefined && row.isActive !== user.isActive);
    if (user.linked && changesSynced) linked.push(`line ${row.line}: ${row.username}`);
    // The row was checked against the policy for the admin flag it gives; one
    // that leaves the flag out keeps the user's, and an admin's password needs
    // the admin rule.
    if (row.password && 'plain' in row.password && row.isAdmin === undefined && user.isAdmin && !opts.weakPasswordAllowed) {
      try {
        checkNewPassword({ password: row.password.plain, username: row.username, isAdmin: true, allowWeak: false });
      } catch (err) {
        weakForAdmin.push(`line ${row.line}: ${row.username} is an admin: ${(err as Error).message}`);
      }
    }
    planned.push({ row, kind: 'update', user });
  }
  if (missing.length) {
    throw usageError(listed(missing, 'have no password'), 'Add a password_hash or password column, or choose --generate-passwords or --no-password.').withDetails(missing);
  }
  if (conflicts.length) {
    throw conflict(
      'IMPORT_CONFLICT',
      listed(conflicts, 'clash with existing users'),
      opts.onConflict === 'update'
        ? 'An email can only stay with its own user: change those rows, or use --on-conflict skip.'
        : 'Use --on-conflict skip to leave existing users alone, or --on-conflict update to change them.',
    ).withDetails(conflicts);
  }
  if (weakForAdmin.length) {
    throw usageError(
      listed(weakForAdmin, 'would give an existing admin a password the admin rule refuses'),
      'Give those admins a password of at least 12 characters, or add --allow-weak-password (recorded in the audit log).',
    ).withDetails(weakForAdmin);
  }
  if (linked.length) {
    throw refused(
      'IMPORT_LINKED_USER',
      listed(linked, "change the full name, admin or active flag of GPUStack-linked users (the next `gpustack sync` would undo it)"),
      'Leave those fields out of these rows, or use --on-conflict skip.',
    ).withDetails(linked);
  }
  return planned;
}

async function readExisting(q: Queryable): Promise<Existing[]> {
  const rows = await q.all<Record<string, unknown>>(sql`SELECT id, username, email, full_name, is_admin, is_active, password_hash, gpustack_user_id FROM users`);
  return rows.map((r) => ({
    id: asNumber(r.id),
    username: r.username as string,
    email: r.email as string | null,
    fullName: r.full_name as string | null,
    isAdmin: asBool(r.is_admin),
    isActive: asBool(r.is_active),
    passwordHash: r.password_hash as string | null,
    linked: r.gpustack_user_id !== null,
  }));
}

/** A new user's stored values: the app's defaults for what the row leaves out. */
interface NewUserValues {
  username: string;
  email: string | null;
  fullName: string;
  hash: string | null;
  isAdmin: boolean;
  isActive: boolean;
}

const PG_BATCH = 10_000;

/** Inserts new users: one prepared statement on SQLite, batches of array parameters on PostgreSQL. */
async function insertUsers(db: Db, users: NewUserValues[], now: string): Promise<void> {
  const conn = await db.sql();
  if (conn.provider === 'sqlite') {
    const stmt = conn.sqlite.prepare(
      'INSERT INTO users (username, email, full_name, password_hash, is_admin, is_active, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    );
    for (const u of users) stmt.run(u.username, u.email, u.fullName, u.hash, u.isAdmin ? 1 : 0, u.isActive ? 1 : 0, now, now);
    return;
  }
  for (let i = 0; i < users.length; i += PG_BATCH) {
    const batch = users.slice(i, i + PG_BATCH);
    await conn.pg.query(
      `INSERT INTO users (username, email, full_name, password_hash, is_admin, is_active, created_at, updated_at)
       SELECT u, e, f, h, a, c, $7::timestamp, $7::timestamp FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::boolean[], $6::boolean[]) AS t(u, e, f, h, a, c)`,
      [batch.map((u) => u.username), batch.map((u) => u.email), batch.map((u) => u.fullName), batch.map((u) => u.hash), batch.map((u) => u.isAdmin), batch.map((u) => u.isActive), now],
    );
  }
}

/** Creates the passwords file (mode 0600, never over an existing file) and writes `username,password` lines. */
function writePasswordsFile(file: string, passwords: GeneratedPassword[]): void {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o600);
  } catch (err) {
    throw passwordsFileError(file, err as NodeJS.ErrnoException);
  }
  const text = ['username,password', ...passwords.map((p) => `${csvField(p.username)},${p.password}`)].join('\n') + '\n';
  fillNewFile(file, fd, text, (err) =>
    usageError(
      `Writing the passwords file ${file} failed (${err.code ?? err.message}); it was removed, and no user was imported.`,
      'Free space on that disk or choose another path for --passwords-out, then run the import again.',
    ),
    0o600,
  );
}

function csvField(text: string): string {
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

function passwordsFileError(file: string, err: NodeJS.ErrnoException): AuthctlError {
  if (err.code === 'EEXIST') {
    return refused('PASSWORDS_OUT_EXISTS', `The passwords file ${file} already exists; authctl never overwrites one.`, 'Choose a new path, or move the old file away first.');
  }
  return usageError(`Cannot create the passwords file ${file}: ${err.code ?? err.message}.`, 'Choose a path in a folder you can write to.');
}

/**
 * An update that makes an existing user an active admin (or enables an
 * admin) without giving it a password keeps the stored one: as with `user
 * set --admin`, that must not be a well-known one. Tried before anything is
 * written, every such user at once; a dry run refuses what the real run
 * would.
 */
async function refuseKeptWellKnownPasswords(updates: Array<Extract<Planned, { kind: 'update' }>>): Promise<void> {
  const kept = updates.filter(
    ({ row, user }) => !row.password && user.passwordHash && becomesActiveAdmin(user, { isAdmin: row.isAdmin ?? user.isAdmin, isActive: row.isActive ?? user.isActive }),
  );
  if (kept.length === 0) return;
  const found = new Set((await findWellKnownPasswords(kept.map(({ user }) => ({ id: user.id, username: user.username, hash: user.passwordHash! })))).map((f) => f.id));
  const lines = kept.filter(({ user }) => found.has(user.id)).map(({ row }) => `line ${row.line}: ${row.username}`);
  if (lines.length === 0) return;
  throw refused(
    'WEAK_PASSWORD',
    listed(lines, 'would make an active admin of a user whose stored password is a well-known one'),
    'Give those rows a password, or reset those users first (`authctl user reset`), or add --allow-weak-password (recorded in the audit log).',
  ).withDetails(lines);
}

/** Fails at once when the passwords file exists, before any work (the file itself is created with O_EXCL later). */
export function assertPasswordsOutFree(file: string): void {
  if (fs.existsSync(file)) throw passwordsFileError(file, Object.assign(new Error('exists'), { code: 'EEXIST' }));
}

/**
 * Applies validated rows: plans them against the users already there, hashes
 * plaintext and generated passwords on the worker pool, then writes every
 * row and one audit row in one transaction, or nothing.
 */
export async function importUsers(db: Db, rows: ImportRow[], opts: ImportOptions): Promise<ImportResult> {
  const conn = await db.sql();
  const existing = await readExisting(conn);
  const planned = plan(rows, existing, opts);
  const creates = planned.filter((p) => p.kind === 'create');
  const updates = planned.filter((p): p is Extract<Planned, { kind: 'update' }> => p.kind === 'update');
  const skips = planned.filter((p) => p.kind === 'skip');
  const result: ImportResult = {
    dryRun: opts.dryRun,
    created: creates.length,
    updated: updates.length,
    skipped: skips.length,
    createdUsers: creates.map((p) => p.row.username),
    updatedUsers: updates.map((p) => p.row.username),
    skippedUsers: skips.map((p) => p.row.username),
    sessionsRevoked: 0,
    passwordsGenerated: 0,
    passwordsFile: null,
  };
  // Only new users get a generated password; an updated row without one keeps the user's password.
  const generated = new Map<ImportRow, string>();
  if (opts.missingPassword === 'generate') for (const p of creates) if (!p.row.password) generated.set(p.row, generatePassword());
  result.passwordsGenerated = generated.size;
  // Judged on the plan as well as (below) in the transaction, so that a dry run says what the real run would.
  if (leavesNoActiveAdmin(existing, planned)) throw lastAdmin();
  if (!opts.weakPasswordAllowed) await refuseKeptWellKnownPasswords(updates);
  if (opts.dryRun) return result;

  const toHash = planned.filter((p) => p.kind !== 'skip' && (p.row.password && 'plain' in p.row.password || generated.has(p.row)));
  const hashes = await hashPasswords(toHash.map((p) => (p.row.password && 'plain' in p.row.password ? p.row.password.plain : generated.get(p.row)!)), opts.rounds);
  const hashOf = new Map<ImportRow, string>(toHash.map((p, i) => [p.row, hashes[i]!]));
  const storedHash = (row: ImportRow): string | null => hashOf.get(row) ?? (row.password && 'hash' in row.password ? row.password.hash : null);

  const passwords = [...generated].map(([row, password]) => ({ username: row.username, password }));
  if (opts.passwordsOut && passwords.length) {
    writePasswordsFile(opts.passwordsOut, passwords);
    result.passwordsFile = opts.passwordsOut;
  }
  try {
    const now = new Date();
    const stamp = formatAppTimestamp(now);
    await conn.transaction(async (tx) => {
      const adminsBefore = await countActiveAdmins(tx);
      await insertUsers(
        db,
        creates.map(({ row }) => ({
          username: row.username,
          email: row.email ?? null,
          // The app needs a full name; its own sync falls back to the username.
          fullName: row.fullName ?? row.username,
          hash: storedHash(row),
          isAdmin: row.isAdmin ?? false,
          isActive: row.isActive ?? true,
        })),
        stamp,
      );
      const revokeFor: number[] = [];
      for (const { row, user } of updates) {
        const hash = storedHash(row);
        const set: Sql[] = [sql`updated_at = ${now}`];
        if (row.email !== undefined) set.push(sql`email = ${row.email}`);
        if (row.fullName !== undefined) set.push(sql`full_name = ${row.fullName}`);
        if (row.isAdmin !== undefined) set.push(sql`is_admin = ${row.isAdmin}`);
        if (row.isActive !== undefined) set.push(sql`is_active = ${row.isActive}`);
        if (hash !== null) set.push(sql`password_hash = ${hash}`);
        await tx.run(sql`UPDATE users SET ${join(set, ', ')} WHERE id = ${user.id}`);
        // Tokens carry the admin flag, and a new password or a disabled account should end old logins.
        const newPassword = hash !== null && hash !== user.passwordHash;
        if (newPassword || (user.isAdmin && row.isAdmin === false) || (user.isActive && row.isActive === false)) revokeFor.push(user.id);
      }
      for (const id of revokeFor) result.sessionsRevoked += await tx.run(sql`DELETE FROM user_sessions WHERE user_id = ${id}`);
      if (adminsBefore > 0 && updates.length && (await countActiveAdmins(tx)) === 0) throw lastAdmin();
      await writeAudit(tx, {
        command: 'user import',
        target: opts.source,
        summary: `imported users: ${result.created} created, ${result.updated} updated, ${result.skipped} skipped`,
        details: {
          format: opts.format,
          onConflict: opts.onConflict,
          created: result.created,
          updated: result.updated,
          skipped: result.skipped,
          passwordsGenerated: result.passwordsGenerated,
          plaintextPasswords: rows.filter((r) => r.password && 'plain' in r.password).length,
          givenHashes: rows.filter((r) => r.password && 'hash' in r.password).length,
          sessionsRevoked: result.sessionsRevoked,
          weakPasswordAllowed: opts.weakPasswordAllowed,
        },
      });
    });
  } catch (err) {
    // The passwords of users that were never created must not linger.
    if (result.passwordsFile) fs.rmSync(result.passwordsFile, { force: true });
    throw err;
  }
  if (!opts.passwordsOut && passwords.length) result.passwords = passwords;
  return result;
}

async function countActiveAdmins(q: Queryable): Promise<number> {
  const row = await q.get<{ n: unknown }>(sql`SELECT COUNT(*) AS n FROM users WHERE is_admin = ${true} AND is_active = ${true}`);
  return asNumber(row!.n);
}
