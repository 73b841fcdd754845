import { Command } from 'commander';
import { createContext } from '../../context.js';
import type { Output } from '../../terminal/output.js';
import type { MaxDisable, SyncPlan } from '../../core/gpustack/plan.js';
import { PLACEHOLDER_NOTICE } from '../../core/users/admin-placeholder.js';
import type { SyncResult } from '../../core/gpustack/sync.js';
import { usageError } from '../../core/errors/errors.js';
import { addConnectionOptions, reportRetry, type ConnectionOptions } from './options.js';

interface SyncCommandOptions extends ConnectionOptions {
  dryRun?: boolean;
  maxDisable?: string;
  linkByUsername?: boolean;
  force?: boolean;
}

/** `5` is a count, `25%` a share of the linked users. */
export function parseMaxDisable(text: string): MaxDisable {
  const t = text.trim();
  if (/^\d+$/.test(t)) return { kind: 'count', value: Number(t) };
  const m = /^(\d+(?:\.\d+)?)%$/.exec(t);
  if (m && Number(m[1]) <= 100) return { kind: 'percent', value: Number(m[1]) };
  throw usageError(`--max-disable "${text}" is not a count or a percentage from 0% to 100%.`, 'Use a whole number such as 5, or a percentage such as 10%.');
}

/** Rows shown in human output; --json always carries the whole plan. */
const SHOWN_ROWS = 50;

interface PlanRow {
  action: string;
  gpustackId: number;
  username: string;
  detail: string;
}

const show = (v: unknown) => (v === null || v === undefined ? '(none)' : typeof v === 'string' ? `"${v}"` : String(v));

function planRows(plan: SyncPlan): PlanRow[] {
  const rows: PlanRow[] = [];
  for (const c of plan.create) {
    rows.push({ action: 'create', gpustackId: c.gpustackId, username: c.username, detail: `${c.isAdmin ? 'admin' : 'user'}${c.isActive ? '' : ', inactive'}` });
  }
  for (const u of plan.update) {
    const parts = Object.entries(u.changes).map(([field, ch]) => `${field} ${show(ch!.from)} → ${show(ch!.to)}`);
    if (u.link) parts.unshift('link by username');
    if (u.sessionsRevoked) parts.push(`${u.sessionsRevoked} session(s) revoked`);
    rows.push({ action: u.link ? 'link' : 'update', gpustackId: u.gpustackId, username: u.username, detail: parts.join('; ') });
  }
  for (const d of plan.disable) {
    rows.push({ action: 'disable', gpustackId: d.gpustackId, username: d.username, detail: `gone upstream; ${d.sessionsRevoked} session(s) revoked` });
  }
  return rows;
}

function render(out: Output, result: SyncResult): void {
  const { plan } = result;
  out.emitJson({
    outcome: result.outcome,
    dryRun: result.outcome === 'dry-run',
    applied: result.outcome === 'applied',
    server: result.server,
    serverVersion: result.serverVersion,
    api: result.api,
    upstreamUsers: result.upstreamUsers,
    counts: {
      create: plan.create.length,
      update: plan.update.length,
      disable: plan.disable.length,
      conflicts: plan.conflicts.length,
      unchanged: plan.unchanged,
      sessionsRevoked: plan.sessionsRevoked,
    },
    reserveAdmin: plan.reserveAdmin,
    guard: { ...result.guard, forced: result.forced },
    plan: { create: plan.create, update: plan.update, disable: plan.disable, conflicts: plan.conflicts },
  });
  out.line(
    `GPUStack ${result.serverVersion ?? '(version unknown)'} at ${result.server} (/${result.api}/users): ${result.upstreamUsers} user(s) in ${result.pages} page(s).`,
  );
  const verb = result.outcome === 'applied' ? '' : 'would be ';
  out.line(
    `${plan.create.length} ${verb}created, ${plan.update.length} ${verb}updated, ${plan.disable.length} ${verb}disabled ` +
      `(${plan.sessionsRevoked} session(s) ${verb}revoked), ${plan.unchanged} unchanged, ${plan.conflicts.length} conflict(s).`,
  );
  if (plan.reserveAdmin) {
    if (result.outcome === 'applied') out.warn(PLACEHOLDER_NOTICE);
    else out.line('No user would be named "admin" afterwards: a disabled placeholder with that name would be kept, so the app cannot seed admin/admin.');
  }
  const rows = planRows(plan);
  if (rows.length > 0) {
    out.table(rows.slice(0, SHOWN_ROWS), [
      { header: 'action', value: (r) => r.action },
      { header: 'gpustack id', value: (r) => r.gpustackId },
      { header: 'username', value: (r) => r.username },
      { header: 'change', value: (r) => r.detail },
    ]);
    if (rows.length > SHOWN_ROWS) out.line(out.c.dim(`… and ${rows.length - SHOWN_ROWS} more; --json lists them all.`));
  }
  if (plan.conflicts.length > 0) {
    out.warn(`${plan.conflicts.length} GPUStack user(s) were left alone because of a username conflict:`);
    out.table(plan.conflicts.slice(0, SHOWN_ROWS), [
      { header: 'gpustack id', value: (c) => c.gpustackId },
      { header: 'username', value: (c) => c.username },
      { header: 'local user id', value: (c) => c.localUserId || '' },
      { header: 'why', value: (c) => c.detail },
    ]);
  }
  if (result.outcome === 'applied') out.success(result.forced ? 'Applied (the guard was overridden with --force).' : 'Applied in one transaction.');
  else if (result.outcome === 'no-change') out.success('Already in sync. Nothing changed.');
  else if (result.outcome === 'dry-run') out.success('Dry run: nothing was changed.');
}

export function gpustackSyncCommand(): Command {
  const cmd = new Command('sync').description("mirror GPUStack's users into the app: create, update, disable (never delete)");
  addConnectionOptions(cmd);
  return cmd
    .option('--dry-run', 'print the plan and change nothing')
    .option('--max-disable <n|pct%>', 'refuse a plan that disables more users than this (default 10% of linked users)')
    .option('--link-by-username', 'link a local-only user to the GPUStack user with the same username')
    .option('--force', 'apply even when the guard refuses the plan')
    .action(async (opts: SyncCommandOptions, command: Command) => {
      const ctx = createContext(command);
      const maxDisable = opts.maxDisable !== undefined ? parseMaxDisable(opts.maxDisable) : undefined;
      const { database, env, dotEnv } = ctx.config();
      const { resolveGpustackSettings, requireGpustackSettings } = await import('../../core/gpustack/settings.js');
      const { tuningFromEnv } = await import('../../core/gpustack/client.js');
      const { syncGpustack } = await import('../../core/gpustack/sync.js');
      const { refused } = await import('../../core/errors/errors.js');
      const settings = requireGpustackSettings(resolveGpustackSettings({ url: opts.url, tokenFile: opts.tokenFile, env, dotEnv }));
      const { out } = ctx;
      let result: SyncResult;
      try {
        result = await syncGpustack(database, settings, {
          dryRun: Boolean(opts.dryRun),
          force: Boolean(opts.force),
          linkByUsername: Boolean(opts.linkByUsername),
          maxDisable,
          tuning: tuningFromEnv(env),
          onRetry: reportRetry(out),
          onPage: (p) => out.progress(`Reading GPUStack users: page ${p.page}/${p.totalPages} (${p.users}/${p.total})`),
        });
      } finally {
        out.progressDone();
      }
      render(out, result);
      if (result.outcome === 'refused') {
        throw refused(
          'SYNC_GUARD',
          `Sync refused, nothing was changed: ${result.guard.reason}.`,
          'Check GPUStack and the plan above; if it is right, run again with --force or a higher --max-disable.',
        );
      }
    });
}
