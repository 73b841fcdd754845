import { hideKnownSecrets, holdsKnownSecret } from '../config/secrets.js';
import type { GpustackUser } from './payload.js';
import { APP_SEEDED_ADMIN } from '../users/admin-placeholder.js';
import { becomesActiveAdmin } from '../users/active-admin.js';
import { usernameProblem } from '../users/validate.js';

/** A local `users` row, as far as sync is concerned. */
export interface LocalUser {
  id: number;
  username: string;
  fullName: string | null;
  isAdmin: boolean;
  isActive: boolean;
  gpustackUserId: number | null;
  /** Never printed: only tried against well-known passwords before a sync makes the user an active admin. */
  passwordHash: string | null;
  sessions: number;
}

export interface PlannedCreate {
  gpustackId: number;
  username: string;
  fullName: string | null;
  isAdmin: boolean;
  isActive: boolean;
}

export type SyncedField = 'username' | 'fullName' | 'isAdmin' | 'isActive';

export interface FieldChange<T = string | boolean | null> {
  from: T;
  to: T;
}

export interface PlannedUpdate {
  userId: number;
  gpustackId: number;
  /** The local username before the sync. */
  username: string;
  changes: Partial<Record<SyncedField, FieldChange>>;
  /** A local-only account taken over with --link-by-username. */
  link: boolean;
  /** Sessions revoked because the user becomes inactive. */
  sessionsRevoked: number;
}

export interface PlannedDisable {
  userId: number;
  gpustackId: number;
  username: string;
  sessionsRevoked: number;
}

export interface SyncConflict {
  gpustackId: number;
  username: string;
  localUserId: number;
  /**
   * `local-account`: a local-only user has the name; `linked-account`: a user
   * linked to another GPUStack id has it; `unusable-username`: the app's login
   * form cannot take GPUStack's username; `unusable-value`: a value does not
   * fit the app's columns (a full name over 255 characters or holding NUL, an
   * id beyond INTEGER), on SQLite as on PostgreSQL; `weak-admin-password`:
   * GPUStack makes an active admin of a local user whose own password is a
   * well-known one, so that part of the update is held back.
   */
  kind: 'local-account' | 'linked-account' | 'duplicate-upstream' | 'unusable-username' | 'unusable-value' | 'weak-admin-password';
  detail: string;
}

export interface SyncPlan {
  create: PlannedCreate[];
  update: PlannedUpdate[];
  disable: PlannedDisable[];
  conflicts: SyncConflict[];
  unchanged: number;
  /** Local users linked to GPUStack before the sync (the guard's base). */
  linked: number;
  /** Users the plan takes from active to inactive: gone upstream (`disable`) or deactivated there (`update`). */
  deactivated: number;
  /** Active admins in the app before and after the plan. */
  activeAdmins: { before: number; after: number };
  sessionsRevoked: number;
  /**
   * No user would be named `admin` afterwards (a rename upstream took the
   * name away): a disabled placeholder keeps it, so the app cannot seed
   * admin/admin.
   */
  reserveAdmin: boolean;
  /** How many users the plan makes active admins although their own password is a well-known one (--allow-weak-password). */
  weakPasswordsAllowed: number;
}

/**
 * What trying the stored passwords of the users a sync may make active
 * admins found, by local user id: the hash tried, and whether it is a
 * well-known password.
 */
export type AdminPasswordVerdicts = ReadonlyMap<number, { hash: string; weak: boolean }>;

export interface PlanOptions {
  linkByUsername: boolean;
  /**
   * Making an active admin of a user with a password of its own is held back
   * as a conflict when that password is well-known, or was not tried (or
   * has changed since).
   */
  adminPasswords?: AdminPasswordVerdicts;
  allowWeakPassword?: boolean;
}

export type MaxDisable = { kind: 'count'; value: number } | { kind: 'percent'; value: number };

export const DEFAULT_MAX_DISABLE: MaxDisable = { kind: 'percent', value: 10 };

export interface GuardVerdict {
  tripped: boolean;
  /** Which rule refused the plan. */
  rule: 'empty-list' | 'max-disable' | 'no-admin' | null;
  reason: string | null;
  /** How many users the rule allows to become inactive here. */
  limit: number;
  /** Users the plan takes from active to inactive, whether gone or deactivated upstream. */
  disable: number;
  linked: number;
  /** Active admins left in the app after the plan. */
  activeAdminsAfter: number;
}

export function isEmptyPlan(plan: SyncPlan): boolean {
  return plan.create.length === 0 && plan.update.length === 0 && plan.disable.length === 0 && !plan.reserveAdmin;
}

/** How many of `linked` users a plan may take from active to inactive. */
function disableLimit(rule: MaxDisable, linked: number): number {
  return rule.kind === 'count' ? rule.value : (rule.value / 100) * linked;
}

/**
 * Whether the guard refuses any plan that disables `vanished` of `linked`
 * users, whatever else it holds (an empty list, or more vanished than the
 * limit): a sync then need not ask GPUStack about each of them.
 */
export function guardRefusesAnyway(vanished: number, linked: number, upstreamCount: number, rule: MaxDisable): boolean {
  return (upstreamCount === 0 && linked > 0) || vanished > disableLimit(rule, linked);
}

/**
 * Refuses a plan that disables too many users: an upstream that answers with a
 * partial or empty list, or marks users inactive wholesale, must not lock
 * everyone out of the app. Every linked user the plan takes from active to
 * inactive counts, whether it vanished or was deactivated upstream. A plan
 * that leaves the app with no active admin (where it had one) is refused
 * too, whatever --max-disable says: nobody could then administer the app.
 */
export function evaluateGuard(plan: SyncPlan, upstreamCount: number, rule: MaxDisable): GuardVerdict {
  const limit = disableLimit(rule, plan.linked);
  const base = { limit: Math.floor(limit), disable: plan.deactivated, linked: plan.linked, activeAdminsAfter: plan.activeAdmins.after };
  if (upstreamCount === 0 && plan.linked > 0) {
    return { ...base, tripped: true, rule: 'empty-list', reason: `GPUStack returned no users while ${plan.linked} local user(s) are linked to it` };
  }
  if (plan.deactivated > limit) {
    const allowed = rule.kind === 'count' ? `${rule.value}` : `${rule.value}% of ${plan.linked} linked users`;
    const inactiveUpstream = plan.deactivated - plan.disable.length;
    const why = inactiveUpstream > 0 ? ` (${plan.disable.length} gone from GPUStack, ${inactiveUpstream} made inactive there)` : '';
    return {
      ...base,
      tripped: true,
      rule: 'max-disable',
      reason: `the plan disables ${plan.deactivated} user(s)${why}, more than --max-disable allows (${allowed})`,
    };
  }
  if (plan.activeAdmins.before > 0 && plan.activeAdmins.after === 0) {
    const held = plan.conflicts.filter((c) => c.kind === 'weak-admin-password').length;
    return {
      ...base,
      tripped: true,
      rule: 'no-admin',
      reason: held
        ? `the plan leaves no active admin in the app: ${held} user(s) GPUStack makes admins were held back for a well-known local password (see the conflicts)`
        : `the plan leaves no active admin in the app (GPUStack made the last one inactive or not an admin)`,
    };
  }
  return { ...base, tripped: false, rule: null, reason: null };
}

/** The longest full name the app's `full_name VARCHAR(255)` column takes (PostgreSQL counts characters). */
const MAX_FULL_NAME = 255;
/** The largest id the app's `gpustack_user_id INTEGER` column takes on PostgreSQL (SQLite is held to the same). */
const MAX_INTEGER = 2_147_483_647;

/** Why a full name does not fit the app's column, or null when it does. */
function fullNameProblem(name: string): string | null {
  if (holdsKnownSecret(name)) return 'the full name holds the GPUStack API key this run was given';
  const length = [...name].length;
  if (length > MAX_FULL_NAME) return `the full name is ${length} characters long; the app's column takes at most ${MAX_FULL_NAME}`;
  if (name.includes('\u0000')) return 'the full name holds a NUL character, which PostgreSQL cannot store';
  return null;
}

/**
 * GPUStack's full name, or the username when it has none, as the app's own
 * sync does: the app cannot serve a user whose full name is NULL.
 */
const fullNameOf = (u: GpustackUser): string => (u.full_name && u.full_name.trim() ? u.full_name : u.username);

/**
 * Compares GPUStack's users with the local ones, matched by gpustack_user_id.
 * Local-only users are never changed, and a local account that merely shares a
 * username is not taken over unless `linkByUsername` says so.
 *
 * A linked user keeps its own password (the app lets it log in with either),
 * so GPUStack making it an active admin is held to the rule `user set
 * --admin` follows: not with a well-known password, unless allowed.
 */
export function buildSyncPlan(upstream: GpustackUser[], local: LocalUser[], opts: PlanOptions): SyncPlan {
  const byGid = new Map<number, LocalUser>();
  for (const row of local) if (row.gpustackUserId !== null) byGid.set(row.gpustackUserId, row);
  const upstreamIds = new Set(upstream.map((u) => u.id));
  const byId = new Map(local.map((row) => [row.id, row]));
  const conflicts: SyncConflict[] = [];
  let weakPasswordsAllowed = 0;

  /** Drops from `changes` the part that would make an active admin of a user with a well-known password. */
  const holdWeakAdmin = (row: LocalUser, u: GpustackUser, changes: PlannedUpdate['changes']): void => {
    const after = { isAdmin: (changes.isAdmin?.to as boolean | undefined) ?? row.isAdmin, isActive: (changes.isActive?.to as boolean | undefined) ?? row.isActive };
    if (!row.passwordHash || !becomesActiveAdmin(row, after)) return;
    const verdict = opts.adminPasswords?.get(row.id);
    const tried = verdict !== undefined && verdict.hash === row.passwordHash;
    if (tried && !verdict.weak) return;
    if (tried && opts.allowWeakPassword) {
      weakPasswordsAllowed++;
      return;
    }
    // A promotion keeps the user active but not an admin; an admin enabled again stays disabled.
    const promotion = changes.isAdmin !== undefined;
    if (promotion) delete changes.isAdmin;
    else delete changes.isActive;
    const held = promotion ? 'not made an admin' : 'not enabled';
    conflicts.push({
      gpustackId: u.id,
      username: u.username,
      localUserId: row.id,
      kind: 'weak-admin-password',
      detail: tried
        ? `GPUStack makes it an active admin, but its local password is a well-known one; ${held} (give it a strong password with authctl user reset, or sync with --allow-weak-password)`
        : `its password changed while it was being checked; ${held} (sync again)`,
    });
  };

  // The username each local row will hold afterwards; usernames are unique in the app.
  const finalName = new Map<number, string>(local.map((row) => [row.id, row.username]));
  const matched: Array<{ u: GpustackUser; row: LocalUser }> = [];
  const unmatched: GpustackUser[] = [];
  const seenNames = new Set<string>();
  for (const u of [...upstream].sort((a, b) => a.id - b.id)) {
    if (seenNames.has(u.username)) {
      const row = byGid.get(u.id);
      conflicts.push({ gpustackId: u.id, username: u.username, localUserId: row?.id ?? 0, kind: 'duplicate-upstream', detail: 'GPUStack listed this username twice' });
      continue;
    }
    seenNames.add(u.username);
    const row = byGid.get(u.id);
    // A server that echoes the key into a user's fields would have it stored, then printed by every listing.
    const unusable = usernameProblem(u.username) ?? (holdsKnownSecret(u.username) ? 'the username holds the GPUStack API key this run was given' : null);
    if (unusable && !row) {
      // Never written: the user could not log in, and a name with control
      // characters would reach every terminal that lists users.
      conflicts.push({ gpustackId: u.id, username: u.username, localUserId: 0, kind: 'unusable-username', detail: `${unusable}; not created` });
      continue;
    }
    // Values that do not fit the app's columns are never written either, so
    // SQLite (which would take them) and PostgreSQL (which would fail) agree.
    // (A linked row already holds its id, so only a new user's id can fail to fit.)
    const misfit = fullNameProblem(fullNameOf(u));
    const idMisfit = u.id > MAX_INTEGER ? `the id does not fit the app's INTEGER column (at most ${MAX_INTEGER})` : null;
    if ((misfit || idMisfit) && !row) {
      conflicts.push({ gpustackId: u.id, username: u.username, localUserId: 0, kind: 'unusable-value', detail: `${misfit ?? idMisfit}; not created` });
      continue;
    }
    if (row) {
      let kept = u;
      if (unusable) {
        conflicts.push({ gpustackId: u.id, username: u.username, localUserId: row.id, kind: 'unusable-username', detail: `${unusable}; kept the old name` });
        kept = { ...kept, username: row.username };
      }
      if (misfit) {
        conflicts.push({ gpustackId: u.id, username: u.username, localUserId: row.id, kind: 'unusable-value', detail: `${misfit}; kept the old full name` });
        kept = { ...kept, full_name: row.fullName };
      }
      matched.push({ u: kept, row });
      if (!unusable) finalName.set(row.id, u.username);
    } else {
      unmatched.push(u);
    }
  }

  // A rename onto a name that another row keeps is held back (the rest of the
  // update still applies). Holding one back can block another, so repeat.
  const blockedRename = new Set<number>();
  for (let changed = true; changed; ) {
    changed = false;
    const owners = new Map<string, number[]>();
    for (const [id, name] of finalName) {
      const list = owners.get(name);
      if (list) list.push(id);
      else owners.set(name, [id]);
    }
    for (const { u, row } of matched) {
      if (blockedRename.has(row.id) || row.username === u.username) continue;
      const others = (owners.get(u.username) ?? []).filter((id) => id !== row.id);
      if (others.length > 0) {
        blockedRename.add(row.id);
        finalName.set(row.id, row.username);
        const holder = byId.get(others[0]!)!;
        conflicts.push({
          gpustackId: u.id,
          username: u.username,
          localUserId: holder.id,
          kind: holder.gpustackUserId === null ? 'local-account' : 'linked-account',
          detail: `renamed upstream from "${row.username}", but local user #${holder.id} already has that name; kept the old name`,
        });
        changed = true;
      }
    }
  }

  const update: PlannedUpdate[] = [];
  let unchanged = 0;
  for (const { u, row } of matched) {
    const changes: PlannedUpdate['changes'] = {};
    if (!blockedRename.has(row.id) && row.username !== u.username) changes.username = { from: row.username, to: u.username };
    if (row.fullName !== fullNameOf(u)) changes.fullName = { from: row.fullName, to: fullNameOf(u) };
    if (row.isAdmin !== u.is_admin) changes.isAdmin = { from: row.isAdmin, to: u.is_admin };
    if (row.isActive !== u.is_active) changes.isActive = { from: row.isActive, to: u.is_active };
    holdWeakAdmin(row, u, changes);
    if (Object.keys(changes).length === 0) {
      unchanged++;
      continue;
    }
    const deactivated = row.isActive && !u.is_active;
    update.push({ userId: row.id, gpustackId: u.id, username: row.username, changes, link: false, sessionsRevoked: deactivated ? row.sessions : 0 });
  }

  const holderOf = new Map<string, LocalUser>();
  for (const row of local) holderOf.set(finalName.get(row.id)!, row);
  const linkedNow = new Set<number>();
  const create: PlannedCreate[] = [];
  for (const u of unmatched) {
    const holder = holderOf.get(u.username);
    if (!holder) {
      create.push({ gpustackId: u.id, username: u.username, fullName: fullNameOf(u), isAdmin: u.is_admin, isActive: u.is_active });
      continue;
    }
    if (holder.gpustackUserId === null && opts.linkByUsername && !linkedNow.has(holder.id)) {
      linkedNow.add(holder.id);
      const changes: PlannedUpdate['changes'] = {};
      if (holder.fullName !== fullNameOf(u)) changes.fullName = { from: holder.fullName, to: fullNameOf(u) };
      if (holder.isAdmin !== u.is_admin) changes.isAdmin = { from: holder.isAdmin, to: u.is_admin };
      if (holder.isActive !== u.is_active) changes.isActive = { from: holder.isActive, to: u.is_active };
      holdWeakAdmin(holder, u, changes);
      const deactivated = holder.isActive && !u.is_active;
      update.push({ userId: holder.id, gpustackId: u.id, username: holder.username, changes, link: true, sessionsRevoked: deactivated ? holder.sessions : 0 });
      continue;
    }
    conflicts.push({
      gpustackId: u.id,
      username: u.username,
      localUserId: holder.id,
      kind: holder.gpustackUserId === null ? 'local-account' : 'linked-account',
      detail:
        holder.gpustackUserId === null
          ? 'a local-only user has this username; not linked (use --link-by-username to link it)'
          : `the local user with this name is linked to GPUStack user ${holder.gpustackUserId}; not taken over`,
    });
  }

  const disable: PlannedDisable[] = [];
  for (const row of local) {
    if (row.gpustackUserId === null || upstreamIds.has(row.gpustackUserId) || !row.isActive) continue;
    disable.push({ userId: row.id, gpustackId: row.gpustackUserId, username: row.username, sessionsRevoked: row.sessions });
  }

  const deactivated = disable.length + update.filter((u) => u.changes.isActive?.from === true && u.changes.isActive.to === false).length;
  const activeAdmins = { before: 0, after: 0 };
  const after = new Map(local.map((row) => [row.id, { isAdmin: row.isAdmin, isActive: row.isActive }]));
  for (const u of update) {
    const state = after.get(u.userId)!;
    if (u.changes.isAdmin) state.isAdmin = u.changes.isAdmin.to as boolean;
    if (u.changes.isActive) state.isActive = u.changes.isActive.to as boolean;
  }
  for (const d of disable) after.get(d.userId)!.isActive = false;
  for (const row of local) if (row.isAdmin && row.isActive) activeAdmins.before++;
  for (const state of after.values()) if (state.isAdmin && state.isActive) activeAdmins.after++;
  for (const c of create) if (c.isAdmin && c.isActive) activeAdmins.after++;

  const sessionsRevoked = update.reduce((n, u) => n + u.sessionsRevoked, 0) + disable.reduce((n, d) => n + d.sessionsRevoked, 0);
  const namesAfter = new Set(local.map((row) => row.username));
  for (const u of update) if (u.changes.username) namesAfter.delete(u.changes.username.from as string);
  for (const u of update) if (u.changes.username) namesAfter.add(u.changes.username.to as string);
  for (const c of create) namesAfter.add(c.username);
  return {
    create,
    update: update.sort((a, b) => a.userId - b.userId),
    disable,
    // A conflict names the user as GPUStack sent it, but never with the key a server echoed into it.
    conflicts: conflicts.map((c) => ({ ...c, username: hideKnownSecrets(c.username) })).sort((a, b) => a.gpustackId - b.gpustackId),
    unchanged,
    linked: byGid.size,
    deactivated,
    activeAdmins,
    sessionsRevoked,
    reserveAdmin: !namesAfter.has(APP_SEEDED_ADMIN),
    weakPasswordsAllowed,
  };
}
