import { Command } from 'commander';
import { createContext } from '../../context.js';
import { parsePositiveInt } from '../options.js';
import { claimSignals } from '../../core/signals/interrupt.js';

interface PurgeOptions {
  dryRun?: boolean;
  batchSize?: string;
  maxLock?: string;
  grace?: string;
  wait?: boolean;
}

/** Below this many rows a purge is over before a progress bar would help. */
const PROGRESS_MIN_ROWS = 5000;

function bar(done: number, total: number): string {
  const width = 30;
  const share = total > 0 ? Math.min(1, done / total) : 1;
  const filled = Math.round(share * width);
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${Math.floor(share * 100)}% ${done}/${total} expired sessions purged`;
}

export function purgeCommand(): Command {
  return new Command('purge')
    .description('delete expired sessions in short transactions (for cron); exits 75 if another purge runs')
    .option('--dry-run', 'count what would be deleted and change nothing')
    .option('--grace <duration>', 'only sessions expired longer ago than this (e.g. 30m, 12h, 7d)')
    .option('--batch-size <n>', 'at most n rows per transaction (default 20000)')
    .option('--max-lock <ms>', 'longest a transaction may hold the write lock, in ms (default 200)')
    .option('--wait', 'wait for a purge that is already running, instead of exiting 75')
    .action(async (opts: PurgeOptions, command: Command) => {
      const ctx = createContext(command);
      const { usageError, AuthctlError, ExitCode } = await import('../../core/errors/errors.js');
      const { DEFAULT_BATCH_SIZE, DEFAULT_MAX_LOCK_MS, purgeExpiredSessions } = await import('../../core/sessions/purge/purge.js');
      let graceMs = 0;
      if (opts.grace !== undefined) {
        const { parseDuration } = await import('../../core/time/timestamps.js');
        try {
          graceMs = parseDuration(opts.grace);
        } catch (err) {
          throw usageError(`--grace: ${(err as Error).message}.`);
        }
      }
      const batchSize = opts.batchSize === undefined ? DEFAULT_BATCH_SIZE : parsePositiveInt(opts.batchSize, '--batch-size', 1_000_000);
      const maxLockMs = opts.maxLock === undefined ? DEFAULT_MAX_LOCK_MS : parsePositiveInt(opts.maxLock, '--max-lock', 60_000);
      const { database } = ctx.config();
      const { out } = ctx;

      // Ctrl+C and SIGTERM finish the current batch, then stop cleanly: the
      // lock is released and everything committed so far stays deleted.
      const controller = new AbortController();
      let stoppedBy: NodeJS.Signals | null = null;
      const stop = (signal: NodeJS.Signals) => {
        stoppedBy ??= signal;
        controller.abort();
      };
      const giveBack = claimSignals();
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
      let showProgress = false;
      try {
        const result = await purgeExpiredSessions(database, {
          graceMs,
          batchSize,
          maxLockMs,
          wait: Boolean(opts.wait),
          dryRun: Boolean(opts.dryRun),
          signal: controller.signal,
          onProgress: ({ deleted, total }) => {
            showProgress ||= total > PROGRESS_MIN_ROWS;
            if (showProgress) out.progress(bar(deleted, total));
          },
        });
        if (showProgress) out.progressDone();
        if (result.switchedToWal) {
          out.info('Switched the database to WAL journal mode, so the app can keep reading and writing while authctl purges.');
        }
        const skippedNote = result.skipped
          ? `${result.skipped} session(s) with an expires_at in no timestamp form authctl can read were left alone; \`authctl doctor\` counts them.`
          : null;
        if (result.dryRun) {
          out.emitJson({ dryRun: true, cutoff: result.cutoff, wouldDelete: result.deleted, deleted: 0, remaining: result.remaining, batches: 0, ms: result.ms, skipped: result.skipped });
          out.line(`Would purge ${result.deleted} session(s) that expired before ${result.cutoff}. Nothing changed.`);
          if (skippedNote) out.warn(skippedNote);
          return;
        }
        const { deleted, remaining, batches, ms, skipped, error } = result;
        // Whatever ended the run, say what it did: with --json, stdout is this summary even when it failed.
        out.emitJson({
          deleted, remaining, batches, ms, cutoff: result.cutoff, interrupted: result.interrupted, switchedToWal: result.switchedToWal, skipped,
          ...(error ? { error: error.toJSON(), audited: result.audited } : {}),
        });
        const summary = `Purged ${deleted} expired session(s) in ${batches} batch(es), ${(ms / 1000).toFixed(1)} s; ${remaining ?? 'an unknown number of'} expired remain.`;
        if (skippedNote) out.warn(skippedNote);
        if (error) {
          out.line(summary);
          if (!result.audited) out.warn('The audit row for this run could not be written.');
          throw error;
        }
        if (result.interrupted) {
          out.line(summary);
          throw new AuthctlError(
            'INTERRUPTED',
            `Stopped by ${stoppedBy ?? 'a signal'} after the current batch; the ${deleted} deletion(s) so far are committed.`,
            ExitCode.cancelled,
            'Run `authctl sessions purge` again to finish.',
          );
        }
        if (deleted === 0) out.success(`No expired sessions. Nothing to do (${remaining} remain).`);
        else out.success(summary);
      } finally {
        if (showProgress) out.progressDone();
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        giveBack();
      }
    });
}
