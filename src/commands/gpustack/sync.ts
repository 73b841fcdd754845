import { refused, usageError } from '../../core/errors/errors.js';
import type { MaxDisable } from '../../core/gpustack/plan.js';
import { defineCommand } from '../define.js';
import { guardHint, renderSync, toReport, type SyncReport } from './render.js';
import { addConnectionOptions, parseConnection, reportRetry, settingsFor, type ConnectionInput } from './options.js';

export interface SyncInput extends ConnectionInput {
  dryRun: boolean;
  force: boolean;
  linkByUsername: boolean;
  allowWeakPassword: boolean;
  maxDisable?: MaxDisable;
}

/** `5` is a count, `25%` a share of the linked users. */
export function parseMaxDisable(text: string): MaxDisable {
  const t = text.trim();
  if (/^\d+$/.test(t)) return { kind: 'count', value: Number(t) };
  const m = /^(\d+(?:\.\d+)?)%$/.exec(t);
  if (m && Number(m[1]) <= 100) return { kind: 'percent', value: Number(m[1]) };
  throw usageError(`--max-disable "${text}" is not a count or a percentage from 0% to 100%.`, 'Use a whole number such as 5, or a percentage such as 10%.');
}

export const gpustackSyncCommand = () =>
  defineCommand<SyncInput, SyncReport>({
    name: 'sync',
    description: "mirror GPUStack's users into the app: create, update, disable (never delete)",
    examples: [
      'authctl gpustack sync --dry-run',
      'authctl gpustack sync --max-disable 5 --link-by-username',
      '*/15 * * * * authctl gpustack sync --json >>/var/log/authctl-sync.log 2>&1',
    ],
    options: (cmd) =>
      addConnectionOptions(cmd)
        .option('--dry-run', 'print the plan and change nothing')
        .option('--max-disable <n|pct%>', 'refuse a plan that disables more users than this (default: 10% of linked users)')
        .option('--link-by-username', 'link a local-only user to the GPUStack user with the same username')
        .option('--force', 'apply even when the guard refuses the plan')
        .option('--allow-weak-password', 'let GPUStack make an admin of a user whose local password is a well-known one (recorded in the audit log)'),
    parse: ({ opts }) => {
      const maxDisable = opts.maxDisable !== undefined ? parseMaxDisable(opts.maxDisable as string) : undefined;
      return {
        ...parseConnection(opts),
        dryRun: Boolean(opts.dryRun),
        force: Boolean(opts.force),
        linkByUsername: Boolean(opts.linkByUsername),
        allowWeakPassword: Boolean(opts.allowWeakPassword),
        maxDisable,
      };
    },
    needs: 'ready',
    // A dry run writes nothing, so it may run beside a sync.
    lock: (input) => (input.dryRun ? null : { job: 'sync', waitMs: 0 }),
    run: async ({ out, config, db }, input) => {
      const { requireGpustackSettings } = await import('../../core/gpustack/settings.js');
      const { syncGpustack } = await import('../../core/gpustack/sync.js');
      const settings = requireGpustackSettings(settingsFor(input, config.env, config.dotEnv, out));
      try {
        const result = await syncGpustack(db, settings, {
          dryRun: input.dryRun,
          force: input.force,
          linkByUsername: input.linkByUsername,
          allowWeakPassword: input.allowWeakPassword,
          maxDisable: input.maxDisable,
          tuning: input.tuning,
          onRetry: reportRetry(out),
          onPage: (p) => out.progress(`Reading GPUStack users: page ${p.page}/${p.totalPages} (${p.users}/${p.total})`),
        });
        return toReport(result);
      } finally {
        out.progressDone();
      }
    },
    render: renderSync,
    failure: (report) =>
      report.outcome === 'refused'
        ? refused(
            'SYNC_GUARD',
            `Sync refused, nothing was changed: ${report.guard.reason}.`,
            guardHint(report),
          )
        : null,
  });
