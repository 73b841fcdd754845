import type { Db } from '../../db/handle.js';
import { cancelled } from '../../errors/errors.js';
import { dryRunPurge } from './dry-run.js';
import type { PurgeInput, PurgeResult } from './shared.js';

/**
 * Deletes every session whose expiry is before now minus the grace period,
 * in transactions bounded by time. The caller holds the purge job lock and
 * has checked that the database is ready.
 */
export async function purgeExpiredSessions(db: Db, input: PurgeInput): Promise<PurgeResult> {
  const now = input.now ?? new Date();
  const cutoff = new Date(now.getTime() - input.graceMs);
  if (input.dryRun) return dryRunPurge(db, cutoff);
  // Stopped before anything began: nothing to report but the cancellation.
  if (input.signal?.aborted) throw cancelled();
  const { target } = db;
  if (target.provider === 'sqlite') {
    const { purgeSqlite } = await import('./sqlite.js');
    return purgeSqlite(target.file, cutoff, input);
  }
  const { purgePostgres } = await import('./postgres.js');
  return purgePostgres(target, cutoff, input);
}
