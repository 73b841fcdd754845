import fs from 'node:fs';
import Database from 'better-sqlite3';
import type { DatabaseTarget } from '../config/config.js';
import { entryAt, isSqliteBusy, realFile } from '../db/sqlite.js';
import { cancelled, databaseError } from '../errors/errors.js';
import { busyError, type JobLock, type LockedJob } from './job.js';

export type { JobLock, LockedJob } from './job.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** How long a busy lock is tried again however long the job may wait: runs that collide clear in microseconds. */
const RACE_GRACE_MS = 60;

/** The lock file is the one still at its path: not unlinked by a holder that has just finished. */
function stillLinked(file: string, fd: number): boolean {
  try {
    const here = fs.statSync(file);
    const mine = fs.fstatSync(fd);
    return here.ino === mine.ino && here.dev === mine.dev;
  } catch {
    return false;
  }
}

function notALockFile(file: string, what: string): Error {
  return databaseError(
    'LOCK_FILE_INVALID',
    `${file} is ${what}, where authctl keeps a lock file of its own; it does not open it.`,
    'authctl creates that file itself and removes it when the job ends: remove what is there (check who put it there first).',
  );
}

/**
 * Opens (creating it if need be) the lock file, which must be a plain file:
 * never through a symbolic link (a job run by root would create or lock a
 * file wherever the link points), never a FIFO (opening one waits for a
 * writer, past SIGTERM), never a folder. Its -journal is checked the same
 * way, since SQLite writes it beside. A lock file this user may not open
 * belongs to another user's run, held or left behind, which cannot be told
 * apart from here: exit 5, naming its owner (below).
 */
function openLockFile(file: string, job: LockedJob, database: string): number {
  for (const side of [file, `${file}-journal`]) {
    const entry = entryAt(side);
    if (!entry || entry.isFile()) continue;
    throw notALockFile(side, entry.isSymbolicLink() ? 'a symbolic link' : entry.isDirectory() ? 'a folder' : entry.isFIFO() ? 'a FIFO' : 'not a regular file');
  }
  const { O_WRONLY, O_APPEND, O_CREAT, O_NOFOLLOW, O_NONBLOCK } = fs.constants;
  let fd: number;
  try {
    fd = fs.openSync(file, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_NONBLOCK, 0o600);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ELOOP') throw notALockFile(file, 'a symbolic link');
    // A FIFO put there after the check: opening it for writing without a reader fails at once.
    if (code === 'ENXIO') throw notALockFile(file, 'a FIFO');
    // A lock file another user made (not a folder this user cannot create it in, which is mapped as read-only).
    // Whether that user's run holds it cannot be told from here, so it is not "busy": exit 75 would let a
    // cron wrapper skip every run behind a file a killed run left.
    const owner = entryAt(file)?.uid;
    if ((code === 'EACCES' || code === 'EPERM') && owner !== undefined && owner !== process.getuid?.()) {
      throw databaseError(
        'LOCK_FILE_FOREIGN',
        `The ${job} lock ${file} belongs to another user (uid ${owner}), and this user cannot open it: a ${job} running as that user holds it, or one it ran was killed and left it.`,
        `Run authctl as the user that runs the other ${job}s (usually the database's owner); if no ${job} is running, that user or root may remove the file.`,
      );
    }
    throw err;
  }
  const stat = fs.fstatSync(fd);
  if (!stat.isFile()) {
    fs.closeSync(fd);
    throw notALockFile(file, 'not a regular file');
  }
  giveToDatabaseOwner(fd, database, stat);
  return fd;
}

/**
 * Root's run (cron's, typically) hands a lock file it made to the owner of
 * the database beside it, so that a file a killed root run leaves does not
 * lock the database's owner out of the job afterwards.
 */
function giveToDatabaseOwner(fd: number, database: string, stat: fs.Stats): void {
  if (process.getuid?.() !== 0 || stat.uid !== 0) return;
  try {
    const owner = fs.statSync(database);
    if (owner.uid !== 0) fs.fchownSync(fd, owner.uid, owner.gid);
  } catch {
    // No database file yet (init-db), or it cannot be read: the file stays root's.
  }
}

/**
 * Keeps two runs of the same job apart. On SQLite the lock is an exclusive
 * transaction on a small side file: the operating system drops it the moment
 * its holder dies, so a crashed run never leaves a stale lock behind.
 *
 * The holder removes the side file before it lets go, so nothing stays next
 * to the database. A waiter may then win the lock on the removed file; it
 * notices, because the file it holds open is no longer the one at the path
 * (checked on a descriptor opened before SQLite's own, which therefore names
 * the same file whenever it is still linked there), and starts over.
 *
 * `waitMs` is how long to wait for the holder (0: fail at once, after the
 * RACE_GRACE_MS retry; Infinity: as long as it takes); after that the job
 * fails as busy (exit 75). Aborting `signal` (Ctrl+C while waiting) gives up
 * at once as cancelled (exit 130).
 */
export async function acquireJobLock(target: DatabaseTarget, job: LockedJob, waitMs: number, signal?: AbortSignal): Promise<JobLock> {
  if (target.provider !== 'sqlite') {
    const { acquireAdvisoryLock } = await import('./pg-advisory.js');
    return acquireAdvisoryLock(target, job, waitMs, signal);
  }
  const database = realFile(target.file);
  const lockFile = `${database}.authctl-${job}.lock`;
  const deadline = Date.now() + waitMs;
  // A run that starts at the very moment another does can make both fail
  // (each holds the file's shared lock while the other asks for the
  // exclusive one): measured, both exited 75 in 6 of 20 pairs started
  // together. A holder keeps the lock for its whole job, so a busy lock is
  // tried again for a moment, at jittered times, even when the job must not
  // wait.
  const raceDeadline = Date.now() + RACE_GRACE_MS;
  for (;;) {
    const fd = openLockFile(lockFile, job, database);
    const db = new Database(lockFile, { timeout: 0 });
    const close = () => {
      db.close();
      fs.closeSync(fd);
    };
    try {
      db.exec('BEGIN EXCLUSIVE');
    } catch (err) {
      close();
      if (!isSqliteBusy(err)) throw err;
      if (signal?.aborted) throw cancelled();
      if (Date.now() < raceDeadline) {
        await sleep(2 + Math.random() * 10);
        continue;
      }
      if (Date.now() >= deadline) throw busyError(job);
      await sleep(Math.min(200, Math.max(10, deadline - Date.now())));
      continue;
    }
    if (!stillLinked(lockFile, fd)) {
      db.exec('ROLLBACK');
      close();
      continue;
    }
    let held = true;
    const releaseNow = () => {
      if (!held) return;
      held = false;
      process.off('exit', releaseNow);
      try {
        // Removed while still held, so no one can win it on the old file and keep it.
        try {
          fs.rmSync(lockFile, { force: true });
        } catch {
          // A folder that became read-only keeps the empty file; the lock itself still goes.
        }
        // Ends the transaction, which removes its -journal.
        db.exec('ROLLBACK');
      } finally {
        close();
      }
    };
    // A run cancelled by Ctrl+C, SIGTERM or SIGHUP ends with process.exit,
    // past the command's own release: the side files go then too.
    process.on('exit', releaseNow);
    return {
      async release() {
        releaseNow();
      },
    };
  }
}
