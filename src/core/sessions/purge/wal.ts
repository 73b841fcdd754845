import fs from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { SqliteDb } from '../../db/sqlite.js';

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
 * which the final truncation can still free within the lock budget
 * (truncateWal: about 4 MB per ms).
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
      if ((err as { code?: unknown }).code !== 'SQLITE_BUSY' || performance.now() > deadline) throw err;
      await sleep(5 + Math.random() * 20);
    }
  }
}

/**
 * Copies what is left into the database file and shrinks the -wal file back
 * to nothing. SQLite does this under the write lock, after waiting for the
 * app's readers to leave the log, so it runs only when the expected time fits
 * the purge's lock budget, and waits for the app no longer than what is left
 * of it. When it cannot, the log keeps its size and is reused. Returns false
 * when the app kept it busy and a later attempt may succeed.
 */
export function truncateWal(db: SqliteDb, file: string, lockBudgetMs: number): boolean {
  let walBytes = 0;
  try {
    walBytes = fs.statSync(`${file}-wal`).size;
  } catch {
    return true;
  }
  if (walBytes === 0) return true;
  const waitMs = Math.floor(Math.min(TRUNCATE_WAIT_MS, lockBudgetMs - walBytes / TRUNCATE_BYTES_PER_MS));
  if (waitMs < 1) return true;
  const previous = Number(db.pragma('busy_timeout', { simple: true }));
  db.pragma(`busy_timeout = ${waitMs}`);
  try {
    // A busy log is reported in the result, not thrown: then it stays as it is.
    const [result] = db.pragma('wal_checkpoint(TRUNCATE)') as Array<{ busy: number }>;
    return !result?.busy;
  } finally {
    db.pragma(`busy_timeout = ${previous}`);
  }
}

/** The longest the final log truncation waits for the app's transactions. */
const TRUNCATE_WAIT_MS = 100;
/** How fast the file system frees a truncated file: 4.4 to 5.2 MB per ms measured here. */
const TRUNCATE_BYTES_PER_MS = 4 * 1024 * 1024;
