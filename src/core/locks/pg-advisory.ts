import { cancelled } from '../errors/errors.js';
import { busyError, type JobLock, type LockedJob } from './job.js';
import { connectPg, type PgTarget } from '../db/pg.js';

/** authctl's advisory-lock namespace; the job name picks the lock within it. */
const LOCK_NAMESPACE = 0x61757468; // "auth"

/**
 * A session-level advisory lock on its own connection. PostgreSQL drops it the
 * moment that connection ends, so a crashed holder never leaves it behind, and
 * it works across every replica's host.
 */
export async function acquireAdvisoryLock(target: PgTarget, job: LockedJob, waitMs: number, signal?: AbortSignal): Promise<JobLock> {
  const client = await connectPg(target.url);
  const deadline = Date.now() + waitMs;
  try {
    for (;;) {
      const { rows } = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1, hashtext($2)) AS ok', [LOCK_NAMESPACE, job]);
      if (rows[0]!.ok) break;
      if (signal?.aborted) throw cancelled();
      if (Date.now() >= deadline) throw busyError(job);
      await new Promise((resolve) => setTimeout(resolve, Math.min(200, Math.max(10, deadline - Date.now()))));
    }
  } catch (err) {
    await client.end().catch(() => {});
    throw err;
  }
  return {
    async release() {
      await client.end().catch(() => {});
    },
  };
}
