/**
 * State shared between the purge's thread and the checkpoint worker in an
 * Int32Array, read where neither can wait for a message: the purge's thread
 * in the middle of a batch, the worker between two passes.
 *
 * At PHASE_AT, what the worker is doing: IDLE, COPYING (the first pass of a
 * run) or SYNCING (a later pass, which ends by flushing the database file to
 * disk and slows down every write on the disk meanwhile). At REQUESTED, the
 * number of the purge's latest commit handed to the worker. At RELEASE, 1
 * while the purge's thread waits for the worker to let go of the log.
 */
export const PHASE_AT = 0;
export const REQUESTED = 1;
export const RELEASE = 2;
export const SHARED_LENGTH = 3;

export const PHASE = { IDLE: 0, COPYING: 1, SYNCING: 2 } as const;
