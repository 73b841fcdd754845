import { randomBytes } from 'node:crypto';
import type { DatabaseTarget } from '../config.js';
import { writeAuditSqlite } from '../audit.js';
import { databaseError } from '../errors.js';
import { acquireJobLock } from '../lock.js';
import { assertSqliteReady } from '../db/open.js';
import { openSqlite, type SqliteDb } from '../db/sqlite.js';
import { formatAppTimestamp } from '../timestamps.js';
import { DEFAULT_TUNING, GpustackClient, type ApiVersion, type ClientTuning, type GpustackSettings, type RetryNotice } from './client.js';
import { fetchAllUsers, type PageProgress } from './fetch-users.js';
import {
  buildSyncPlan,
  DEFAULT_MAX_DISABLE,
  evaluateGuard,
  isEmptyPlan,
  type GuardVerdict,
  type LocalUser,
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

function readLocalUsers(db: SqliteDb): LocalUser[] {
  const sessions = new Map<number, number>(
    db.prepare('SELECT user_id, count(*) FROM user_sessions GROUP BY user_id').raw().all() as Array<[number, number]>,
  );
  const rows = db
    .prepare('SELECT id, username, full_name, is_admin, is_active, gpustack_user_id FROM users ORDER BY id')
    .raw()
    .all() as Array<[number, string, string | null, number, number, number | null]>;
  return rows.map(([id, username, fullName, isAdmin, isActive, gpustackUserId]) => ({
    id,
    username,
    fullName,
    isAdmin: Boolean(isAdmin),
    isActive: Boolean(isActive),
    gpustackUserId,
    sessions: sessions.get(id) ?? 0,
  }));
}

const bit = (b: boolean) => (b ? 1 : 0);

/**
 * Writes the plan: renames first (through a temporary name where two users
 * swap names, since usernames are unique at every step), then creates, then
 * disables, revoking the sessions of everyone who becomes inactive.
 */
function applyPlan(db: SqliteDb, plan: SyncPlan, now: string): void {
  const renames = plan.update.filter((u) => u.changes.username);
  if (renames.length > 0) {
    const park = db.prepare('UPDATE users SET username = ? WHERE id = ?');
    const tag = randomBytes(6).toString('hex');
    for (const u of renames) park.run(`authctl-sync-rename-${tag}-${u.userId}`, u.userId);
  }
  const update = db.prepare(
    `UPDATE users SET username = coalesce(?, username), full_name = CASE WHEN ? THEN ? ELSE full_name END,
            is_admin = coalesce(?, is_admin), is_active = coalesce(?, is_active),
            gpustack_user_id = ?, updated_at = ? WHERE id = ?`,
  );
  const revoke = db.prepare('DELETE FROM user_sessions WHERE user_id = ?');
  for (const u of plan.update) {
    const c = u.changes;
    update.run(
      c.username ? (c.username.to as string) : null,
      c.fullName ? 1 : 0,
      c.fullName ? c.fullName.to : null,
      c.isAdmin ? bit(c.isAdmin.to as boolean) : null,
      c.isActive ? bit(c.isActive.to as boolean) : null,
      u.gpustackId,
      now,
      u.userId,
    );
    if (c.isActive && c.isActive.to === false) revoke.run(u.userId);
  }
  const insert = db.prepare(
    `INSERT INTO users (username, email, password_hash, full_name, is_admin, is_active, gpustack_user_id, preferences, created_at, updated_at, last_login)
     VALUES (?, NULL, NULL, ?, ?, ?, ?, NULL, ?, ?, NULL)`,
  );
  for (const c of plan.create) insert.run(c.username, c.fullName, bit(c.isAdmin), bit(c.isActive), c.gpustackId, now, now);
  const disable = db.prepare('UPDATE users SET is_active = 0, updated_at = ? WHERE id = ?');
  for (const d of plan.disable) {
    disable.run(now, d.userId);
    revoke.run(d.userId);
  }
}

function auditSummary(plan: SyncPlan): string {
  const linked = plan.update.filter((u) => u.link).length;
  return (
    `gpustack sync: ${plan.create.length} created, ${plan.update.length} updated` +
    `${linked ? ` (${linked} linked by username)` : ''}, ${plan.disable.length} disabled, ` +
    `${plan.sessionsRevoked} session(s) revoked, ${plan.conflicts.length} conflict(s)`
  );
}

/**
 * Mirrors GPUStack's users into the app's users table. Every page is read
 * before anything is written, so a fetch failure changes nothing; the plan is
 * then built and applied inside one write transaction, so the app never sees
 * half a sync and cannot slip a conflicting row in between plan and apply.
 */
export async function syncGpustack(target: DatabaseTarget, settings: GpustackSettings, opts: SyncOptions): Promise<SyncResult> {
  if (target.provider !== 'sqlite') {
    throw databaseError(
      'PROVIDER_UNSUPPORTED',
      'PostgreSQL databases are not supported by this version of authctl yet.',
      "Point DATABASE_URL (or -d) at the app's SQLite file.",
    );
  }
  assertSqliteReady(target.file);
  const lock = opts.dryRun ? null : await acquireJobLock(target, 'sync', 0);
  try {
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
    const db = openSqlite(target.file, { readonly: opts.dryRun });
    try {
      const run = () => {
        const plan = buildSyncPlan(fetched.users, readLocalUsers(db), { linkByUsername: opts.linkByUsername });
        const guard = evaluateGuard(plan, fetched.users.length, rule);
        let outcome: SyncOutcome;
        let auditId: number | null = null;
        if (opts.dryRun) outcome = 'dry-run';
        else if (guard.tripped && !opts.force) outcome = 'refused';
        else if (isEmptyPlan(plan)) outcome = 'no-change';
        else {
          applyPlan(db, plan, formatAppTimestamp(new Date()));
          auditId = writeAuditSqlite(db, {
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
              forced: guard.tripped && opts.force,
            },
          });
          outcome = 'applied';
        }
        return { plan, guard, outcome, auditId };
      };
      const { plan, guard, outcome, auditId } = opts.dryRun ? run() : db.transaction(run).immediate();
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
      db.close();
    }
  } finally {
    await lock?.release();
  }
}
