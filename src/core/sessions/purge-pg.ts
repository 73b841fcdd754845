import { writeAuditPg } from '../audit.js';
import type { DatabaseTarget } from '../config.js';
import { AuthctlError } from '../errors.js';
import { formatAppTimestamp } from '../timestamps.js';
import { LOCK_TARGET_SHARE, type PurgeInput, type PurgeResult } from './purge.js';

type PgTarget = Extract<DatabaseTarget, { provider: 'postgresql' }>;

const FIRST_CHUNK = 1000;
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
const DELETE_BATCH = `
WITH batch AS MATERIALIZED (
  SELECT ARRAY(SELECT ctid FROM user_sessions WHERE expires_at < $1::timestamp LIMIT $2) AS ctids
), gone AS (
  DELETE FROM user_sessions
   WHERE ctid = ANY ((SELECT ctids FROM batch)::tid[]) AND expires_at < $1::timestamp
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
  const { connectPg, pgConnectionError } = await import('../db/pg.js');
  const started = performance.now();
  const client = await connectPg(target.url);
  try {
    // Naive UTC text, compared as `timestamp without time zone` like the
    // app's values, whatever the server's or session's TimeZone.
    const at = formatAppTimestamp(cutoff);
    const count = async () =>
      Number((await client.query<{ n: string }>('SELECT count(*) AS n FROM user_sessions WHERE expires_at < $1::timestamp', [at])).rows[0]?.n ?? 0);
    const total = await count();
    const targetMs = Math.max(1, input.maxLockMs * LOCK_TARGET_SHARE);
    let deleted = 0;
    let batches = 0;
    let chunk = Math.min(FIRST_CHUNK, input.batchSize);
    let finished = total === 0;
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
    const interrupted = !finished && Boolean(input.signal?.aborted);
    const remaining = await count();
    const ms = Math.round(performance.now() - started);
    await writeAuditPg(client, {
      command: 'sessions purge',
      target: `sessions expired before ${cutoff.toISOString()}`,
      summary: `purged ${deleted} expired session(s) in ${batches} batch(es)${interrupted ? ', interrupted' : ''}`,
      details: { deleted, remaining, batches, ms, graceMs: input.graceMs, maxLockMs: input.maxLockMs, interrupted },
    });
    return { dryRun: false, cutoff: cutoff.toISOString(), deleted, remaining, batches, ms, interrupted, switchedToWal: false };
  } catch (err) {
    if (err instanceof AuthctlError) throw err;
    throw pgConnectionError(target.url, err);
  } finally {
    await client.end().catch(() => {});
  }
}
