import type { LockedJob } from '../locks/job.js';

/** The lock init-db and migrate hold while they change the schema; a second run waits this long, then exits busy. */
export const MIGRATE_LOCK: { job: LockedJob; waitMs: number } = { job: 'migrate', waitMs: 5000 };
