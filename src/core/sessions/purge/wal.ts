import fs from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { isSqliteBusy, type SqliteDb } from '../../db/sqlite.js';

/**
 * Before the WAL would grow past this, the next batch waits for the
 * checkpointer to catch up first, so that its commit starts the log over from
 * the beginning. SQLite restarts the log only when a writer begins with every
 * frame already copied back; while the app writes between batches that moment
 * never comes on its own, and a large purge grew the log to many times the
 * database's size. A restart costs one wait for the checkpointer (a batch's
 * copy and the flush of the database file, 160 to 250 ms), so this trades disk
 * for speed: at 256 MB the waits were 12 to 15% of a large purge's time.
 * The log ends up a batch or two past this (470 to 550 MB in the benchmark),
 * which the end of the purge frees again in steps that fit the lock budget
 * (shrinkWal).
 */
export const WAL_RESTART_BYTES = 448 * 1024 * 1024;

/**
 * Switches the file to WAL. SQLite reads the header before it takes the write
 * lock for this, and a connection that holds a read lock while the app is in
 * the middle of a commit gets SQLITE_BUSY at once rather than waiting (waiting
 * could deadlock). So while the app writes, the switch is retried for as long
 * as any other statement would wait.
 */
export async function switchToWal(db: SqliteDb, waitMs: number): Promise<boolean> {
  const deadline = performance.now() + waitMs;
  for (;;) {
    try {
      return String(db.pragma('journal_mode = WAL', { simple: true })).toLowerCase() === 'wal';
    } catch (err) {
      if (!isSqliteBusy(err) || performance.now() > deadline) throw err;
      await sleep(5 + Math.random() * 20);
    }
  }
}

/** The -wal file's size; 0 when there is none. */
function walBytes(file: string): number {
  try {
    return fs.statSync(`${file}-wal`).size;
  } catch {
    return 0;
  }
}

/** A row of PRAGMA wal_checkpoint: whether it was kept from its work, the frames in the log, and how many are copied back. */
export type WalCheckpoint = { busy: number; log: number; checkpointed: number };

/**
 * Copies what is left into the database file and shrinks the -wal file back
 * to nothing. SQLite does this under the write lock, after waiting for the
 * app's readers to leave the log, so it runs only when the expected time (at
 * `bytesPerMs`) fits the purge's lock budget, and waits for the app no longer
 * than what is left of it. Returns false when it did not run or the app kept
 * the log busy.
 */
function truncateWal(db: SqliteDb, size: number, lockBudgetMs: number, bytesPerMs: number): boolean {
  const waitMs = Math.floor(Math.min(TRUNCATE_WAIT_MS, lockBudgetMs - size / bytesPerMs));
  if (waitMs < 1) return false;
  const previous = Number(db.pragma('busy_timeout', { simple: true }));
  db.pragma(`busy_timeout = ${waitMs}`);
  try {
    // A busy log is reported in the result, not thrown: then it stays as it is.
    const [result] = db.pragma('wal_checkpoint(TRUNCATE)') as WalCheckpoint[];
    return !result?.busy;
  } finally {
    db.pragma(`busy_timeout = ${previous}`);
  }
}

/**
 * Gives the -wal file's disk space back at the end of a purge, in steps that
 * each fit the lock budget. Freeing a file takes time in proportion to its
 * size (3 to 5 MB per ms measured on one machine, on different days), and
 * SQLite frees the log under the write lock: in one go, the 480 MB a large
 * purge leaves took 157 to 173 ms there, and a login that queued as it began
 * waited up to 233 ms. It got in at the busy handler's retry at 228 ms; one
 * that misses it waits until 328 ms.
 *
 * SQLite shortens the log to `journal_size_limit` at the first commit after
 * the log starts over, and it starts over when a write begins with
 * everything in it copied back. So each step copies what is there, lowers
 * the limit by what the budget allows at the speed measured so far (a slow
 * disk's speed for the first step), and commits a write that changes
 * nothing: it sets user_version to the value it has, which rewrites the
 * database header page and nothing else. The last step, once the rest fits,
 * truncates the file to nothing; when the app's writer keeps it from that,
 * a step takes the file down to the one page it writes. A step that frees
 * nothing (an app reader was still in the log) is retried after the usual
 * gap, a few times; then the file keeps the size it has, and is reused.
 */
export async function shrinkWal(db: SqliteDb, file: string, lockBudgetMs: number, gapMs: number): Promise<void> {
  const limit = Number(db.pragma('journal_size_limit', { simple: true }));
  const userVersion = Number(db.pragma('user_version', { simple: true }));
  const begin = db.prepare('BEGIN IMMEDIATE');
  const commit = db.prepare('COMMIT');
  /**
   * Commits a write that changes nothing; returns how long it held the
   * lock. The wait for the app's writer before it is not the file system's
   * speed, and counting it made the steps shrink to nothing on a busy disk.
   */
  const touch = (): number => {
    begin.run();
    const start = performance.now();
    try {
      db.pragma(`user_version = ${userVersion}`);
      commit.run();
    } catch (err) {
      if (db.inTransaction) db.exec('ROLLBACK');
      throw err;
    }
    return performance.now() - start;
  };
  let bytesPerMs = FIRST_BYTES_PER_MS;
  try {
    let fruitless = 0;
    for (let step = 0; step < MAX_STEPS && fruitless < MAX_FRUITLESS; step++) {
      const size = walBytes(file);
      if (size === 0) return;
      const stepBytes = Math.floor(bytesPerMs * lockBudgetMs * STEP_SHARE);
      const last = size <= stepBytes;
      if (last && truncateWal(db, size, lockBudgetMs, bytesPerMs)) return;
      // A step; or, when the truncation found the app's writer in a commit
      // (a commit that waits on a slow disk can outlast the wait the budget
      // allows it), the same step down to nothing: it waits for that commit
      // and then holds the lock only as long as a step.
      const [copied] = db.pragma('wal_checkpoint(PASSIVE)') as WalCheckpoint[];
      let freed = 0;
      if (copied && !copied.busy && copied.checkpointed === copied.log) {
        db.pragma(`journal_size_limit = ${last ? 0 : size - stepBytes}`);
        const heldMs = touch();
        freed = size - walBytes(file);
        if (freed > 0) bytesPerMs = Math.min(bytesPerMs * 2, freed / Math.max(1, heldMs));
      }
      if (freed <= 0) fruitless++;
      await sleep(gapMs);
    }
  } finally {
    db.pragma(`journal_size_limit = ${limit}`);
  }
}

/** Steps shrinkWal takes at most (a very short --max-lock needs many), and how many may free nothing. */
const MAX_STEPS = 64;
const MAX_FRUITLESS = 4;
/** Each step aims at this share of the lock budget, the rest being the commit and the app's wait for the lock. */
const STEP_SHARE = 0.5;
/** The longest the final log truncation waits for the app's transactions. */
const TRUNCATE_WAIT_MS = 100;
/** What the first step assumes the file system frees per ms: slower than any disk measured. */
const FIRST_BYTES_PER_MS = 1024 * 1024;
