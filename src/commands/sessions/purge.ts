import { AuthctlError, ExitCode, usageError } from '../../core/errors/errors.js';
import { DEFAULT_BATCH_SIZE, DEFAULT_MAX_LOCK_MS } from '../../core/sessions/purge/shared.js';
import { parseDuration } from '../../core/time/timestamps.js';
import { defineCommand } from '../define.js';
import { parsePositiveInt } from '../options.js';
import { when } from '../../terminal/time.js';

export interface PurgeCommandInput {
  dryRun: boolean;
  graceMs: number;
  batchSize: number;
  maxLockMs: number;
  /** Wait for a purge that is already running instead of exiting 75. */
  wait: boolean;
}

/** `--dry-run --json`: what a purge would delete. */
export interface PurgeDryRunResult {
  dryRun: true;
  cutoff: string;
  wouldDelete: number;
  deleted: 0;
  remaining: number | null;
  batches: 0;
  ms: number;
  skipped: number;
}

/** Which signal stopped the run, for the error after the summary; symbol-keyed, so not part of the JSON. */
const STOPPED_BY = Symbol('stoppedBy');

/** `--json`: what the purge did, also when an error or a signal stopped it part way. */
export interface PurgeRunResult {
  deleted: number;
  remaining: number | null;
  batches: number;
  ms: number;
  cutoff: string;
  interrupted: boolean;
  switchedToWal: boolean;
  skipped: number;
  /** Printed as its toJSON(): code, message, exitCode, hint. */
  error?: AuthctlError;
  audited?: boolean;
  [STOPPED_BY]?: string;
}

export type PurgeCommandResult = PurgeDryRunResult | PurgeRunResult;

/** Below this many rows a purge is over before a progress bar would help. */
const PROGRESS_MIN_ROWS = 5000;

function bar(done: number, total: number): string {
  const width = 30;
  const share = total > 0 ? Math.min(1, done / total) : 1;
  const filled = Math.round(share * width);
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${Math.floor(share * 100)}% ${done}/${total} expired sessions purged`;
}

function graceFrom(value: string | undefined): number {
  if (value === undefined) return 0;
  try {
    return parseDuration(value);
  } catch (err) {
    throw usageError(`--grace: ${(err as Error).message}.`);
  }
}

const skippedNote = (skipped: number) =>
  `${skipped} session(s) with an expires_at in no timestamp form authctl can read were left alone; \`authctl doctor\` counts them.`;

/** Which sessions the run was about: all expired ones, or with --grace those expired before its cutoff. */
const scope = (cutoff: string, graceMs: number) => (graceMs > 0 ? `expired before ${when(cutoff)}` : 'expired');

const summaryLine = ({ deleted, batches, ms, remaining, cutoff }: PurgeRunResult, graceMs: number) =>
  `Purged ${deleted} expired session(s) in ${batches} batch(es), ${(ms / 1000).toFixed(1)} s; ${remaining ?? 'an unknown number of'} ${scope(cutoff, graceMs)} remain.`;

/**
 * A SQLite purge stopped because this user cannot write the database, a side
 * file or the folder (a -shm left by another user, say): the error names
 * that file and the missing permission instead of a generic read-only one.
 */
async function namingTheFile(error: AuthctlError, file: string, deleted: number): Promise<AuthctlError> {
  if (!['DATABASE_READ_ONLY', 'DATABASE_CANNOT_OPEN', 'DATABASE_IO_ERROR'].includes(error.code)) return error;
  const { sqliteUnwritable } = await import('../../core/db/sqlite.js');
  const { purgeStoppedAfter } = await import('../../core/sessions/purge/shared.js');
  const unwritable = sqliteUnwritable(file);
  if (!unwritable) return error;
  return new AuthctlError(error.code, `${unwritable.message} ${purgeStoppedAfter(deleted)}`, error.exitCode, unwritable.hint);
}

export const purgeCommand = () =>
  defineCommand<PurgeCommandInput, PurgeCommandResult>({
    name: 'purge',
    description: 'delete expired sessions in short transactions (for cron); exits 75 if another purge runs',
    examples: [
      'authctl sessions purge --dry-run',
      'authctl sessions purge --grace 1d',
      '0 * * * * authctl sessions purge --json >>/var/log/authctl-purge.log 2>&1',
    ],
    options: (cmd) =>
      cmd
        .option('--dry-run', 'count what would be deleted and change nothing')
        .option('--grace <duration>', 'only sessions expired longer ago than this (e.g. 30m, 12h, 7d)')
        .option('--batch-size <n>', 'at most n rows per transaction (default: 20000)')
        .option('--max-lock <ms>', 'longest a transaction may hold the write lock, in ms (default: 200)')
        .option('--wait', 'wait for a purge that is already running, instead of exiting 75'),
    parse: ({ opts }) => ({
      dryRun: Boolean(opts.dryRun),
      graceMs: graceFrom(opts.grace as string | undefined),
      batchSize: opts.batchSize === undefined ? DEFAULT_BATCH_SIZE : parsePositiveInt(opts.batchSize as string, '--batch-size', 1_000_000),
      maxLockMs: opts.maxLock === undefined ? DEFAULT_MAX_LOCK_MS : parsePositiveInt(opts.maxLock as string, '--max-lock', 60_000),
      wait: Boolean(opts.wait),
    }),
    needs: 'ready',
    // A dry run changes nothing: it takes no lock, and Ctrl+C cancels it at once.
    lock: (input) => (input.dryRun ? null : { job: 'purge', waitMs: input.wait ? Number.POSITIVE_INFINITY : 0 }),
    // Ctrl+C and SIGTERM finish the current batch, then stop cleanly: the
    // lock is released and everything committed so far stays deleted.
    stoppable: (input) => !input.dryRun,
    run: async ({ db, out, signal }, input) => {
      const { purgeExpiredSessions } = await import('../../core/sessions/purge/purge.js');
      let showProgress = false;
      try {
        const result = await purgeExpiredSessions(db, {
          ...input,
          signal,
          onProgress: ({ deleted, total }) => {
            showProgress ||= total > PROGRESS_MIN_ROWS;
            if (showProgress) out.progress(bar(deleted, total));
          },
        });
        const { cutoff, deleted, remaining, batches, ms, skipped } = result;
        if (result.dryRun) return { dryRun: true, cutoff, wouldDelete: deleted, deleted: 0, remaining, batches: 0, ms, skipped };
        const error = result.error && db.target.provider === 'sqlite' ? await namingTheFile(result.error, db.target.file, deleted) : result.error;
        return {
          deleted, remaining, batches, ms, cutoff, interrupted: result.interrupted, switchedToWal: result.switchedToWal, skipped,
          ...(error ? { error, audited: result.audited } : {}),
          ...(result.interrupted && typeof signal?.reason === 'string' ? { [STOPPED_BY]: signal.reason } : {}),
        };
      } finally {
        if (showProgress) out.progressDone();
      }
    },
    render: (result, out, { graceMs }) => {
      if ('wouldDelete' in result) {
        out.line(`Would purge ${result.wouldDelete} session(s), expired before ${when(result.cutoff)}.`);
        out.line('Nothing changed.');
        if (result.skipped) out.warn(skippedNote(result.skipped));
        return;
      }
      if (result.switchedToWal) {
        out.info('Switched the database to WAL journal mode, so the app can keep reading and writing while authctl purges.');
      }
      if (result.skipped) out.warn(skippedNote(result.skipped));
      if (result.error) {
        // A run that deleted nothing has nothing to sum up: the error says so.
        if (result.deleted > 0) {
          out.line(summaryLine(result, graceMs));
          if (!result.audited) out.warn('The audit row for this run could not be written.');
        }
      } else if (result.interrupted) {
        out.line(summaryLine(result, graceMs));
      } else if (result.deleted === 0) {
        const left = result.remaining ? ` (${result.remaining} appeared meanwhile)` : '';
        out.success(`No sessions ${scope(result.cutoff, graceMs)}. Nothing to do${left}.`);
      } else {
        out.success(summaryLine(result, graceMs));
      }
    },
    failure: (result) => {
      if ('wouldDelete' in result) return null;
      if (result.error) return result.error;
      if (!result.interrupted) return null;
      return new AuthctlError(
        'INTERRUPTED',
        `Stopped by ${result[STOPPED_BY] ?? 'a signal'} after the current batch; the ${result.deleted} deletion(s) so far are committed.`,
        ExitCode.cancelled,
        'Run `authctl sessions purge` again to finish.',
      );
    },
  });
