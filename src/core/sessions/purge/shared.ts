import { AuthctlError } from '../../errors/errors.js';
import { toAuthctlError } from '../../errors/map.js';

export interface PurgeInput {
  /** Only sessions that expired longer ago than this are deleted. */
  graceMs: number;
  /** Upper bound on rows deleted in one transaction. */
  batchSize: number;
  /** Upper bound on how long one transaction may hold the database's write lock. */
  maxLockMs: number;
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
 * Work plus the predicted commit aim at this share of --max-lock, leaving
 * room for the estimate being wrong: commit cost varies with the disk.
 */
export const LOCK_TARGET_SHARE = 0.75;

/**
 * The error that stopped a purge after it had begun, restated so that it
 * says what was already done; code and exit code are the original's.
 */
export function stoppedError(err: unknown, deleted: number): AuthctlError {
  const e = toAuthctlError(err);
  return new AuthctlError(e.code, `${e.message.replace(/\.?$/, '.')} ${purgeStoppedAfter(deleted, e.message)}`.trimEnd(), e.exitCode, e.hint ?? 'Run `authctl sessions purge` again to finish.');
}

/** What a purge that an error stopped had done: committed deletions, or none (said once). */
export function purgeStoppedAfter(deleted: number, message = ''): string {
  if (deleted > 0) return `The purge stopped after deleting ${deleted} expired session(s); those deletions are committed.`;
  return /nothing was (changed|deleted)/i.test(message) ? '' : 'Nothing was deleted.';
}
