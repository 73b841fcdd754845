import type { ApiVersion } from '../../core/gpustack/client.js';
import type { GuardVerdict, SyncPlan } from '../../core/gpustack/plan.js';
import type { SyncOutcome, SyncResult } from '../../core/gpustack/sync.js';
import { PLACEHOLDER_NOTICE } from '../../core/users/admin-placeholder.js';
import type { Output } from '../../terminal/output.js';

/** What `gpustack sync` prints with --json; people get the same, rendered. --json always carries the whole plan. */
export interface SyncReport {
  outcome: SyncOutcome;
  dryRun: boolean;
  applied: boolean;
  server: string;
  serverVersion: string | null;
  api: ApiVersion;
  upstreamUsers: number;
  /** Pages of the user list read. */
  pages: number;
  counts: { create: number; update: number; disable: number; conflicts: number; unchanged: number; sessionsRevoked: number };
  reserveAdmin: boolean;
  /** The plan makes an active admin of a user whose own password is a well-known one (--allow-weak-password). */
  weakPasswordAllowed: boolean;
  guard: GuardVerdict & { forced: boolean };
  plan: Pick<SyncPlan, 'create' | 'update' | 'disable' | 'conflicts'>;
}

export function toReport(result: SyncResult): SyncReport {
  const { plan } = result;
  return {
    outcome: result.outcome,
    dryRun: result.outcome === 'dry-run',
    applied: result.outcome === 'applied',
    server: result.server,
    serverVersion: result.serverVersion,
    api: result.api,
    upstreamUsers: result.upstreamUsers,
    pages: result.pages,
    counts: {
      create: plan.create.length,
      update: plan.update.length,
      disable: plan.disable.length,
      conflicts: plan.conflicts.length,
      unchanged: plan.unchanged,
      sessionsRevoked: plan.sessionsRevoked,
    },
    reserveAdmin: plan.reserveAdmin,
    weakPasswordAllowed: plan.weakPasswordsAllowed > 0,
    guard: { ...result.guard, forced: result.forced },
    plan: { create: plan.create, update: plan.update, disable: plan.disable, conflicts: plan.conflicts },
  };
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

function planRows(plan: SyncReport['plan'], revoked: string): PlanRow[] {
  const rows: PlanRow[] = [];
  for (const c of plan.create) {
    rows.push({ action: 'create', gpustackId: c.gpustackId, username: c.username, detail: `${c.isAdmin ? 'admin' : 'user'}${c.isActive ? '' : ', inactive'}` });
  }
  for (const u of plan.update) {
    const parts = Object.entries(u.changes).map(([field, ch]) => `${field} ${show(ch!.from)} → ${show(ch!.to)}`);
    if (u.link) parts.unshift('link by username');
    if (u.sessionsRevoked) parts.push(`${u.sessionsRevoked} session(s) ${revoked}`);
    rows.push({ action: u.link ? 'link' : 'update', gpustackId: u.gpustackId, username: u.username, detail: parts.join('; ') });
  }
  for (const d of plan.disable) {
    rows.push({ action: 'disable', gpustackId: d.gpustackId, username: d.username, detail: `gone upstream; ${d.sessionsRevoked} session(s) ${revoked}` });
  }
  return rows;
}

/** What to do about a plan the guard refuses, by the rule that refused it. */
export function guardHint(report: Pick<SyncReport, 'guard' | 'plan'>): string {
  const { rule } = report.guard;
  if (rule === 'no-admin' && report.plan.conflicts.some((c) => c.kind === 'weak-admin-password')) {
    // --force would apply the demotions and still hold the new admins back.
    return 'Give the held-back users a strong password (`authctl user reset <username>`) and sync again, or sync with --allow-weak-password.';
  }
  if (rule === 'no-admin') return 'Check the admins in GPUStack; if the app should really have no active admin, run again with --force.';
  // No --max-disable lets an empty list through: only --force does.
  if (rule === 'empty-list') return 'Check the URL, the key (may it list users?) and GPUStack itself; if GPUStack really has no users now, run again with --force.';
  return 'Check GPUStack and the plan above; if it is right, run again with --force or a higher --max-disable.';
}

export function renderSync(report: SyncReport, out: Output, input?: { force: boolean }): void {
  const { plan, counts } = report;
  out.line(
    `GPUStack ${report.serverVersion ?? '(version unknown)'} at ${report.server} (/${report.api}/users): ${report.upstreamUsers} user(s) in ${report.pages} page(s).`,
  );
  // A run with nothing to do applies nothing, but nothing "would be" done either.
  const verb = report.applied || report.outcome === 'no-change' ? '' : 'would be ';
  out.line(
    `${counts.create} ${verb}created, ${counts.update} ${verb}updated, ${counts.disable} ${verb}disabled ` +
      `(${counts.sessionsRevoked} session(s) ${verb}revoked), ${counts.unchanged} unchanged, ${counts.conflicts} conflict(s).`,
  );
  if (report.reserveAdmin) {
    if (report.applied) out.warn(PLACEHOLDER_NOTICE);
    else out.line('No user would be named "admin" afterwards: a disabled placeholder with that name would be kept, so the app cannot seed admin/admin.');
  }
  // (A plan that lets one through updates that user, so it is never 'no-change'.)
  if (report.weakPasswordAllowed && report.outcome !== 'refused') {
    out.warn(
      `GPUStack ${report.applied ? 'made' : 'would make'} an active admin of a user whose local password is a well-known one (--allow-weak-password); change it with \`authctl user reset\`.`,
    );
  }
  const rows = planRows(plan, `${verb}revoked`);
  if (rows.length > 0) {
    out.table(rows.slice(0, SHOWN_ROWS), [
      { header: 'action', value: (r) => r.action },
      { header: 'gpustack id', value: (r) => r.gpustackId },
      { header: 'username', value: (r) => r.username, shrink: true },
      { header: 'change', value: (r) => r.detail, wrap: true },
    ]);
    if (rows.length > SHOWN_ROWS) out.line(out.c.dim(`… and ${rows.length - SHOWN_ROWS} more; --json lists them all.`));
  }
  if (plan.conflicts.length > 0) {
    // Heading and rows together on stdout; each row says why (a namesake, a duplicate, a value the app cannot take).
    out.line(`${plan.conflicts.length} GPUStack user(s) left alone or only partly mirrored:`);
    out.table(plan.conflicts.slice(0, SHOWN_ROWS), [
      { header: 'gpustack id', value: (c) => c.gpustackId },
      { header: 'username', value: (c) => c.username },
      { header: 'local user id', value: (c) => c.localUserId || '' },
      { header: 'why', value: (c) => c.detail, wrap: true },
    ]);
    if (plan.conflicts.length > SHOWN_ROWS) out.line(out.c.dim(`… and ${plan.conflicts.length - SHOWN_ROWS} more; --json lists them all.`));
  }
  if (report.outcome === 'applied') out.success(report.guard.forced ? 'Applied (the guard was overridden with --force).' : 'Applied in one transaction.');
  else if (report.outcome === 'no-change') out.success('Already in sync. Nothing changed.');
  else if (report.outcome === 'dry-run') {
    if (report.guard.tripped) {
      if (input?.force) out.warn(`The guard refuses this plan (${report.guard.reason}); a real run would apply it only because of --force.`);
      else out.warn(`A real run would be refused (exit 7): ${report.guard.reason}. ${guardHint(report)}`);
    }
    out.success('Dry run: nothing was changed.');
  }
}
