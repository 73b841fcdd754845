import Database from 'better-sqlite3';
import type { DatabaseTarget } from './config.js';
import { busy, cancelled } from './errors.js';

export type LockedJob = 'migrate' | 'purge' | 'sync';

export interface JobLock {
  release(): Promise<void>;
}

export function busyError(job: LockedJob) {
  return busy(
    `Another authctl ${job} is running on this database.`,
    job === 'purge' ? 'Let it finish, or pass --wait to queue behind it.' : 'Let it finish, then run this again.',
  );
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Keeps two runs of the same job apart. On SQLite the lock is an exclusive
 * transaction on a small side file: the operating system drops it the moment
 * its holder dies, so a crashed run never leaves a stale lock behind.
 *
 * `waitMs` is how long to wait for the holder (0: fail at once, Infinity: as
 * long as it takes); after that the job fails as busy (exit 75). Aborting
 * `signal` (Ctrl+C while waiting) gives up at once as cancelled (exit 130).
 */
export async function acquireJobLock(target: DatabaseTarget, job: LockedJob, waitMs: number, signal?: AbortSignal): Promise<JobLock> {
  if (target.provider !== 'sqlite') {
    const { acquireAdvisoryLock } = await import('./db/pg-lock.js');
    return acquireAdvisoryLock(target, job, waitMs, signal);
  }
  const lockFile = `${target.file}.authctl-${job}.lock`;
  const db = new Database(lockFile, { timeout: 0 });
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      db.exec('BEGIN EXCLUSIVE');
      return {
        async release() {
          try {
            db.exec('ROLLBACK');
          } finally {
            db.close();
          }
        },
      };
    } catch (err) {
      if ((err as { code?: string }).code !== 'SQLITE_BUSY') {
        db.close();
        throw err;
      }
      if (Date.now() >= deadline || signal?.aborted) {
        db.close();
        throw signal?.aborted ? cancelled() : busyError(job);
      }
      await sleep(Math.min(200, Math.max(10, deadline - Date.now())));
    }
  }
}
