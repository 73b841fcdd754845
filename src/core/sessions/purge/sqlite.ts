import { setTimeout as sleep } from 'node:timers/promises';
import { writeAuditSqlite } from '../../audit/write.js';
import { BUSY_TIMEOUT_MS, isSqliteBusy, openSqlite } from '../../db/sqlite.js';
import { sqliteBefore, sqliteKnown } from '../../time/timestamps.js';
import { Checkpointer } from './checkpointer.js';
import { CpuWaitClock } from './cpu-wait.js';
import { BatchPacer, GAP_MS } from './pacer.js';
import { stoppedError, type PurgeInput, type PurgeResult } from './shared.js';
import { shrinkWal, switchToWal, WAL_RESTART_BYTES, type WalCheckpoint } from './wal.js';

interface CountingDb {
  prepare(sql: string): { pluck(): { get(...params: unknown[]): unknown } };
}

function countExpiredSqlite(db: CountingDb, cutoff: Date): number {
  const cond = sqliteBefore('expires_at', cutoff);
  return Number(db.prepare(`SELECT count(*) FROM user_sessions WHERE ${cond.sql}`).pluck().get(...cond.params));
}

/** Sessions whose expiry is in no form authctl can compare: never deleted, only counted. */
function countUnknownSqlite(db: CountingDb): number {
  return Number(db.prepare(`SELECT count(*) FROM user_sessions WHERE NOT ${sqliteKnown('expires_at')}`).pluck().get());
}

/** The dry run's counts, on a read-only handle: what a purge with this cutoff would delete, and skip. */
export function countSqlite(file: string, cutoff: Date): { expired: number; skipped: number } {
  const db = openSqlite(file, { readonly: true });
  try {
    return { expired: countExpiredSqlite(db, cutoff), skipped: countUnknownSqlite(db) };
  } finally {
    db.close();
  }
}

/** Between two attempts at the write lock while one of the app's writes holds it. */
const LOCK_POLL_MS = 1;

/**
 * Begins a batch's write transaction, waiting for the app's writer as long
 * as any statement would (BUSY_TIMEOUT_MS). SQLite's own busy handler would
 * retry after 1, 2, 5 and 10 ms: a login's commit of 3 ms would cost the
 * purge 8, and a few ms on every one of hundreds of batches. This retries
 * every ms instead, without the connection's handler (its busy timeout is 0
 * while the purge's batches run). Returns how long it waited, or undefined
 * when the signal stopped the wait (the lock is then not taken).
 */
async function takeWriteLock(begin: { run(): unknown }, signal: AbortSignal | undefined): Promise<number | undefined> {
  const start = performance.now();
  for (;;) {
    try {
      begin.run();
      return performance.now() - start;
    } catch (err) {
      if (!isSqliteBusy(err) || performance.now() - start >= BUSY_TIMEOUT_MS) throw err;
    }
    await sleep(LOCK_POLL_MS);
    // Ctrl+C while waiting: stop before the batch, not after it.
    if (signal?.aborted) return undefined;
  }
}

/**
 * The SQLite hot path, on a raw better-sqlite3 handle: Prisma's per-query
 * overhead would eat into each transaction's time budget.
 *
 * Why WAL: in the rollback-journal mode the app starts in, every commit
 * fsyncs a journal and the database and locks out the app's readers while it
 * writes, so thousands of short transactions would be both slow and visible to
 * users. In WAL mode a commit only appends pages to the log, readers are never
 * blocked, and the expensive part (the checkpoint) runs outside the write
 * lock. WAL is a persistent property of the file; the app's SQLite handles it
 * transparently as long as the file is on a local disk, which it must be for
 * SQLite anyway. So the first real purge switches the file to WAL and says so.
 *
 * Each batch is one short write transaction. The checkpoint that copies it
 * into the database file runs on a worker thread, overlapping the next batch
 * (see checkpoint-worker.ts). Before the log reaches WAL_RESTART_BYTES the
 * loop waits for the checkpointer so that the next batch starts it over, and
 * at the end it shrinks the log in steps, so no oversized -wal file is left
 * behind.
 */
export async function purgeSqlite(file: string, cutoff: Date, input: PurgeInput): Promise<PurgeResult> {
  const started = performance.now();
  const db = openSqlite(file);
  let checkpointer: Checkpointer | undefined;
  // What the machine's scheduler takes from each hold, so that the pacer sees a slow commit coming.
  const cpuClock = new CpuWaitClock();
  try {
    let switchedToWal = false;
    if (String(db.pragma('journal_mode', { simple: true })).toLowerCase() !== 'wal') {
      switchedToWal = await switchToWal(db, BUSY_TIMEOUT_MS);
    }
    // This connection's commits skip the fsync; WAL stays consistent across a
    // power cut, and the worst case is that the last few deletions of expired
    // rows are undone. The checkpoint still syncs before the log is reused.
    // (FULL would flush each batch's log inside the write lock, sparing the
    // app's next commit that flush, but made the purge about 20% slower.)
    db.pragma('synchronous = NORMAL');
    // Checkpoints are run by the checkpointer, outside the write lock.
    db.pragma('wal_autocheckpoint = 0');
    db.pragma('cache_size = -131072');
    db.pragma('temp_store = MEMORY');
    const pageSize = Number(db.pragma('page_size', { simple: true })) || 4096;
    const walRestartFrames = Math.floor(WAL_RESTART_BYTES / (pageSize + 24));

    const cond = sqliteBefore('expires_at', cutoff);
    const total = countExpiredSqlite(db, cutoff);
    const begin = db.prepare('BEGIN IMMEDIATE');
    const commit = db.prepare('COMMIT');
    const rollback = db.prepare('ROLLBACK');
    // The expires_at index finds expired rows; deleting by rowid touches each
    // row once. The rows are picked first and then deleted by id, in the same
    // transaction: with the expiry check (which calls julianday() and
    // friends) inside the DELETE's own subquery, SQLite spent about twice the
    // CPU per batch (measured on 160,000 rows).
    const pickChunk = db.prepare(`SELECT id FROM user_sessions WHERE ${cond.sql} LIMIT ?`).pluck();
    const deleteIds = db.prepare('DELETE FROM user_sessions WHERE id IN (SELECT value FROM json_each(?))');
    const catchUp = db.prepare<[], WalCheckpoint>('PRAGMA wal_checkpoint(PASSIVE)');
    if (total > 0) checkpointer = new Checkpointer(file, BUSY_TIMEOUT_MS);

    const pacer = new BatchPacer(input.maxLockMs);
    let deleted = 0;
    let batches = 0;
    let finished = total === 0;
    // An error after this point is reported with what was done before it,
    // and the audit row is still written: deletions already committed stay.
    let failure: unknown;
    // takeWriteLock waits for the app's writer itself.
    db.pragma('busy_timeout = 0');
    try {
      while (!finished && !input.signal?.aborted) {
        const lockWaitMs = await takeWriteLock(begin, input.signal);
        if (lockWaitMs === undefined) break;
        const lockedAt = performance.now();
        const waitedAtLock = cpuClock.waitedMs();
        let rows = 0;
        let commitMs = 0;
        let syncingAtCommit = false;
        try {
          for (;;) {
            const elapsedMs = performance.now() - lockedAt;
            const cpuWaitMs = cpuClock.waitedSince(waitedAtLock);
            const chunk = pacer.nextChunk(rows, elapsedMs, input.batchSize - rows, checkpointer?.syncing, cpuWaitMs);
            if (chunk === 0) break;
            const chunkStart = performance.now();
            const ids = pickChunk.all(...cond.params, chunk) as number[];
            const changes = ids.length ? deleteIds.run(JSON.stringify(ids)).changes : 0;
            pacer.chunkDone(changes, performance.now() - chunkStart);
            rows += changes;
            if (ids.length < chunk) {
              finished = true;
              break;
            }
          }
          syncingAtCommit = checkpointer?.syncing ?? false;
          const commitStart = performance.now();
          commit.run();
          commitMs = performance.now() - commitStart;
        } catch (err) {
          if (db.inTransaction) rollback.run();
          throw err;
        }
        const committedAt = performance.now();
        const gapMs = pacer.committed(rows, committedAt - lockedAt, commitMs, syncingAtCommit, lockWaitMs);
        deleted += rows;
        batches++;
        // Start copying this batch at once: the checkpointer must hold the
        // checkpoint lock before the app's next commit would start its own.
        checkpointer?.request();
        input.onProgress?.({ deleted, total });
        if (finished) break;
        // Before the log would pass WAL_RESTART_BYTES, let it start over:
        // everything in it must be in the database file when the next batch
        // begins. Waiting for the checkpointer overlaps the pause, which the
        // lock is free for anyway.
        const restart = checkpointer !== undefined && checkpointer.expectedFrames() + checkpointer.walGrowth > walRestartFrames;
        const pause = sleep(Math.max(0, gapMs - (performance.now() - committedAt)));
        if (restart) {
          await Promise.all([pause, checkpointer!.idle()]);
          if (input.signal?.aborted) break;
          // Copy what the app added since, too; its own checkpoint may hold
          // the checkpoint lock for a moment.
          let busy = true;
          for (let attempt = 0; attempt < 5 && busy; attempt++) {
            busy = Boolean(catchUp.get()?.busy);
            if (busy) await sleep(2);
          }
          if (!busy) checkpointer!.walFrames = 0;
        } else {
          await pause;
        }
      }
    } catch (err) {
      failure = err;
    }
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    const interrupted = !finished && failure === undefined && Boolean(input.signal?.aborted);
    if (checkpointer && failure === undefined) {
      try {
        await checkpointer.idle();
        await sleep(GAP_MS);
        await shrinkWal(db, file, pacer.budgetMs, GAP_MS);
      } catch (err) {
        failure = err;
      }
    }
    const counted = (count: () => number): number | null => {
      try {
        return count();
      } catch (err) {
        if (failure === undefined) throw err;
        return null;
      }
    };
    const remaining = counted(() => countExpiredSqlite(db, cutoff));
    const skipped = counted(() => countUnknownSqlite(db)) ?? 0;
    const ms = Math.round(performance.now() - started);
    const error = failure === undefined ? undefined : stoppedError(failure, deleted);
    let audited = true;
    try {
      db.transaction(() => {
        writeAuditSqlite(db, {
          command: 'sessions purge',
          target: `sessions expired before ${cutoff.toISOString()}`,
          summary: `purged ${deleted} expired session(s) in ${batches} batch(es)${interrupted ? ', interrupted' : ''}${error ? `, stopped by ${error.code}` : ''}`,
          details: {
            deleted, remaining, skipped, batches, ms, graceMs: input.graceMs, maxLockMs: input.maxLockMs, interrupted, switchedToWal,
            ...(error ? { error: error.code } : {}),
          },
        });
      }).immediate();
    } catch (err) {
      // After a failure the audit row is written if the database lets it;
      // the run's own error is the one to report.
      if (!error) throw err;
      audited = false;
    }
    if (!error) catchUp.get();
    return { dryRun: false, cutoff: cutoff.toISOString(), deleted, remaining, batches, ms, interrupted, switchedToWal, skipped, error, audited };
  } finally {
    try {
      await checkpointer?.close();
    } finally {
      cpuClock.close();
      db.close();
    }
  }
}
