import type { Db } from '../db/handle.js';
import { openSyncStore } from './store.js';
import { GpustackClient, type ApiVersion, type RetryNotice } from './client.js';
import type { GpustackSettings } from './settings.js';
import { DEFAULT_TUNING, type ClientTuning } from './tuning.js';
import { fetchAllUsers, type PageProgress } from './fetch-users.js';
import {
  buildSyncPlan,
  DEFAULT_MAX_DISABLE,
  evaluateGuard,
  isEmptyPlan,
  type GuardVerdict,
  type MaxDisable,
  type SyncPlan,
} from './plan.js';

export interface SyncOptions {
  dryRun: boolean;
  force: boolean;
  linkByUsername: boolean;
  maxDisable?: MaxDisable;
  tuning?: ClientTuning;
  onPage?: (progress: PageProgress) => void;
  onRetry?: (notice: RetryNotice) => void;
}

export type SyncOutcome = 'applied' | 'no-change' | 'dry-run' | 'refused';

export interface SyncResult {
  outcome: SyncOutcome;
  server: string;
  serverVersion: string | null;
  api: ApiVersion;
  upstreamUsers: number;
  pages: number;
  plan: SyncPlan;
  guard: GuardVerdict;
  forced: boolean;
  auditId: number | null;
}

function auditSummary(plan: SyncPlan): string {
  const linked = plan.update.filter((u) => u.link).length;
  return (
    `gpustack sync: ${plan.create.length} created, ${plan.update.length} updated` +
    `${linked ? ` (${linked} linked by username)` : ''}, ${plan.disable.length} disabled, ` +
    `${plan.sessionsRevoked} session(s) revoked, ${plan.conflicts.length} conflict(s)` +
    (plan.reserveAdmin ? '; kept a disabled placeholder named admin' : '')
  );
}

/**
 * Mirrors GPUStack's users into the app's users table. Every page is read
 * before anything is written, so a fetch failure changes nothing; the plan is
 * then built and applied inside one write transaction, so the app never sees
 * half a sync and cannot slip a conflicting row in between plan and apply.
 * The caller checks readiness and holds the sync lock (except for a dry run).
 */
export async function syncGpustack(db: Db, settings: GpustackSettings, opts: SyncOptions): Promise<SyncResult> {
  const client = new GpustackClient(settings, opts.tuning ?? DEFAULT_TUNING, opts.onRetry);
  let fetched;
  let serverVersion: string | null;
  let api: ApiVersion;
  try {
    const version = await client.version();
    serverVersion = version?.version ?? null;
    api = (await client.detectApi(version)).api;
    fetched = await fetchAllUsers(client, api, opts.onPage, (opts.tuning ?? DEFAULT_TUNING).pageConcurrency);
  } finally {
    client.close();
  }

  const rule = opts.maxDisable ?? DEFAULT_MAX_DISABLE;
  const store = await openSyncStore(db, { readonly: opts.dryRun });
  try {
    const run = async () => {
      const plan = buildSyncPlan(fetched.users, await store.readLocalUsers(), { linkByUsername: opts.linkByUsername });
      const guard = evaluateGuard(plan, fetched.users.length, rule);
      let outcome: SyncOutcome;
      let auditId: number | null = null;
      if (opts.dryRun) outcome = 'dry-run';
      else if (guard.tripped && !opts.force) outcome = 'refused';
      else if (isEmptyPlan(plan)) outcome = 'no-change';
      else {
        await store.applyPlan(plan, new Date());
        auditId = await store.writeAudit({
          command: 'gpustack sync',
          target: client.display,
          summary: auditSummary(plan),
          details: {
            server: client.display,
            serverVersion,
            api,
            upstreamUsers: fetched.users.length,
            created: plan.create.length,
            updated: plan.update.length,
            linkedByUsername: plan.update.filter((u) => u.link).length,
            disabled: plan.disable.length,
            sessionsRevoked: plan.sessionsRevoked,
            conflicts: plan.conflicts.length,
            reservedAdmin: plan.reserveAdmin,
            forced: guard.tripped && opts.force,
          },
        });
        outcome = 'applied';
      }
      return { plan, guard, outcome, auditId };
    };
    const { plan, guard, outcome, auditId } = await store.transaction(run);
    return {
      outcome,
      server: client.display,
      serverVersion,
      api,
      upstreamUsers: fetched.users.length,
      pages: fetched.pages,
      plan,
      guard,
      forced: guard.tripped && opts.force && outcome === 'applied',
      auditId,
    };
  } finally {
    await store.close();
  }
}
