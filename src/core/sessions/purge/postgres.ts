import { writeAuditPg } from '../../audit/write.js';
import type { DatabaseTarget } from '../../config/config.js';
import { AuthctlError, databaseError } from '../../errors/errors.js';
import { connectPg, pgConnectionError } from '../../db/pg.js';
import { formatAppTimestamp, PG_KNOWN_FROM, PG_KNOWN_UNTIL } from '../../time/timestamps.js';
import { LOCK_TARGET_SHARE, stoppedError, type PurgeInput, type PurgeResult } from './shared.js';

type PgTarget = Extract<DatabaseTarget, { provider: 'postgresql' }>;
type PgClient = Awaited<ReturnType<typeof connectPg>>;

const FIRST_CHUNK = 1000;
/**
 * How long one batch waits for a row another transaction has locked before
 * the purge stops (with what it did so far reported), like SQLite's busy
 * timeout: the app's own transactions are far shorter than this.
 */
export const PG_LOCK_TIMEOUT_MS = 10_000;
/** Every batch deletes at least this many rows (never more than --batch-size), so a slow server still makes progress. */
const MIN_CHUNK = 100;

/**
 * One batch, one statement, one transaction. Rows are picked by their
 * physical address (ctid) and deleted through a TID scan: `id IN (SELECT id
 * ... LIMIT n)` is planned as a hash join over the whole table, so every
 * batch would read every row and a purge would cost batches x table size.
 *
 * The expiry is checked again on the row being deleted: under READ COMMITTED,
 * a row that the app updated after the batch was picked is re-read, and one
 * whose expiry was pushed into the future must stay. `selected` counts the
 * rows picked, so a row the app deleted or moved meanwhile does not end the
 * purge early.
 */
/** Expired by the cutoff $1: before it, and in a known form (not -infinity or BC), as every other command judges it. */
const EXPIRED = `expires_at < $1::timestamp AND expires_at >= TIMESTAMP '${PG_KNOWN_FROM}'`;

const DELETE_BATCH = `
WITH batch AS MATERIALIZED (
  SELECT ARRAY(SELECT ctid FROM user_sessions WHERE ${EXPIRED} LIMIT $2) AS ctids
), gone AS (
  DELETE FROM user_sessions
   WHERE ctid = ANY ((SELECT ctids FROM batch)::tid[]) AND ${EXPIRED}
  RETURNING 1
)
SELECT cardinality((SELECT ctids FROM batch)) AS selected, (SELECT count(*) FROM gone) AS deleted`;

/**
 * PostgreSQL locks rows, not the table, so the app's inserts are never
 * blocked by these deletes; batches bounded by time still keep each
 * transaction, its row locks and its WAL burst small. Runs on a plain pg
 * connection: the statements are fixed SQL, and opening a Prisma client
 * costs about 0.1 s more than the connection itself.
 */
export async function purgePostgres(target: PgTarget, cutoff: Date, input: PurgeInput): Promise<PurgeResult> {
  const started = performance.now();
  const client = await connectPg(target.url);
  try {
    await client.query(`SET lock_timeout = ${PG_LOCK_TIMEOUT_MS}`);
    // Naive UTC text, compared as `timestamp without time zone` like the
    // app's values, whatever the server's or session's TimeZone.
    const at = formatAppTimestamp(cutoff);
    const count = () => countExpired(client, at);
    const total = await count();
    const targetMs = Math.max(1, input.maxLockMs * LOCK_TARGET_SHARE);
    let deleted = 0;
    let batches = 0;
    let chunk = Math.min(FIRST_CHUNK, input.batchSize);
    let finished = total === 0;
    // An error after this point is reported with what was done before it.
    let failure: unknown;
    try {
      while (!finished && !input.signal?.aborted) {
        const t = performance.now();
        const { rows } = await client.query<{ selected: number; deleted: string }>(DELETE_BATCH, [at, chunk]);
        const took = performance.now() - t;
        deleted += Number(rows[0]!.deleted);
        batches++;
        finished = Number(rows[0]!.selected) < chunk;
        chunk = Math.min(input.batchSize, Math.max(MIN_CHUNK, Math.floor((chunk * targetMs) / Math.max(1, took))));
        input.onProgress?.({ deleted, total });
      }
    } catch (err) {
      failure = lockTimeout(err) ?? pgError(target, err);
    }
    const interrupted = !finished && failure === undefined && Boolean(input.signal?.aborted);
    let remaining: number | null = null;
    let skipped = 0;
    try {
      remaining = await count();
      skipped = await countUnknown(client);
    } catch (err) {
      if (failure === undefined) throw err;
    }
    const ms = Math.round(performance.now() - started);
    const error = failure === undefined ? undefined : stoppedError(failure, deleted);
    let audited = true;
    try {
      await writeAuditPg(client, {
        command: 'sessions purge',
        target: `sessions expired before ${cutoff.toISOString()}`,
        summary: `purged ${deleted} expired session(s) in ${batches} batch(es)${interrupted ? ', interrupted' : ''}${error ? `, stopped by ${error.code}` : ''}`,
        details: {
          deleted, remaining, skipped, batches, ms, graceMs: input.graceMs, maxLockMs: input.maxLockMs, interrupted,
          ...(error ? { error: error.code } : {}),
        },
      });
    } catch (err) {
      if (!error) throw err;
      audited = false;
    }
    return { dryRun: false, cutoff: cutoff.toISOString(), deleted, remaining, batches, ms, interrupted, switchedToWal: false, skipped, error, audited };
  } catch (err) {
    throw pgError(target, err);
  } finally {
    await client.end().catch(() => {});
  }
}

/** Expired sessions by this cutoff (naive UTC text), as the batches judge them. */
async function countExpired(client: PgClient, at: string): Promise<number> {
  return Number((await client.query<{ n: string }>(`SELECT count(*) AS n FROM user_sessions WHERE ${EXPIRED}`, [at])).rows[0]?.n ?? 0);
}

/** Sessions whose expiry is in no known form (infinity, -infinity, BC): never deleted, only counted. */
async function countUnknown(client: PgClient): Promise<number> {
  const sql = `SELECT count(*) AS n FROM user_sessions WHERE expires_at IS NULL OR expires_at < TIMESTAMP '${PG_KNOWN_FROM}' OR expires_at >= TIMESTAMP '${PG_KNOWN_UNTIL}'`;
  return Number((await client.query<{ n: string }>(sql)).rows[0]?.n ?? 0);
}

/** The dry run's counts: what a purge with this cutoff would delete, and skip. */
export async function countPostgres(target: PgTarget, cutoff: Date): Promise<{ expired: number; skipped: number }> {
  const client = await connectPg(target.url);
  try {
    return { expired: await countExpired(client, formatAppTimestamp(cutoff)), skipped: await countUnknown(client) };
  } catch (err) {
    throw pgError(target, err);
  } finally {
    await client.end().catch(() => {});
  }
}

function pgError(target: PgTarget, err: unknown): AuthctlError {
  return err instanceof AuthctlError ? err : lockTimeout(err) ?? pgConnectionError(target.url, err);
}

/** PostgreSQL's lock_not_available: a row stayed locked by another transaction past PG_LOCK_TIMEOUT_MS. */
function lockTimeout(err: unknown): AuthctlError | undefined {
  if ((err as { code?: unknown })?.code !== '55P03') return undefined;
  return databaseError(
    'DATABASE_LOCKED',
    `A session row stayed locked by another transaction for more than ${PG_LOCK_TIMEOUT_MS / 1000}s.`,
    'The app or another client is holding a long transaction; run `authctl sessions purge` again shortly.',
  );
}
