import { busy } from '../errors/errors.js';

export type LockedJob = 'migrate' | 'purge' | 'sync';

export interface JobLock {
  release(): Promise<void>;
}

export function busyError(job: LockedJob) {
  return busy(
    `Another authctl ${job} is running on this database.`,
    job === 'purge' ? 'Let it finish, or pass --wait to queue behind it.' : 'Let it finish, then run this again.',
  );
}
