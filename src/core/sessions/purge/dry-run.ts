import type { Db } from '../../db/handle.js';
import type { PurgeResult } from './shared.js';

/**
 * What a purge with this cutoff would delete, and skip (an expiry in no form
 * authctl can read), changing nothing. The counts are the batch loops' own,
 * on a plain connection: a Prisma client would cost more than the count.
 */
export async function dryRunPurge(db: Db, cutoff: Date): Promise<PurgeResult> {
  const started = performance.now();
  const { target } = db;
  const { expired, skipped } =
    target.provider === 'sqlite'
      ? (await import('./sqlite.js')).countSqlite(target.file, cutoff)
      : await (await import('./postgres.js')).countPostgres(target, cutoff);
  return {
    dryRun: true,
    cutoff: cutoff.toISOString(),
    deleted: expired,
    remaining: expired,
    batches: 0,
    ms: Math.round(performance.now() - started),
    interrupted: false,
    switchedToWal: false,
    skipped,
    audited: false,
  };
}
