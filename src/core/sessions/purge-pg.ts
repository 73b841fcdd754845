import { writeAudit } from '../audit.js';
import type { DatabaseTarget } from '../config.js';
import { LOCK_TARGET_SHARE, type PurgeInput, type PurgeResult } from './purge.js';

/**
 * PostgreSQL locks rows, not the table, so the app's inserts are never
 * blocked by these deletes; short batches still keep each transaction small.
 */
export async function purgePostgres(target: DatabaseTarget, cutoff: Date, input: PurgeInput): Promise<PurgeResult> {
  const { openClient } = await import('../db/client.js');
  const { before, Prisma } = await import('../db/sql.js');
  const started = performance.now();
  const client = await openClient(target);
  try {
    const expired = before('postgresql', 'expires_at', cutoff);
    const count = async () =>
      Number((await client.$queryRaw<Array<{ n: number | bigint }>>(Prisma.sql`SELECT count(*) AS n FROM user_sessions WHERE ${expired}`))[0]?.n ?? 0);
    const total = await count();
    let deleted = 0;
    let batches = 0;
    let chunk = Math.min(1000, input.batchSize);
    let finished = total === 0;
    while (!finished && !input.signal?.aborted) {
      const t = performance.now();
      const n = await client.$executeRaw(
        Prisma.sql`DELETE FROM user_sessions WHERE id IN (SELECT id FROM user_sessions WHERE ${expired} LIMIT ${chunk})`,
      );
      const took = performance.now() - t;
      deleted += n;
      batches++;
      finished = n < chunk;
      chunk = Math.max(100, Math.min(input.batchSize, Math.floor((chunk * input.maxLockMs * LOCK_TARGET_SHARE) / Math.max(1, took))));
      input.onProgress?.({ deleted, total });
    }
    const interrupted = !finished && Boolean(input.signal?.aborted);
    const remaining = await count();
    const ms = Math.round(performance.now() - started);
    await client.$transaction(async (tx) =>
      writeAudit(tx, {
        command: 'sessions purge',
        target: `sessions expired before ${cutoff.toISOString()}`,
        summary: `purged ${deleted} expired session(s) in ${batches} batch(es)${interrupted ? ', interrupted' : ''}`,
        details: { deleted, remaining, batches, ms, graceMs: input.graceMs, maxLockMs: input.maxLockMs, interrupted },
      }),
    );
    return { dryRun: false, cutoff: cutoff.toISOString(), deleted, remaining, batches, ms, interrupted, switchedToWal: false };
  } finally {
    await client.$disconnect();
  }
}
