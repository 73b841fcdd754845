import { AuthctlError, ExitCode, cancelled, conflict, databaseError } from './errors.js';
import { scrubSecrets } from '../config/secrets.js';

interface CodedError {
  name?: string;
  code?: string | number;
  message?: string;
  meta?: Record<string, unknown>;
}

/**
 * SQLITE_BUSY, or one of its extended codes (SQLITE_BUSY_RECOVERY while
 * another process replays the log, ...): another connection holds a lock
 * this one needs now, and the attempt may be retried.
 */
export function isSqliteBusyCode(code: unknown): boolean {
  return code === 'SQLITE_BUSY' || (typeof code === 'string' && code.startsWith('SQLITE_BUSY_'));
}

/**
 * Whether `look` holds for an error or anything it wraps, however deep Prisma
 * and the driver adapters nest it: `cause`, `meta`, `meta.driverAdapterError`
 * and an engine failure's `driverError`, each object once, 6 levels at most.
 * `fromDriver` tells `look` that a driver's error (a DriverAdapterError, or
 * an object better-sqlite3 or pg made) wraps this one, so a bare 5-character
 * `code` on it is a SQLSTATE.
 */
function someWrapped(err: unknown, look: (o: Record<string, unknown>, fromDriver: boolean) => boolean): boolean {
  const seen = new Set<unknown>();
  const visit = (value: unknown, depth: number, fromDriver: boolean): boolean => {
    if (!value || typeof value !== 'object' || seen.has(value) || depth > 6) return false;
    seen.add(value);
    const o = value as Record<string, unknown>;
    const driver = fromDriver || o.kind === 'postgres' || o.kind === 'sqlite' || typeof o.severity === 'string' || o.name === 'DriverAdapterError';
    if (look(o, driver)) return true;
    return (
      visit(o.cause, depth + 1, driver) ||
      visit(o.meta, depth + 1, false) ||
      visit(o.driverAdapterError, depth + 1, true) ||
      visit(o.driverError, depth + 1, false)
    );
  };
  return visit(err, 0, false);
}

/**
 * The driver's own error codes inside an error, however it is wrapped:
 * better-sqlite3 and pg put theirs on `code`; Prisma's driver adapters keep
 * them as `originalCode` (or `code`, for PostgreSQL) in a DriverAdapterError's
 * `cause`, which a PrismaClientKnownRequestError carries in
 * `meta.driverAdapterError`; and Prisma's message quotes a SQLite code.
 */
function driverCodes(err: unknown): { sqlite: string[]; sqlstate: string[] } {
  const sqlite: string[] = [];
  const sqlstate: string[] = [];
  someWrapped(err, (o, driver) => {
    for (const field of ['originalCode', 'code']) {
      const code = o[field];
      if (typeof code !== 'string') continue;
      if (code.startsWith('SQLITE_')) sqlite.push(code);
      else if (driver && /^[0-9A-Z]{5}$/.test(code)) sqlstate.push(code);
    }
    return false;
  });
  const message = String((err as CodedError | undefined)?.message ?? '');
  for (const m of message.matchAll(/\b(SQLITE_[A-Z_]+)\b/g)) sqlite.push(m[1]!);
  return { sqlite, sqlstate };
}

/** Socket errors of a connection that was open: the server went away mid-command. */
const LOST_CODES = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNREFUSED']);
/** What pg (and Prisma's adapter around it) says when the connection dropped under a query. */
const LOST_MESSAGE = /Connection terminated|connection error and is not queryable|Client was closed and is not queryable|server closed the connection unexpectedly|terminating connection due to administrator command/i;

/**
 * The database connection was lost in the middle of a command (the server
 * stopped or restarted, an administrator ended the session, the network
 * dropped): pg reports it without a SQLSTATE, as a socket error or a closed
 * client, however deep Prisma wraps it.
 */
function connectionLost(err: unknown): boolean {
  return someWrapped(
    err,
    (o) =>
      (typeof o.code === 'string' && LOST_CODES.has(o.code) && typeof o.path !== 'string') ||
      ['message', 'originalMessage'].some((field) => typeof o[field] === 'string' && LOST_MESSAGE.test(o[field] as string)),
  );
}

/** The driver's message without Prisma's "Invalid `prisma.x()` invocation" wrapping. */
function driverMessage(err: unknown, fallback: string): string {
  const e = err as { meta?: { driverAdapterError?: { cause?: { originalMessage?: unknown; message?: unknown } } }; cause?: { originalMessage?: unknown } };
  const cause = e?.meta?.driverAdapterError?.cause ?? e?.cause;
  const text = (cause as { originalMessage?: unknown })?.originalMessage ?? (cause as { message?: unknown })?.message;
  if (typeof text === 'string' && text) return text;
  const quoted = /Message: `([^`]*)`/.exec(fallback)?.[1];
  return quoted ?? fallback.replace(/^\s*Invalid `[^`]+` invocation:?\s*/s, '').trim();
}

const SQLITE_FOLDER_HINT = 'SQLite writes -wal, -journal and lock files beside the database, so its folder must be writable too.';

/** A SQLite database this user cannot write: `what` names it, or how SQLite said so. */
export function sqliteReadOnly(what: string): AuthctlError {
  return databaseError(
    'DATABASE_READ_ONLY',
    `The database is read-only for this user (${what}); nothing was changed.`,
    `Run authctl as the user that owns the database, or make the file writable for this user. ${SQLITE_FOLDER_HINT}`,
  );
}

/** The folder of a SQLite database is not writable for this user. */
export function sqliteFolderReadOnly(): AuthctlError {
  return databaseError(
    'DATABASE_READ_ONLY',
    'The folder that holds the database is not writable for this user, so SQLite cannot write to the database; nothing was changed.',
    `Make the folder writable for the user running authctl (or run authctl as its owner). ${SQLITE_FOLDER_HINT}`,
  );
}

/** Database states an operator must fix outside authctl: read-only, damaged, full, unreadable. Exit 5 with what to do. */
function databaseStateError(err: unknown): AuthctlError | null {
  const { sqlite, sqlstate } = driverCodes(err);
  const has = (prefix: string) => sqlite.some((c) => c === prefix || c.startsWith(`${prefix}_`));
  if (sqlite.includes('SQLITE_READONLY_DIRECTORY')) return sqliteFolderReadOnly();
  if (has('SQLITE_READONLY')) return sqliteReadOnly(sqlite.find((c) => c.startsWith('SQLITE_READONLY'))!);
  if (has('SQLITE_CANTOPEN')) {
    return databaseError('DATABASE_CANNOT_OPEN', 'SQLite could not open the database file, or the -wal, -journal or lock file next to it.', 'Check that the file exists and is readable, and that its folder is writable for this user: SQLite writes -wal, -journal and lock files beside the database.');
  }
  if (has('SQLITE_CORRUPT') || has('SQLITE_NOTADB')) {
    return databaseError(
      'DATABASE_CORRUPT',
      `The database file is damaged (${sqlite.find((c) => c.startsWith('SQLITE_CORRUPT') || c.startsWith('SQLITE_NOTADB'))}): SQLite found a malformed page or no database header.`,
      "Stop the app, keep a copy of the file, and restore the latest backup (migrate leaves *.bak-* copies next to it); `sqlite3 <file> 'PRAGMA integrity_check'` shows the damage and `.recover` may save the rows.",
    );
  }
  if (has('SQLITE_FULL')) {
    return databaseError('DATABASE_FULL', 'The disk holding the database is full (SQLITE_FULL); the change was rolled back.', 'Free space on that file system, then run the command again.');
  }
  if (has('SQLITE_IOERR')) {
    return databaseError(
      'DATABASE_IO_ERROR',
      `The operating system reported an I/O error on the database (${sqlite.find((c) => c.startsWith('SQLITE_IOERR'))}).`,
      'Check the disk and the file system (dmesg), that the file was not removed or replaced while in use, and that there is free space; then try again.',
    );
  }
  const state = (...codes: string[]) => sqlstate.find((c) => codes.includes(c) || codes.some((p) => p.endsWith('*') && c.startsWith(p.slice(0, -1))));
  if (state('25006')) {
    return databaseError(
      'DATABASE_READ_ONLY',
      'PostgreSQL refused the write: the transaction is read-only (25006); nothing was changed.',
      'Point DATABASE_URL at the primary server, not a standby or replica, and check that default_transaction_read_only is off for this user and database.',
    );
  }
  if (state('42501')) {
    return databaseError(
      'DATABASE_PERMISSION_DENIED',
      'The PostgreSQL user in DATABASE_URL lacks a privilege this command needs (42501); nothing was changed.',
      "Use the role that owns the app's tables, or GRANT it SELECT, INSERT, UPDATE and DELETE on them (and CREATE on the schema for migrate).",
    );
  }
  if (state('53100')) {
    return databaseError('DATABASE_FULL', 'The PostgreSQL server is out of disk space (53100); the change was rolled back.', 'Free disk space on the database server, then run the command again.');
  }
  const insufficient = state('53*');
  if (insufficient) {
    return databaseError('DATABASE_RESOURCES', `The PostgreSQL server lacks the resources to run the command (${insufficient}).`, 'Check the server (memory, connections), then try again.');
  }
  const damaged = state('XX001', 'XX002');
  if (damaged) {
    return databaseError(
      'DATABASE_CORRUPT',
      `PostgreSQL reports damaged ${damaged === 'XX002' ? 'index' : 'table'} data (${damaged}).`,
      'Have the server administrator check the server log, REINDEX a damaged index or restore from a backup.',
    );
  }
  const io = state('58030', '58*');
  if (io) {
    return databaseError('DATABASE_IO_ERROR', `The PostgreSQL server reported a system or I/O error (${io}).`, "Check the database server's disk and log, then try again.");
  }
  const unavailable = state('57P01', '57P02', '57P03', '08*');
  if (unavailable) {
    return databaseError('DATABASE_UNREACHABLE', `The PostgreSQL server closed or refused the connection (${unavailable}).`, 'Check that the server is running and accepting connections, then try again.');
  }
  return null;
}

/**
 * A file system error on a file next to the database (a lock or side file,
 * a backup) from Node itself rather than from SQLite: the same cause as
 * SQLITE_CANTOPEN or SQLITE_FULL, so the same exit 5 and advice.
 */
function fileSystemError(err: unknown): AuthctlError | null {
  const e = err as { code?: unknown; syscall?: unknown; path?: unknown };
  if (typeof e?.code !== 'string' || typeof e.syscall !== 'string' || typeof e.path !== 'string') return null;
  if (e.code === 'EACCES' || e.code === 'EPERM' || e.code === 'EROFS') {
    return databaseError(
      'DATABASE_READ_ONLY',
      `Cannot write ${e.path}: ${e.code === 'EROFS' ? 'the file system is read-only' : 'permission denied'}; nothing was changed.`,
      `Run authctl as the user that owns the database, or make its folder writable for this user. ${SQLITE_FOLDER_HINT}`,
    );
  }
  if (e.code === 'ENOSPC' || e.code === 'EDQUOT') {
    return databaseError('DATABASE_FULL', `Cannot write ${e.path}: the disk is full.`, 'Free space on that file system, then run the command again.');
  }
  if (e.code === 'EIO') {
    return databaseError('DATABASE_IO_ERROR', `The operating system reported an I/O error on ${e.path}.`, 'Check the disk and the file system (dmesg), then try again.');
  }
  return null;
}

/**
 * Maps every failure to the documented exit codes in one place: driver and
 * Prisma errors, prompt cancellation, and anything unexpected (exit 1). No
 * message leaves with a password or token in it.
 */
export function toAuthctlError(err: unknown): AuthctlError {
  const mapped = mapError(err);
  const message = scrubSecrets(mapped.message);
  const hint = mapped.hint === undefined ? undefined : scrubSecrets(mapped.hint);
  if (message === mapped.message && hint === mapped.hint) return mapped;
  return new AuthctlError(mapped.code, message, mapped.exitCode, hint);
}

/** What db/engine.ts's MigrationEngineError carries; matched by name, so the engine is not loaded to map an error. */
interface MigrationEngineFailure {
  message: string;
  driverError: unknown;
  backup: string | null;
}

/**
 * A failure inside Prisma's schema engine: the driver's error that caused it,
 * mapped as any other (a locked, damaged or full database), or else the
 * engine's own message, which engine.ts has cut before its stack frames.
 * The hint names the backup this run made, and only when it made one.
 */
function migrationEngineError(err: MigrationEngineFailure): AuthctlError {
  const backupNote = err.backup ? `The database was backed up to ${err.backup} before this run.` : '';
  const cause = err.driverError;
  if (cause !== undefined && cause !== null) {
    const mapped = mapError(cause);
    if (mapped.exitCode !== ExitCode.internal) {
      return backupNote ? new AuthctlError(mapped.code, mapped.message, mapped.exitCode, [mapped.hint, backupNote].filter(Boolean).join(' ')) : mapped;
    }
  }
  const detail = cause instanceof Error ? driverMessage(cause, cause.message) : err.message;
  return databaseError(
    'MIGRATION_FAILED',
    `Applying migrations failed: ${detail.trim().replace(/\s*\n\s*/g, ' ')}`,
    ['Migrations applied before the failed one stay applied.', backupNote, 'Fix the cause, then run `authctl migrate` again.'].filter(Boolean).join(' '),
  );
}

function mapError(err: unknown): AuthctlError {
  if (err instanceof AuthctlError) return err;
  const e = (err ?? {}) as CodedError;
  if (e.name === 'ExitPromptError' || e.name === 'AbortPromptError') return cancelled();
  if (e.name === 'MigrationEngineError') return migrationEngineError(err as MigrationEngineFailure);
  // Driver and Prisma messages span several lines; an error is one line.
  const message = String(e.message ?? err).trim().replace(/\s*\n\s*/g, ' ');
  // 23505 is PostgreSQL's unique_violation.
  if (e.code === 'P2002' || e.code === '23505' || /UNIQUE constraint failed|Unique constraint failed/i.test(message)) {
    return conflict('ALREADY_EXISTS', 'That value is already taken by another row.', 'Choose a different username or email.');
  }
  if (
    /SQLITE_BUSY|database is locked|timed out|Timed out fetching/i.test(message) ||
    e.code === 'P1008' ||
    // The error's own code, or, from a driver adapter, its cause's.
    driverCodes(err).sqlite.some(isSqliteBusyCode)
  ) {
    return databaseError(
      'DATABASE_LOCKED',
      'The database stayed locked by another writer for too long.',
      'The app or another authctl is holding a long write; try again shortly.',
    );
  }
  const state = databaseStateError(err) ?? fileSystemError(err);
  if (state) return state;
  if (connectionLost(err)) {
    return databaseError(
      'DATABASE_CONNECTION_LOST',
      'The connection to the database server was lost in the middle of the command; the server rolled back whatever it had not committed.',
      'Check that the server is running and reachable (its log says why the connection ended), then run the command again; `authctl audit` lists what was done.',
    );
  }
  if (typeof e.code === 'string' && (e.code.startsWith('SQLITE_') || /^P1\d{3}$/.test(e.code))) {
    return databaseError('DATABASE_ERROR', `Database error: ${driverMessage(err, message)}`, 'Check that DATABASE_URL points at a healthy database.');
  }
  if (/no such table|relation .* does not exist/i.test(message)) {
    return databaseError('NOT_INITIALISED', 'The database is missing authctl\'s tables.', 'Run `authctl migrate` (or `authctl init-db` for a new database).');
  }
  return new AuthctlError('INTERNAL', `Unexpected error: ${message}`, ExitCode.internal);
}
