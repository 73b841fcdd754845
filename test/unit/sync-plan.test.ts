import { describe, expect, it } from 'vitest';
import { parseMaxDisable } from '../../src/commands/gpustack/sync.js';
import type { GpustackUser } from '../../src/core/gpustack/payload.js';
import { buildSyncPlan, evaluateGuard, type LocalUser, type SyncPlan } from '../../src/core/gpustack/plan.js';

const up = (id: number, username: string, more: Partial<GpustackUser> = {}): GpustackUser => ({
  id, username, full_name: username.toUpperCase(), is_admin: false, is_active: true, source: 'local', ...more,
});

let nextId = 1;
const local = (username: string, more: Partial<LocalUser> = {}): LocalUser => ({
  id: nextId++, username, fullName: username.toUpperCase(), isAdmin: false, isActive: true, gpustackUserId: null, passwordHash: null, sessions: 0, ...more,
});

const plan = (upstream: GpustackUser[], rows: LocalUser[], linkByUsername = false) => buildSyncPlan(upstream, rows, { linkByUsername });

describe('buildSyncPlan', () => {
  it('leaves matched users that agree alone and counts them', () => {
    const admin = local('admin', { gpustackUserId: 1, isAdmin: true });
    const p = plan([up(1, 'admin', { is_admin: true })], [admin]);
    expect(p).toMatchObject({ create: [], update: [], disable: [], conflicts: [], unchanged: 1, linked: 1, sessionsRevoked: 0, reserveAdmin: false });
  });

  it('creates upstream users it has no row for, naming one without a full name after its username', () => {
    const p = plan([up(1, 'admin'), up(2, 'alice', { full_name: null, is_admin: true }), up(3, 'bob', { full_name: '  ', is_active: false })], [local('admin', { gpustackUserId: 1, fullName: 'ADMIN' })]);
    expect(p.create).toEqual([
      { gpustackId: 2, username: 'alice', fullName: 'alice', isAdmin: true, isActive: true },
      { gpustackId: 3, username: 'bob', fullName: 'bob', isAdmin: false, isActive: false },
    ]);
  });

  it('updates only the fields that differ, matched by GPUStack id, and revokes the sessions of a user it deactivates', () => {
    const alice = local('alice', { gpustackUserId: 7, sessions: 4 });
    const bob = local('bob', { gpustackUserId: 8, sessions: 2 });
    const p = plan([up(7, 'alice2', { full_name: 'ALICE', is_active: false }), up(8, 'bob', { full_name: 'Bob B', is_admin: true }), up(9, 'admin')], [local('admin', { gpustackUserId: 9 }), alice, bob]);
    expect(p.update).toEqual([
      { userId: alice.id, gpustackId: 7, username: 'alice', link: false, sessionsRevoked: 4, changes: { username: { from: 'alice', to: 'alice2' }, isActive: { from: true, to: false } } },
      { userId: bob.id, gpustackId: 8, username: 'bob', link: false, sessionsRevoked: 0, changes: { fullName: { from: 'BOB', to: 'Bob B' }, isAdmin: { from: false, to: true } } },
    ]);
    expect(p.sessionsRevoked).toBe(4);
    expect(p.unchanged).toBe(1);
  });

  it('disables active linked users GPUStack no longer lists, never local-only or already inactive ones', () => {
    const gone = local('gone', { gpustackUserId: 5, sessions: 3 });
    const p = plan([up(1, 'admin')], [local('admin', { gpustackUserId: 1 }), gone, local('off', { gpustackUserId: 6, isActive: false }), local('localonly')]);
    expect(p.disable).toEqual([{ userId: gone.id, gpustackId: 5, username: 'gone', sessionsRevoked: 3 }]);
    expect(p.linked).toBe(3);
    expect(p.sessionsRevoked).toBe(3);
  });

  it('does not take over a local-only account that shares a name, unless told to link by username', () => {
    const carol = local('carol', { sessions: 1 });
    const rows = [local('admin', { gpustackUserId: 1 }), carol];
    const upstream = [up(1, 'admin'), up(4, 'carol', { is_active: false })];
    const refused = plan(upstream, rows);
    expect(refused.create).toEqual([]);
    expect(refused.update).toEqual([]);
    expect(refused.conflicts).toEqual([expect.objectContaining({ gpustackId: 4, username: 'carol', localUserId: carol.id, kind: 'local-account' })]);
    expect(refused.conflicts[0]!.detail).toMatch(/--link-by-username/);
    const linked = plan(upstream, rows, true);
    expect(linked.conflicts).toEqual([]);
    expect(linked.update).toEqual([{ userId: carol.id, gpustackId: 4, username: 'carol', link: true, sessionsRevoked: 1, changes: { isActive: { from: true, to: false } } }]);
  });

  it('never takes over a name held by a user linked to another GPUStack id', () => {
    const dave = local('dave', { gpustackUserId: 10 });
    const p = plan([up(10, 'dave'), up(11, 'dave-new'), up(12, 'dave', {}), up(1, 'admin')], [local('admin', { gpustackUserId: 1 }), dave], true);
    // GPUStack listing a name twice is a conflict of its own.
    expect(p.conflicts.map((c) => [c.gpustackId, c.kind])).toEqual([[12, 'duplicate-upstream']]);
    const q = plan([up(1, 'admin'), up(13, 'dave')], [local('admin', { gpustackUserId: 1 }), dave], true);
    expect(q.conflicts).toEqual([expect.objectContaining({ gpustackId: 13, localUserId: dave.id, kind: 'linked-account' })]);
    expect(q.create).toEqual([]);
  });

  it('holds back a rename onto a name another row keeps, but applies the rest of that update', () => {
    const erin = local('erin', { gpustackUserId: 20 });
    const frank = local('frank');
    const p = plan([up(1, 'admin'), up(20, 'frank', { is_admin: true })], [local('admin', { gpustackUserId: 1 }), erin, frank]);
    expect(p.update).toEqual([expect.objectContaining({ userId: erin.id, changes: { fullName: { from: 'ERIN', to: 'FRANK' }, isAdmin: { from: false, to: true } } })]);
    expect(p.conflicts).toEqual([expect.objectContaining({ gpustackId: 20, username: 'frank', localUserId: frank.id, kind: 'local-account' })]);
    expect(p.conflicts[0]!.detail).toMatch(/kept the old name/);
  });

  it('never writes a username the app cannot take', () => {
    const gina = local('gina', { gpustackUserId: 30 });
    const p = plan([up(1, 'admin'), up(30, 'gina\x1b[2J', { full_name: 'GINA' }), up(31, 'x'.repeat(51))], [local('admin', { gpustackUserId: 1 }), gina]);
    expect(p.conflicts.map((c) => [c.gpustackId, c.kind, c.detail.replace(/^.*; /, '')])).toEqual([
      [30, 'unusable-username', 'kept the old name'],
      [31, 'unusable-username', 'not created'],
    ]);
    expect(p.create).toEqual([]);
    expect(p.update).toEqual([]);
  });

  it('reserves the name admin when no user would hold it afterwards', () => {
    const admin = local('admin', { gpustackUserId: 1 });
    expect(plan([up(1, 'root')], [admin]).reserveAdmin).toBe(true);
    expect(plan([up(1, 'admin')], [admin]).reserveAdmin).toBe(false);
    expect(plan([up(2, 'admin')], []).reserveAdmin).toBe(false);
  });
});

describe('buildSyncPlan: admins with a password of their own', () => {
  const WEAK = '$2b$04$weakweakweakweakweakweOq3X0Xv1xS6bS0g0m0mZ8c8m8e8k8m8a';
  const STRONG = '$2b$04$strongstrongstrongstroe1Xk1y9nV6p5fM2q0a0b0c0d0e0f0g0';
  const verdicts = (...rows: Array<[LocalUser, boolean]>) => new Map(rows.map(([row, weak]) => [row.id, { hash: row.passwordHash!, weak }]));

  it('leaves alone users without a password of their own, and active admins already', () => {
    const gpu = local('gpu', { gpustackUserId: 10 });
    const kept = local('kept', { gpustackUserId: 11, isAdmin: true, passwordHash: WEAK, fullName: 'OLD' });
    const p = buildSyncPlan([up(10, 'gpu', { is_admin: true }), up(11, 'kept', { is_admin: true, full_name: 'K' })], [gpu, kept], { linkByUsername: false, adminPasswords: new Map() });
    expect(p.conflicts).toEqual([]);
    expect(p.update.map((u) => u.changes)).toEqual([{ isAdmin: { from: false, to: true } }, { fullName: { from: 'OLD', to: 'K' } }]);
  });

  it('holds back the promotion of a weak password and enabling a weak admin again, as conflicts, and applies the rest', () => {
    const bob = local('bob', { gpustackUserId: 8, passwordHash: WEAK, fullName: 'Old' });
    const ann = local('ann', { gpustackUserId: 9, isAdmin: true, isActive: false, passwordHash: WEAK });
    const dan = local('dan', { gpustackUserId: 10, passwordHash: STRONG });
    const carol = local('carol', { passwordHash: WEAK });
    const upstream = [up(1, 'admin', { is_admin: true }), up(8, 'bob', { is_admin: true, full_name: 'New' }), up(9, 'ann', { is_admin: true }), up(10, 'dan', { is_admin: true }), up(12, 'carol', { is_admin: true })];
    const rows = [local('admin', { gpustackUserId: 1, isAdmin: true }), bob, ann, dan, carol];
    const p = buildSyncPlan(upstream, rows, { linkByUsername: true, adminPasswords: verdicts([bob, true], [ann, true], [dan, false], [carol, true]) });
    expect(p.update.find((u) => u.userId === bob.id)!.changes).toEqual({ fullName: { from: 'Old', to: 'New' } });
    // Nothing else to change for ann: counted as unchanged, not updated.
    expect(p.update.find((u) => u.userId === ann.id)).toBeUndefined();
    expect(p.update.find((u) => u.userId === dan.id)!.changes).toEqual({ isAdmin: { from: false, to: true } });
    // carol is still linked, as asked, but not made an admin.
    expect(p.update.find((u) => u.userId === carol.id)).toMatchObject({ link: true, changes: {} });
    expect(p.conflicts.map((c) => [c.localUserId, c.kind])).toEqual([
      [bob.id, 'weak-admin-password'],
      [ann.id, 'weak-admin-password'],
      [carol.id, 'weak-admin-password'],
    ]);
    expect(p.conflicts[0]!.detail).toMatch(/well-known one; not made an admin \(give it a strong password with authctl user reset, or sync with --allow-weak-password\)/);
    expect(p.conflicts[1]!.detail).toMatch(/; not enabled/);
    // Held back, they are not counted as admins after the plan.
    expect(p.activeAdmins).toEqual({ before: 1, after: 2 });
    expect(p.weakPasswordsAllowed).toBe(0);
  });

  it('says so when the only admin left after the plan is one it holds back', () => {
    const alice = local('alice', { gpustackUserId: 7, isAdmin: true, passwordHash: STRONG });
    const bob = local('bob', { gpustackUserId: 8, passwordHash: WEAK });
    const p = buildSyncPlan([up(7, 'alice'), up(8, 'bob', { is_admin: true })], [alice, bob], { linkByUsername: false, adminPasswords: verdicts([bob, true]) });
    expect(p.activeAdmins).toEqual({ before: 1, after: 0 });
    const guard = evaluateGuard(p, 2, { kind: 'percent', value: 10 });
    expect(guard).toMatchObject({ tripped: true, rule: 'no-admin' });
    expect(guard.reason).toMatch(/1 user\(s\) GPUStack makes admins were held back for a well-known local password/);
  });

  it('applies them with allowWeakPassword, counting the override', () => {
    const bob = local('bob', { gpustackUserId: 8, passwordHash: WEAK });
    const p = buildSyncPlan([up(8, 'bob', { is_admin: true })], [bob], { linkByUsername: false, adminPasswords: verdicts([bob, true]), allowWeakPassword: true });
    expect(p.update[0]!.changes).toEqual({ isAdmin: { from: false, to: true } });
    expect(p.conflicts).toEqual([]);
    expect(p.weakPasswordsAllowed).toBe(1);
  });

  it('holds back a promotion whose password was not tried or has changed since, even with allowWeakPassword', () => {
    const bob = local('bob', { gpustackUserId: 8, passwordHash: STRONG });
    const tried = new Map([[bob.id, { hash: WEAK, weak: false }]]);
    for (const adminPasswords of [new Map(), tried]) {
      const p = buildSyncPlan([up(8, 'bob', { is_admin: true })], [bob], { linkByUsername: false, adminPasswords, allowWeakPassword: true });
      expect(p.update).toEqual([]);
      expect(p.conflicts).toEqual([expect.objectContaining({ kind: 'weak-admin-password', detail: expect.stringMatching(/changed while it was being checked; not made an admin \(sync again\)/) })]);
    }
  });
});

describe('evaluateGuard', () => {
  const withDisables = (disable: number, linked: number): SyncPlan => ({
    create: [], update: [], conflicts: [], unchanged: 0, sessionsRevoked: 0, reserveAdmin: false, linked, deactivated: disable, activeAdmins: { before: 1, after: 1 },
    weakPasswordsAllowed: 0,
    disable: Array.from({ length: disable }, (_, i) => ({ userId: i + 1, gpustackId: i + 1, username: `u${i}`, sessionsRevoked: 0 })),
  });

  it('allows up to the share of linked users, and refuses one more', () => {
    expect(evaluateGuard(withDisables(2, 20), 18, { kind: 'percent', value: 10 })).toEqual({ tripped: false, rule: null, reason: null, limit: 2, disable: 2, linked: 20, activeAdminsAfter: 1 });
    const over = evaluateGuard(withDisables(3, 20), 17, { kind: 'percent', value: 10 });
    expect(over).toMatchObject({ tripped: true, limit: 2, disable: 3, linked: 20 });
    expect(over.reason).toBe('the plan disables 3 user(s), more than --max-disable allows (10% of 20 linked users)');
  });

  it('counts a fixed number when given one', () => {
    expect(evaluateGuard(withDisables(5, 100), 95, { kind: 'count', value: 5 }).tripped).toBe(false);
    expect(evaluateGuard(withDisables(6, 100), 94, { kind: 'count', value: 5 })).toMatchObject({ tripped: true, reason: expect.stringContaining('(5)') });
    expect(evaluateGuard(withDisables(1, 100), 99, { kind: 'count', value: 0 }).tripped).toBe(true);
  });

  it('refuses an empty upstream whenever users are linked, whatever the rule allows', () => {
    const v = evaluateGuard(withDisables(3, 3), 0, { kind: 'percent', value: 100 });
    expect(v).toMatchObject({ tripped: true, reason: 'GPUStack returned no users while 3 local user(s) are linked to it' });
    expect(evaluateGuard(withDisables(0, 0), 0, { kind: 'count', value: 0 }).tripped).toBe(false);
  });
});

describe('guard over deactivations and admins', () => {
  it('counts users made inactive upstream with the vanished ones', () => {
    const rows = Array.from({ length: 10 }, (_, i) => local(`g${i}`, { gpustackUserId: 100 + i }));
    const upstream = rows.slice(1).map((r, i) => up(r.gpustackUserId!, r.username, { full_name: r.fullName, is_active: i > 1 }));
    const p = plan(upstream, [local('admin', { isAdmin: true }), ...rows]);
    expect(p).toMatchObject({ deactivated: 3, linked: 10 });
    expect(evaluateGuard(p, upstream.length, { kind: 'count', value: 2 })).toMatchObject({
      tripped: true,
      rule: 'max-disable',
      disable: 3,
      reason: 'the plan disables 3 user(s) (1 gone from GPUStack, 2 made inactive there), more than --max-disable allows (2)',
    });
    expect(evaluateGuard(p, upstream.length, { kind: 'count', value: 3 }).tripped).toBe(false);
  });

  it('refuses a plan that leaves no active admin, and takes one that keeps another', () => {
    const admin = local('boss', { gpustackUserId: 1, isAdmin: true });
    const demoted = plan([up(1, 'boss', { full_name: 'BOSS', is_admin: false })], [admin]);
    expect(demoted.activeAdmins).toEqual({ before: 1, after: 0 });
    expect(evaluateGuard(demoted, 1, { kind: 'percent', value: 100 })).toMatchObject({ tripped: true, rule: 'no-admin', activeAdminsAfter: 0 });
    expect(evaluateGuard(demoted, 1, { kind: 'percent', value: 100 }).reason).toMatch(/GPUStack made the last one inactive or not an admin/);
    const replaced = plan([up(1, 'boss', { full_name: 'BOSS', is_admin: false }), up(2, 'new-boss', { is_admin: true })], [admin]);
    expect(evaluateGuard(replaced, 2, { kind: 'percent', value: 100 }).tripped).toBe(false);
  });
});

describe('values that do not fit the app\'s columns', () => {
  it('does not create a user whose full name or id does not fit, and keeps a linked user\'s old full name', () => {
    const seven = local('seven', { gpustackUserId: 7 });
    const p = plan([up(7, 'seven', { full_name: 'é'.repeat(256), is_admin: true }), up(8, 'eight', { full_name: 'x'.repeat(255) }), up(2 ** 31, 'huge')], [seven]);
    expect(p.create.map((c) => c.gpustackId)).toEqual([8]);
    expect(p.update).toEqual([expect.objectContaining({ userId: seven.id, changes: { isAdmin: { from: false, to: true } } })]);
    expect(p.conflicts.map((c) => [c.gpustackId, c.kind])).toEqual([[7, 'unusable-value'], [2 ** 31, 'unusable-value']]);
  });
});

describe('parseMaxDisable', () => {
  it('reads a count or a percentage', () => {
    expect(parseMaxDisable('5')).toEqual({ kind: 'count', value: 5 });
    expect(parseMaxDisable(' 0 ')).toEqual({ kind: 'count', value: 0 });
    expect(parseMaxDisable('25%')).toEqual({ kind: 'percent', value: 25 });
    expect(parseMaxDisable('12.5%')).toEqual({ kind: 'percent', value: 12.5 });
    expect(parseMaxDisable('100%')).toEqual({ kind: 'percent', value: 100 });
  });

  it('refuses anything else with exit 2', () => {
    for (const text of ['', '-1', '1.5', '101%', '%', 'ten', '5 %', '0x10']) {
      expect(() => parseMaxDisable(text), text).toThrow(expect.objectContaining({ exitCode: 2, message: expect.stringContaining('--max-disable') }));
    }
  });
});
