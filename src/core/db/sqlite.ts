import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { databaseError } from '../errors/errors.js';
import { isSqliteBusyCode, toAuthctlError } from '../errors/map.js';

export type SqliteDb = Database.Database;

/** How long a statement waits for the app's write lock before giving up. */
export const BUSY_TIMEOUT_MS = 5000;

/**
 * Whether an error means another connection holds a lock that this one needs
 * now (SQLITE_BUSY, or one of its extended codes such as SQLITE_BUSY_RECOVERY
 * while another process replays the log). Such an attempt may be retried.
 */
export function isSqliteBusy(err: unknown): boolean {
  return isSqliteBusyCode((err as { code?: unknown } | null)?.code);
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

/** A file or folder beside a SQLite database that SQLite must write and this user cannot. */
interface SqliteAccessProblem {
  path: string;
  role: 'database' | 'folder' | 'journal' | 'wal' | 'shm';
  /** What this user lacks: `write`, or `read and write`. */
  missing: string;
  /** Who owns it (a user name, or `uid N`). */
  user: string;
  /** `owned by root, mode 0644`. */
  owner: string;
}

/** The user name for a uid, from /etc/passwd, or `uid N`. */
function userName(uid: number): string {
  try {
    for (const line of fs.readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const [name, , id] = line.split(':');
      if (name && Number(id) === uid) return name;
    }
  } catch {
    // No passwd file to read: the number will do.
  }
  return `uid ${uid}`;
}

/**
 * What this user cannot do to the database file, its folder and the side
 * files SQLite keeps beside it (`-journal`, `-wal`, `-shm`, where they
 * exist): each needs reading and writing, the folder writing (SQLite
 * creates and deletes the side files in it). Empty when nothing is in the way.
 */
function sqliteAccessProblems(file: string): SqliteAccessProblem[] {
  const can = (p: string, mode: number) => {
    try {
      fs.accessSync(p, mode);
      return true;
    } catch {
      return false;
    }
  };
  const candidates: Array<{ path: string; role: SqliteAccessProblem['role'] }> = [
    { path: file, role: 'database' },
    { path: `${file}-journal`, role: 'journal' },
    { path: `${file}-wal`, role: 'wal' },
    { path: `${file}-shm`, role: 'shm' },
    { path: path.dirname(file), role: 'folder' },
  ];
  const problems: SqliteAccessProblem[] = [];
  for (const { path: p, role } of candidates) {
    let stat: fs.Stats;
    try {
      stat = fs.statSync(p);
    } catch {
      continue;
    }
    const read = can(p, role === 'folder' ? fs.constants.X_OK : fs.constants.R_OK);
    const write = can(p, fs.constants.W_OK);
    if (read && write) continue;
    const user = userName(stat.uid);
    problems.push({
      path: p,
      role,
      missing: read ? 'write' : role === 'folder' ? 'enter and write' : 'read and write',
      user,
      owner: `owned by ${user}, mode ${(stat.mode & 0o7777).toString(8).padStart(4, '0')}`,
    });
  }
  return problems;
}

const ROLE: Record<SqliteAccessProblem['role'], string> = {
  database: 'the database file',
  folder: 'the folder that holds it, where SQLite creates and deletes its -journal, -wal and -shm files',
  journal: 'the rollback journal of a write left unfinished',
  wal: 'the WAL log',
  shm: "the WAL log's shared-memory index",
};

/** Who owns the files in the way, named once each: `root or postgres`. */
function ownersOf(problems: SqliteAccessProblem[]): string {
  return [...new Set(problems.map((p) => p.user))].join(' or ');
}

/** `cannot write /x/gpustack_ui.db-shm (the WAL log's shared-memory index; owned by root, mode 0644)`, joined. */
function describeProblems(problems: SqliteAccessProblem[]): string {
  return problems.map((p) => `cannot ${p.missing} ${p.path} (${ROLE[p.role]}; ${p.owner})`).join(', and ');
}

function listPaths(problems: SqliteAccessProblem[]): string {
  return problems.map((p) => p.path).join(', ');
}

/**
 * Why this user cannot write the database, naming the file or folder in the
 * way and what permission is missing, with what to do; null when every one
 * of them is writable (the cause is then elsewhere).
 */
export function sqliteUnwritable(file: string): { message: string; hint: string } | null {
  const problems = sqliteAccessProblems(file);
  if (problems.length === 0) return null;
  const owners = ownersOf(problems);
  return {
    message: `SQLite cannot write to ${file}: this user ${describeProblems(problems)}.`,
    hint:
      `Give the user running authctl read and write access to ${listPaths(problems)} (chown or chmod), or run authctl as ${owners}. ` +
      'The -wal and -shm files belong to whoever opened the database first: they must be writable by every user that writes the database, the app\'s user included.',
  };
}

/** What keeps this user from rolling a leftover journal back: the file, the journal or the folder. */
function rollbackProblems(file: string): SqliteAccessProblem[] {
  return sqliteAccessProblems(file).filter((p) => p.role === 'database' || p.role === 'journal' || p.role === 'folder');
}

function unfinishedWriteError(file: string) {
  const journal = `${path.basename(file)}-journal`;
  const problems = rollbackProblems(file);
  if (problems.length === 0) {
    return databaseError(
      'DATABASE_READ_ONLY',
      `${file} has a write left unfinished by a process that stopped (${journal}), and this user cannot undo it: that needs write access to the file and its folder. Nothing was read or changed.`,
      'Run any authctl command (or start the app) once as a user that can write both; SQLite then rolls the unfinished write back.',
    );
  }
  const owners = ownersOf(problems);
  return databaseError(
    'DATABASE_READ_ONLY',
    `${file} has a write left unfinished by a process that stopped (${journal}), and this user cannot undo it: ` +
      `rolling it back writes the database file, reads and then deletes ${journal}, and this user ${describeProblems(problems)}. Nothing was read or changed.`,
    `Run any authctl command (or start the app) once as a user that can write ${listPaths(problems)}, such as ${owners}; SQLite then rolls the unfinished write back and removes ${journal}. ` +
      `Or give this user write access to ${listPaths(problems)}.`,
  );
}

/** A rollback journal beside the file that is not empty: a write left unfinished, or one under way. */
function hasJournal(file: string): boolean {
  try {
    return fs.statSync(`${file}-journal`).size > 0;
  } catch {
    return false;
  }
}

function sqliteOpenError(file: string, err: unknown) {
  const message = err instanceof Error ? err.message : String(err);
  const code = String((err as { code?: unknown } | null)?.code ?? '');
  const accessCode = /^SQLITE_(IOERR|CANTOPEN|READONLY)/.test(code);
  const accessMessage = /readonly|permission|EACCES|unable to open/i.test(message);
  // Rolling a leftover journal back failed (it could not be read, or not be
  // deleted afterwards): say which file or folder is in the way.
  if (accessCode && hasJournal(file) && rollbackProblems(file).length > 0) {
    return unfinishedWriteError(file);
  }
  if (code.startsWith('SQLITE_CORRUPT')) return toAuthctlError(err);
  if (/not a database|file is encrypted/i.test(message)) {
    return databaseError('DATABASE_INVALID', `${file} is not a SQLite database.`, 'Check DATABASE_URL (or -d).');
  }
  if (/locked|busy/i.test(message)) {
    return databaseError('DATABASE_LOCKED', `${file} stayed locked for more than ${BUSY_TIMEOUT_MS / 1000}s.`, 'Another process holds a long write lock; try again shortly.');
  }
  const unwritable = accessCode || accessMessage ? sqliteUnwritable(file) : null;
  if (unwritable) return databaseError('DATABASE_UNREADABLE', `Cannot open ${file}: ${message}. ${unwritable.message}`, unwritable.hint);
  if (accessMessage) {
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
  // The copy holds every password hash and live session token. Its file is
  // created here, 0600 and exclusively (never through a link planted at the
  // predictable name, never over anything), before SQLite writes a page into
  // it; a name taken by anything, its -journal's included, is skipped.
  for (let i = 0; ; i++) {
    const target = i === 0 ? `${file}.bak-${stamp}` : `${file}.bak-${stamp}-${i}`;
    if (present(`${target}-journal`)) continue;
    let fd: number;
    try {
      fd = fs.openSync(target, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, 0o600);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') continue;
      throw err;
    }
    try {
      fs.fchmodSync(fd, 0o600);
    } finally {
      fs.closeSync(fd);
    }
    try {
      await db.backup(target);
    } catch (err) {
      // SQLite removes a failed copy only from a file it created itself: this one is authctl's, so it goes here.
      for (const side of [target, `${target}-journal`]) fs.rmSync(side, { force: true });
      throw err;
    }
    return target;
  }
}

/** What stands at a path, without following a link; undefined when nothing does. */
export function entryAt(file: string): fs.Stats | undefined {
  try {
    return fs.lstatSync(file);
  } catch {
    return undefined;
  }
}

/** Whether anything is at the path, a dangling link included. */
export function present(file: string): boolean {
  return entryAt(file) !== undefined;
}

/**
 * The file a database path leads to, so that two runs reaching one file by
 * different paths (a symlink to it or to its folder, `./` against an absolute
 * path) share one lock, also while one of them is still creating it.
 * SQLite itself resolves symlinks the same way before naming its -wal.
 */
export function realFile(file: string): string {
  try {
    return fs.realpathSync(file);
  } catch {
    // Not created yet (init-db): its folder, resolved, and its name.
    try {
      return path.join(fs.realpathSync(path.dirname(file)), path.basename(file));
    } catch {
      return file;
    }
  }
}
