import type { Db } from '../db/handle.js';
import { AuthctlError, ExitCode } from '../errors/errors.js';
import { openSyncStore, type SyncStore } from './store.js';
import { GpustackClient, type ApiVersion, type RetryNotice } from './client.js';
import type { GpustackSettings } from './settings.js';
import { DEFAULT_TUNING, type ClientTuning } from './tuning.js';
import type { GpustackUser } from './payload.js';
import { fetchAllUsers, type PageProgress, type UpstreamUsers } from './fetch-users.js';
import {
  buildSyncPlan,
  DEFAULT_MAX_DISABLE,
  evaluateGuard,
  guardRefusesAnyway,
  isEmptyPlan,
  type AdminPasswordVerdicts,
  type GuardVerdict,
  type MaxDisable,
  type SyncPlan,
} from './plan.js';

export interface SyncOptions {
  dryRun: boolean;
  force: boolean;
  linkByUsername: boolean;
  /** Lets GPUStack make an active admin of a local user with a well-known password. */
  allowWeakPassword?: boolean;
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
 * A user the list left out although GPUStack still has it: users deleted
 * and created while the pages were read shift others between pages, and the
 * count can stay the same.
 */
function listMissed(display: string, user: { gpustackId: number; username: string }): AuthctlError {
  return new AuthctlError(
    'GPUSTACK_LIST_UNSTABLE',
    `GPUStack at ${display} still has user ${user.username} (id ${user.gpustackId}), which its user list left out: the list changed while it was read.`,
    ExitCode.gpustack,
    'Nothing was changed. Run the sync again when no users are being created or deleted in GPUStack.',
  );
}

/**
 * Tries the stored password of every local user the sync could make an
 * active admin (GPUStack lists it as an active admin, by id, or by name with
 * --link-by-username) against the well-known passwords: a few bcrypt runs,
 * so outside the write transaction. The plan, built in the transaction,
 * decides who is really promoted, and holds back anyone not tried here.
 */
async function tryAdminPasswords(store: SyncStore, upstream: GpustackUser[], linkByUsername: boolean): Promise<AdminPasswordVerdicts> {
  const holders = await store.readPasswordHolders();
  if (holders.length === 0) return new Map();
  const byId = new Map(upstream.map((u) => [u.id, u]));
  // As the plan does: of two upstream users with one name, the lower id counts.
  const byName = new Map<string, GpustackUser>();
  for (const u of [...upstream].sort((a, b) => a.id - b.id)) if (!byName.has(u.username)) byName.set(u.username, u);
  const candidates = holders.flatMap((row) => {
    const u = row.gpustackUserId !== null ? byId.get(row.gpustackUserId) : linkByUsername ? byName.get(row.username) : undefined;
    return u?.is_admin && u.is_active ? [{ row, upstreamName: u.username }] : [];
  });
  if (candidates.length === 0) return new Map();
  // Loaded only when needed: most syncs promote nobody.
  const { findWellKnownPasswords } = await import('../users/admin-password.js');
  // The plan may rename the user to GPUStack's username as it promotes it: its password must be neither name.
  const tries = candidates.flatMap(({ row, upstreamName }) =>
    [...new Set([row.username, upstreamName])].map((username) => ({ id: row.id, username, hash: row.passwordHash })),
  );
  const weak = new Set((await findWellKnownPasswords(tries)).map((f) => f.id));
  return new Map(candidates.map(({ row }) => [row.id, { hash: row.passwordHash, weak: weak.has(row.id) }]));
}

/** Pages of users or single users asked for at once. */
const CONFIRM_CONCURRENCY = 4;

/**
 * Asks GPUStack for each user the plan would disable, by id: only a user it
 * answers 404 for is gone. Returns the ids confirmed gone.
 */
async function confirmGone(client: GpustackClient, api: ApiVersion, users: Array<{ gpustackId: number; username: string }>): Promise<Set<number>> {
  const gone = new Set<number>();
  let next = 0;
  const worker = async () => {
    while (next < users.length) {
      const user = users[next++]!;
      if (await client.userExists(api, user.gpustackId)) throw listMissed(client.display, user);
      gone.add(user.gpustackId);
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONFIRM_CONCURRENCY, users.length) }, worker));
  return gone;
}

/**
 * Mirrors GPUStack's users into the app's users table. Every page is read
 * before anything is written, so a fetch failure changes nothing; the plan is
 * then built and applied inside one write transaction, so the app never sees
 * half a sync and cannot slip a conflicting row in between plan and apply.
 * A user is disabled only once GPUStack has said, asked by id, that it is
 * gone: a list read while users came and went can leave one out.
 * The caller checks readiness and holds the sync lock (except for a dry run).
 */
export async function syncGpustack(db: Db, settings: GpustackSettings, opts: SyncOptions): Promise<SyncResult> {
  const client = new GpustackClient(settings, opts.tuning ?? DEFAULT_TUNING, opts.onRetry);
  let fetched: UpstreamUsers;
  let serverVersion: string | null;
  let api: ApiVersion;
  const rule = opts.maxDisable ?? DEFAULT_MAX_DISABLE;
  const store = await openSyncStore(db, { readonly: opts.dryRun });
  try {
    let gone: Set<number>;
    try {
      const version = await client.version();
      serverVersion = version?.version ?? null;
      api = (await client.detectApi(version)).api;
      fetched = await fetchAllUsers(client, api, opts.onPage, (opts.tuning ?? DEFAULT_TUNING).pageConcurrency);
      // Outside the write transaction: no lock is held while GPUStack answers.
      // The users a plan would disable: linked, active, and not in the list.
      const linked = await store.readLinked();
      const upstreamIds = new Set(fetched.users.map((u) => u.id));
      const vanished = linked.filter((l) => l.isActive && !upstreamIds.has(l.gpustackId));
      // A plan the guard refuses disables nobody: nothing to ask (an empty list, say).
      const refused = !opts.force && guardRefusesAnyway(vanished.length, linked.length, fetched.users.length, rule);
      gone = refused ? new Set() : await confirmGone(client, api, vanished);
    } finally {
      client.close();
    }
    const adminPasswords = await tryAdminPasswords(store, fetched.users, opts.linkByUsername);
    const run = async () => {
      const plan = buildSyncPlan(fetched.users, await store.readLocalUsers(), {
        linkByUsername: opts.linkByUsername,
        adminPasswords,
        allowWeakPassword: opts.allowWeakPassword,
      });
      const guard = evaluateGuard(plan, fetched.users.length, rule);
      let outcome: SyncOutcome;
      let auditId: number | null = null;
      if (opts.dryRun) outcome = 'dry-run';
      else if (guard.tripped && !opts.force) outcome = 'refused';
      else if (isEmptyPlan(plan)) outcome = 'no-change';
      else {
        // A user linked since the draft (by the app's own sync, say) was not asked about.
        const unconfirmed = plan.disable.find((d) => !gone.has(d.gpustackId));
        if (unconfirmed) {
          throw new AuthctlError(
            'LOCAL_USERS_CHANGED',
            `User ${unconfirmed.username} was linked to GPUStack while GPUStack was being read, so whether it is gone there was not checked.`,
            ExitCode.gpustack,
            'Nothing was changed. Run the sync again.',
          );
        }
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
            // Only that the rule was overridden, never which password matched.
            ...(plan.weakPasswordsAllowed > 0 ? { weakPasswordAllowed: true } : {}),
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
