import { setTimeout as sleep } from 'node:timers/promises';
import { writeAuditSqlite } from '../audit.js';
import type { DatabaseTarget } from '../config.js';
import { acquireJobLock } from '../lock.js';
import { sqliteBefore } from '../timestamps.js';

export interface PurgeInput {
  /** Only sessions that expired longer ago than this are deleted. */
  graceMs: number;
  /** Upper bound on rows deleted in one transaction. */
  batchSize: number;
  /** Upper bound on how long one transaction may hold the database's write lock. */
  maxLockMs: number;
  /** Wait for another purge to finish instead of failing busy. */
  wait: boolean;
  dryRun: boolean;
  /** Aborting stops the purge after the current batch; what was committed stays committed. */
  signal?: AbortSignal;
  onProgress?: (progress: { deleted: number; total: number }) => void;
  now?: Date;
}

export interface PurgeResult {
  dryRun: boolean;
  /** Sessions whose expiry is before this instant were the ones to delete. */
  cutoff: string;
  /** Deleted; with dryRun, how many would be. */
  deleted: number;
  /** Expired sessions (by the same cutoff) still in the table afterwards. */
  remaining: number;
  batches: number;
  ms: number;
  /** Set when a signal stopped the run early. */
  interrupted: boolean;
  /** SQLite only: the journal mode was switched to WAL by this run. */
  switchedToWal: boolean;
}

export const DEFAULT_BATCH_SIZE = 20_000;
export const DEFAULT_MAX_LOCK_MS = 200;

/**
 * After each commit the write lock stays free at least this long. SQLite's
 * default busy handler (the app's, and Python's) polls with sleeps that are at
 * most 50 ms apart during its first ~230 ms of waiting; a shorter gap lets a
 * waiting writer sleep through it and find the next batch holding the lock again.
 */
const GAP_MS = 50;

/**
 * Work plus the predicted commit aim at this share of --max-lock, leaving
 * room for the estimate being wrong: commit cost varies with the disk.
 */
export const LOCK_TARGET_SHARE = 0.7;

/** Rows per DELETE statement: small enough to stop close to the time budget. */
const MAX_CHUNK = 2000;
const FIRST_CHUNK = 250;
/**
 * Every batch deletes at least this many rows (a few milliseconds of work), so
 * a slow or busy machine still makes progress instead of paying the gap for
 * a handful of rows.
 */
const MIN_CHUNK = 100;

/**
 * Deletes every session whose expiry is before now minus the grace period,
 * in transactions bounded by time, under the purge job lock.
 */
export async function purgeExpiredSessions(target: DatabaseTarget, input: PurgeInput): Promise<PurgeResult> {
  const now = input.now ?? new Date();
  const cutoff = new Date(now.getTime() - input.graceMs);
  if (target.provider === 'sqlite') {
    const { assertSqliteReady } = await import('../db/open.js');
    assertSqliteReady(target.file);
  } else {
    const { assertReady } = await import('../db/open.js');
    await assertReady(target);
  }
  if (input.dryRun) return dryRun(target, cutoff);
  const lock = await acquireJobLock(target, 'purge', input.wait ? Number.POSITIVE_INFINITY : 0, input.signal);
  try {
    return target.provider === 'sqlite' ? await purgeSqlite(target.file, cutoff, input) : await (await import('./purge-pg.js')).purgePostgres(target, cutoff, input);
  } finally {
    await lock.release();
  }
}

async function dryRun(target: DatabaseTarget, cutoff: Date): Promise<PurgeResult> {
  const started = performance.now();
  let count: number;
  if (target.provider === 'sqlite') {
    const { openSqlite } = await import('../db/sqlite.js');
    const db = openSqlite(target.file, { readonly: true });
    try {
      count = countExpiredSqlite(db, cutoff);
    } finally {
      db.close();
    }
  } else {
    const { openClient } = await import('../db/client.js');
    const { before, Prisma } = await import('../db/sql.js');
    const client = await openClient(target);
    try {
      const rows = await client.$queryRaw<Array<{ n: number | bigint }>>(
        Prisma.sql`SELECT count(*) AS n FROM user_sessions WHERE ${before('postgresql', 'expires_at', cutoff)}`,
      );
      count = Number(rows[0]?.n ?? 0);
    } finally {
      await client.$disconnect();
    }
  }
  return {
    dryRun: true,
    cutoff: cutoff.toISOString(),
    deleted: count,
    remaining: count,
    batches: 0,
    ms: Math.round(performance.now() - started),
    interrupted: false,
    switchedToWal: false,
  };
}

interface CountingDb {
  prepare(sql: string): { pluck(): { get(...params: unknown[]): unknown } };
}

function countExpiredSqlite(db: CountingDb, cutoff: Date): number {
  const cond = sqliteBefore('expires_at', cutoff);
  return Number(db.prepare(`SELECT count(*) FROM user_sessions WHERE ${cond.sql}`).pluck().get(...cond.params));
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
 */
async function purgeSqlite(file: string, cutoff: Date, input: PurgeInput): Promise<PurgeResult> {
  const { openSqlite } = await import('../db/sqlite.js');
  const started = performance.now();
  const db = openSqlite(file);
  try {
    let switchedToWal = false;
    if (String(db.pragma('journal_mode', { simple: true })).toLowerCase() !== 'wal') {
      const mode = String(db.pragma('journal_mode = WAL', { simple: true })).toLowerCase();
      switchedToWal = mode === 'wal';
    }
    // This connection's commits skip the fsync; WAL stays consistent across a
    // power cut, and the worst case is that the last few deletions of expired
    // rows are undone. The checkpoint still syncs before the log is reused.
    db.pragma('synchronous = NORMAL');
    // Checkpoints are run explicitly after each batch, outside the write lock.
    db.pragma('wal_autocheckpoint = 0');
    db.pragma('cache_size = -131072');
    db.pragma('temp_store = MEMORY');

    const cond = sqliteBefore('expires_at', cutoff);
    const total = countExpiredSqlite(db, cutoff);
    const begin = db.prepare('BEGIN IMMEDIATE');
    const commit = db.prepare('COMMIT');
    const rollback = db.prepare('ROLLBACK');
    // The expires_at index finds expired rows; deleting by rowid touches each row once.
    const deleteChunk = db.prepare(
      `DELETE FROM user_sessions WHERE id IN (SELECT id FROM user_sessions WHERE ${cond.sql} LIMIT ?)`,
    );
    const checkpoint = db.prepare('PRAGMA wal_checkpoint(PASSIVE)');

    const targetMs = Math.max(1, input.maxLockMs * LOCK_TARGET_SHARE);
    // Learned per-row costs (ms), so each transaction fits the time budget.
    let workPerRow = 0.02;
    let commitPerRow = 0.01;
    let deleted = 0;
    let batches = 0;
    let finished = total === 0;
    while (!finished && !input.signal?.aborted) {
      const batchStart = performance.now();
      begin.run();
      let rows = 0;
      try {
        for (;;) {
          const elapsed = performance.now() - batchStart;
          const room = targetMs - elapsed - rows * commitPerRow;
          const wanted = rows === 0 && batches === 0 ? FIRST_CHUNK : Math.floor(room / (workPerRow + commitPerRow));
          const chunk = Math.min(MAX_CHUNK, input.batchSize - rows, rows === 0 ? Math.max(MIN_CHUNK, wanted) : wanted);
          if (chunk < 1 || (rows > 0 && chunk < MIN_CHUNK)) break;
          const chunkStart = performance.now();
          const changes = deleteChunk.run(...cond.params, chunk).changes;
          if (changes > 0) workPerRow = 0.5 * workPerRow + (0.5 * (performance.now() - chunkStart)) / changes;
          rows += changes;
          if (changes < chunk) {
            finished = true;
            break;
          }
        }
        const commitStart = performance.now();
        commit.run();
        // Lean towards the slowest recent commit: an overrun blocks the app, an underrun only costs a batch.
        if (rows > 0) commitPerRow = Math.max((performance.now() - commitStart) / rows, commitPerRow * 0.7);
      } catch (err) {
        if (db.inTransaction) rollback.run();
        throw err;
      }
      const committedAt = performance.now();
      deleted += rows;
      batches++;
      input.onProgress?.({ deleted, total });
      // Copy the batch into the database file now, while the lock is free, so
      // the app's next commit does not inherit the checkpoint work.
      checkpoint.run();
      if (!finished) await sleep(Math.max(0, GAP_MS - (performance.now() - committedAt)));
    }
    const interrupted = !finished && Boolean(input.signal?.aborted);
    const remaining = countExpiredSqlite(db, cutoff);
    const ms = Math.round(performance.now() - started);
    db.transaction(() => {
      writeAuditSqlite(db, {
        command: 'sessions purge',
        target: `sessions expired before ${cutoff.toISOString()}`,
        summary: `purged ${deleted} expired session(s) in ${batches} batch(es)${interrupted ? ', interrupted' : ''}`,
        details: { deleted, remaining, batches, ms, graceMs: input.graceMs, maxLockMs: input.maxLockMs, interrupted, switchedToWal },
      });
    }).immediate();
    checkpoint.run();
    return { dryRun: false, cutoff: cutoff.toISOString(), deleted, remaining, batches, ms, interrupted, switchedToWal };
  } finally {
    db.close();
  }
}
