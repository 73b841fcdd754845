import fs from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import { writeAuditSqlite } from '../../audit/write.js';
import { AuthctlError, databaseError } from '../../errors/errors.js';
import { toAuthctlError } from '../../errors/map.js';
import type { DatabaseTarget } from '../../config/config.js';
import type { SqliteDb } from '../../db/sqlite.js';
import { acquireJobLock } from '../../locks/job-lock.js';
import { sqliteBefore, sqliteKnown } from '../../time/timestamps.js';
import type { CheckpointReply, CheckpointRequest } from './checkpoint-worker.js';

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
  /** Expired sessions (by the same cutoff) still in the table afterwards; null when they could not be counted. */
  remaining: number | null;
  batches: number;
  ms: number;
  /** Set when a signal stopped the run early. */
  interrupted: boolean;
  /** SQLite only: the journal mode was switched to WAL by this run. */
  switchedToWal: boolean;
  /**
   * SQLite only: sessions left alone because their expires_at is in no
   * timestamp form authctl can read (an integer, other text).
   */
  skipped: number;
  /**
   * Set when an error stopped the run after it had begun deleting (another
   * writer's lock outlasting the wait, a disk error). What was committed
   * before stays committed and is reported above; the caller still fails
   * with this error's exit code.
   */
  error?: AuthctlError;
  /** Whether this run's audit row was written (it may not be, when the error also blocks that). */
  audited: boolean;
}

export const DEFAULT_BATCH_SIZE = 20_000;
export const DEFAULT_MAX_LOCK_MS = 200;

/**
 * After each commit the write lock stays free at least this long. SQLite's
 * default busy handler (the app's, and Python's) polls with sleeps of up to
 * 50 ms during its first ~230 ms of waiting, and a sleep can overrun by a few
 * milliseconds; a gap of exactly 50 ms let a waiting writer wake just after
 * the next batch had taken the lock again.
 */
const GAP_MS = 55;

/**
 * Work plus the predicted commit aim at this share of --max-lock, leaving
 * room for the estimate being wrong: commit cost varies with the disk.
 */
export const LOCK_TARGET_SHARE = 0.75;

/**
 * Before the WAL would grow past this, the next batch waits for the
 * checkpointer to catch up first, so that its commit starts the log over from
 * the beginning. SQLite restarts the log only when a writer begins with every
 * frame already copied back; while the app writes between batches that moment
 * never comes on its own, and a large purge grew the log to many times the
 * database's size. A restart costs one wait for the checkpointer, so this
 * trades disk for speed.
 */
const WAL_RESTART_BYTES = 256 * 1024 * 1024;

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
    const { assertSqliteReady } = await import('../../db/readiness.js');
    assertSqliteReady(target.file);
  } else {
    const { assertReady } = await import('../../db/readiness.js');
    await assertReady(target);
  }
  if (input.dryRun) return dryRun(target, cutoff);
  const lock = await acquireJobLock(target, 'purge', input.wait ? Number.POSITIVE_INFINITY : 0, input.signal);
  try {
    return target.provider === 'sqlite' ? await purgeSqlite(target.file, cutoff, input) : await (await import('./postgres.js')).purgePostgres(target, cutoff, input);
  } finally {
    await lock.release();
  }
}

async function dryRun(target: DatabaseTarget, cutoff: Date): Promise<PurgeResult> {
  const started = performance.now();
  let count: number;
  let skipped = 0;
  if (target.provider === 'sqlite') {
    const { openSqlite } = await import('../../db/sqlite.js');
    const db = openSqlite(target.file, { readonly: true });
    try {
      count = countExpiredSqlite(db, cutoff);
      skipped = countUnknownSqlite(db);
    } finally {
      db.close();
    }
  } else {
    const { openClient } = await import('../../db/client.js');
    const { before, Prisma } = await import('../../db/sql.js');
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
    skipped,
    audited: false,
  };
}

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

/**
 * The error that stopped a purge after it had begun, restated so that it
 * says what was already done; code and exit code are the original's.
 */
export function stoppedError(err: unknown, deleted: number): AuthctlError {
  const e = toAuthctlError(err);
  return new AuthctlError(
    e.code,
    `${e.message.replace(/\.?$/, '.')} The purge stopped after deleting ${deleted} expired session(s); those deletions are committed.`,
    e.exitCode,
    e.hint ?? 'Run `authctl sessions purge` again to finish.',
  );
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
 * at the end it truncates the log, so no oversized -wal file is left behind.
 */
async function purgeSqlite(file: string, cutoff: Date, input: PurgeInput): Promise<PurgeResult> {
  const { openSqlite, BUSY_TIMEOUT_MS } = await import('../../db/sqlite.js');
  const started = performance.now();
  const db = openSqlite(file);
  let checkpointer: Checkpointer | undefined;
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
    const catchUp = db.prepare<[], { busy: number }>('PRAGMA wal_checkpoint(PASSIVE)');
    if (total > 0) checkpointer = new Checkpointer(file, BUSY_TIMEOUT_MS);

    const targetMs = Math.max(1, input.maxLockMs * LOCK_TARGET_SHARE);
    // Learned per-row costs (ms), so each transaction fits the time budget.
    let workPerRow = 0.02;
    let commitPerRow = 0.01;
    let deleted = 0;
    let batches = 0;
    let finished = total === 0;
    // An error after this point is reported with what was done before it,
    // and the audit row is still written: deletions already committed stay.
    let failure: unknown;
    try {
      while (!finished && !input.signal?.aborted) {
        // The checkpointer reports the log's length a batch late, and this
        // batch adds to it: count both when deciding.
        if (checkpointer && checkpointer.walFrames + 2 * checkpointer.walGrowth > walRestartFrames) {
          // Let the log start over: everything in it must be in the database
          // file when this batch begins. Copy what the app added since, too.
          await checkpointer.idle();
          if (input.signal?.aborted) break;
          // The app's own checkpoint may hold the checkpoint lock for a moment.
          let busy = true;
          for (let attempt = 0; attempt < 5 && busy; attempt++) {
            busy = Boolean(catchUp.get()?.busy);
            if (busy) await sleep(2);
          }
          if (!busy) checkpointer.walFrames = 0;
        }
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
            const ids = pickChunk.all(...cond.params, chunk) as number[];
            const changes = ids.length ? deleteIds.run(JSON.stringify(ids)).changes : 0;
            if (changes > 0) workPerRow = 0.5 * workPerRow + (0.5 * (performance.now() - chunkStart)) / changes;
            rows += changes;
            if (ids.length < chunk) {
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
        // Start copying this batch at once: the checkpointer must hold the
        // checkpoint lock before the app's next commit would start its own.
        checkpointer?.request();
        input.onProgress?.({ deleted, total });
        if (!finished) await sleep(Math.max(0, GAP_MS - (performance.now() - committedAt)));
      }
    } catch (err) {
      failure = err;
    }
    const interrupted = !finished && failure === undefined && Boolean(input.signal?.aborted);
    if (checkpointer && failure === undefined) {
      try {
        await checkpointer.idle();
        // A reader of the app's can make one attempt give up; each attempt is
        // bounded by the lock budget and comes after the usual gap.
        for (let attempt = 0; attempt < 3; attempt++) {
          await sleep(GAP_MS);
          if (truncateWal(db, file, targetMs)) break;
        }
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
      db.close();
    }
  }
}

/**
 * Switches the file to WAL. SQLite reads the header before it takes the write
 * lock for this, and a connection that holds a read lock while the app is in
 * the middle of a commit gets SQLITE_BUSY at once rather than waiting (waiting
 * could deadlock). So while the app writes, the switch is retried for as long
 * as any other statement would wait.
 */
async function switchToWal(db: SqliteDb, waitMs: number): Promise<boolean> {
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
function truncateWal(db: SqliteDb, file: string, lockBudgetMs: number): boolean {
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

/** The main thread's handle on checkpoint-worker.ts. */
class Checkpointer {
  private readonly worker: Worker;
  /** Commits handed over so far, and the last one a finished run covered. */
  private requested = 0;
  private covered = 0;
  private failure: Error | undefined;
  private waiters: Array<() => void> = [];
  /** Frames in the WAL after the last checkpoint. */
  walFrames = 0;
  /** How much one batch grows the WAL, leaning towards the largest seen lately. */
  walGrowth = 0;

  constructor(
    private readonly file: string,
    busyTimeoutMs: number,
  ) {
    this.worker = new Worker(new URL('./checkpoint-worker.js', import.meta.url), { workerData: { file, busyTimeoutMs } });
    this.worker.on('message', (reply: CheckpointReply) => {
      if (reply.kind === 'done') {
        const commits = reply.seq - this.covered;
        const grown = reply.walFrames - this.walFrames;
        if (grown > 0 && commits > 0) this.walGrowth = Math.max(this.walGrowth * 0.7, grown / commits);
        this.walFrames = reply.walFrames;
        this.covered = Math.max(this.covered, reply.seq);
      } else {
        this.fail(reply.message);
      }
      this.wake();
    });
    this.worker.on('error', (err: unknown) => {
      const e = err as { message?: unknown; code?: unknown };
      this.fail(typeof e?.message === 'string' && e.message ? e.message : String(e?.code ?? err));
      this.wake();
    });
  }

  /** Hands the commit just made to the checkpointer. */
  request(): void {
    if (this.failure) throw this.failure;
    this.requested++;
    this.worker.postMessage({ kind: 'checkpoint', seq: this.requested } satisfies CheckpointRequest);
  }

  /** Resolves once every commit handed over is in the database file. */
  async idle(): Promise<void> {
    if (!this.failure && this.covered < this.requested) await new Promise<void>((resolve) => this.waiters.push(resolve));
    if (this.failure) throw this.failure;
  }

  async close(): Promise<void> {
    await this.idle().catch(() => undefined);
    if (this.failure) {
      await this.worker.terminate();
      return;
    }
    const exited = new Promise((resolve) => this.worker.once('exit', resolve));
    this.worker.postMessage({ kind: 'close' } satisfies CheckpointRequest);
    await exited;
  }

  private fail(message: string): void {
    this.failure ??= databaseError(
      'CHECKPOINT_FAILED',
      `Copying the purge's deletions into ${this.file} failed: ${message}.`,
      'Check the disk (free space, errors) and run the purge again; what was deleted so far stays deleted.',
    );
  }

  private wake(): void {
    if (this.failure || this.covered >= this.requested) for (const resolve of this.waiters.splice(0)) resolve();
  }
}
