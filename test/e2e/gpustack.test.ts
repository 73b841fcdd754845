import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import bcrypt from 'bcryptjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasStackTrace, runCli, tempDir, type CliResult } from '../support/cli.js';
import { appTimestamp, cli, describeProviders, fakeJwt, holdJobLock, type ProviderName, type TestDb, unparseable } from '../support/db.js';
import { ADMIN_KEY, INFERENCE_KEY, makeUser, makeUsers, startGpustackStandIn, syncSnapshot, GPUSTACK_FAST_ENV, type GpustackStandIn } from '../support/gpustack-server.js';

const FAST = GPUSTACK_FAST_ENV;
const snapshot = syncSnapshot;

function users(db: TestDb): Promise<Array<Record<string, unknown>>> {
  return db.query('SELECT * FROM users ORDER BY id');
}

async function byGid(db: TestDb, gid: number): Promise<Record<string, unknown> | undefined> {
  return (await db.query<Record<string, unknown>>('SELECT * FROM users WHERE gpustack_user_id = ?', gid))[0];
}

function auditRows(db: TestDb): Promise<Array<Record<string, unknown>>> {
  return db.query("SELECT * FROM authctl_audit WHERE command = 'gpustack sync' ORDER BY id");
}

/** A boolean as the provider's driver takes it. */
const bool = (provider: ProviderName, b: boolean) => (provider === 'sqlite' ? (b ? 1 : 0) : b);

async function addLocalUser(
  db: TestDb,
  username: string,
  extra: { gpustackUserId?: number; fullName?: string; passwordHash?: string; isAdmin?: boolean; isActive?: boolean } = {},
): Promise<number> {
  const now = appTimestamp(new Date());
  const [row] = await db.query<{ id: number }>(
    'INSERT INTO users (username, email, password_hash, full_name, is_admin, is_active, gpustack_user_id, created_at, updated_at) VALUES (?, NULL, ?, ?, ?, ?, ?, ?, ?) RETURNING id',
    username, extra.passwordHash ?? '$2b$10$abcdefghijklmnopqrstuuVQ1Uy3M6cWm8Z0n6b7l2bK5sS5mR0Gy', extra.fullName ?? null,
    bool(db.provider, extra.isAdmin ?? false), bool(db.provider, extra.isActive ?? true), extra.gpustackUserId ?? null, now, now,
  );
  return Number(row!.id);
}

async function addSessions(db: TestDb, userId: number, count: number): Promise<void> {
  const now = new Date();
  for (let i = 0; i < count; i++) {
    await db.query(
      'INSERT INTO user_sessions (user_id, session_token, jti, token_type, expires_at, created_at, last_accessed) VALUES (?, ?, ?, ?, ?, ?, ?)',
      userId, fakeJwt(), randomBytes(16).toString('hex'), 'refresh', appTimestamp(new Date(now.getTime() + 86_400_000)), appTimestamp(now), appTimestamp(now),
    );
  }
}

async function sessionsOf(db: TestDb, userId: number): Promise<number> {
  const [row] = await db.query<{ n: number }>('SELECT count(*) AS n FROM user_sessions WHERE user_id = ?', userId);
  return row!.n;
}

function sync(server: GpustackStandIn, db: TestDb, args: string[] = [], env: Record<string, string> = {}): Promise<CliResult> {
  return cli(db, ['gpustack', 'sync', ...args], { env: { ...FAST, GPUSTACK_API_BASE: server.url, GPUSTACK_API_TOKEN: ADMIN_KEY, ...env } });
}

function expectNoSecrets(r: CliResult): void {
  for (const key of [ADMIN_KEY, INFERENCE_KEY]) {
    expect(r.stdout).not.toContain(key);
    expect(r.stderr).not.toContain(key);
  }
}

/** The upstream of most tests: GPUStack's admin plus 20 ordinary users (ids 2..21). */
function standardUsers() {
  return [makeUser(1, 'admin', { is_admin: true, full_name: 'Default System Admin' }), ...makeUsers(20, 2)];
}

// `gpustack check` never opens a database (DATABASE_URL is not even read), so
// there is nothing provider-specific to run twice.
describe('gpustack check', () => {
  let server: GpustackStandIn;
  beforeAll(async () => {
    server = await startGpustackStandIn({ users: standardUsers() });
  });
  afterAll(() => server.close());

  it('reports every check as ok with --json, using the key from a file', async () => {
    const cwd = tempDir();
    fs.writeFileSync(path.join(cwd, 'key'), `${ADMIN_KEY}\n`, { mode: 0o600 });
    const r = await runCli(['gpustack', 'check', '--url', server.url, '--token-file', 'key', '--json'], { cwd, env: FAST });
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report).toMatchObject({ ok: true, api: 'v2', version: 'v2.2.3' });
    expect(report.checks.map((c: { id: string; status: string }) => `${c.id}:${c.status}`)).toEqual([
      'reachable:ok',
      'version:ok',
      'api:ok',
      'credential:ok',
      'list-users:ok',
    ]);
    expect(report.checks.at(-1).detail).toContain('21 user(s)');
    expectNoSecrets(r);
    // The key travels only as a Bearer header.
    expect(server.requests.some((q) => q.authorization === `Bearer ${ADMIN_KEY}`)).toBe(true);
  });

  it('reads GPUSTACK_API_BASE and GPUSTACK_API_TOKEN from .env', async () => {
    const cwd = tempDir();
    fs.writeFileSync(path.join(cwd, '.env'), `GPUSTACK_API_BASE=${server.url}\nGPUSTACK_API_TOKEN=${ADMIN_KEY}\n`);
    const r = await runCli(['gpustack', 'check'], { cwd, env: FAST });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/ok\s+credential\s+accepted/);
    expectNoSecrets(r);
  });

  it('exits 6 on a wrong key, with the server message and what to do', async () => {
    const r = await runCli(['gpustack', 'check', '--url', server.url], { cwd: tempDir(), env: { ...FAST, GPUSTACK_API_TOKEN: 'gpustack_wrong' } });
    expect(r.code).toBe(6);
    expect(r.stdout).toMatch(/fail\s+credential.*Invalid authentication credentials/);
    expect(r.stderr).toMatch(/GPUSTACK_API_TOKEN/);
    expect(hasStackTrace(r.stdout + r.stderr)).toBe(false);
  });

  it('exits 6 when the key lacks the management scope, and says so', async () => {
    const r = await runCli(['gpustack', 'check', '--url', server.url, '--json'], { cwd: tempDir(), env: { ...FAST, GPUSTACK_API_TOKEN: INFERENCE_KEY } });
    expect(r.code).toBe(6);
    const report = JSON.parse(r.stdout);
    const list = report.checks.find((c: { id: string }) => c.id === 'list-users');
    expect(list).toMatchObject({ status: 'fail', code: 'GPUSTACK_SCOPE' });
    expect(list.hint).toMatch(/`management` scope/);
    expect(JSON.parse(r.stderr).error.exitCode).toBe(6);
    expectNoSecrets(r);
  });

  it('exits 6 with the next step when nothing is configured, and 2 on a malformed URL or missing token file', async () => {
    const none = await runCli(['gpustack', 'check'], { cwd: tempDir(), env: FAST });
    expect(none.code).toBe(6);
    expect(none.stderr).toMatch(/GPUSTACK_API_BASE/);
    const bad = await runCli(['gpustack', 'check', '--url', 'ftp://x'], { cwd: tempDir(), env: FAST });
    expect(bad.code).toBe(2);
    const missing = await runCli(['gpustack', 'check', '--url', server.url, '--token-file', 'nope'], { cwd: tempDir(), env: FAST });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/The token file nope does not exist/);
  });

  it('exits 6 quickly when the server is down', async () => {
    const down = await startGpustackStandIn();
    const url = down.url;
    await down.close();
    const started = Date.now();
    const r = await runCli(['gpustack', 'check', '--url', url], { cwd: tempDir(), env: { ...FAST, GPUSTACK_API_TOKEN: ADMIN_KEY } });
    expect(r.code).toBe(6);
    expect(r.stdout).toMatch(/fail\s+reachable.*connection refused/);
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});

describeProviders('gpustack', ({ newDb, cloneDb }) => {
let template: TestDb;

// init-db pays Prisma's start-up on every run, so it runs once per provider and
// each test gets a copy of that database.
beforeAll(async () => {
  template = await newDb();
  const r = await cli(template, ['init-db', '--generate-password'], { env: FAST });
  expect(r.code, r.stderr).toBe(0);
});

/** A fresh init-db database. */
function freshDb(): Promise<TestDb> {
  return cloneDb(template);
}

describe('gpustack sync', () => {
  it('disables no user the list left out while users came and went: each is asked for by id first', async () => {
    // The key's owner, the admin, first; 250 users in all, read 100 to a page.
    const initial = () => [makeUser(1, 'admin', { is_admin: true }), ...makeUsers(249, 2)];
    const server = await startGpustackStandIn({ users: initial() });
    try {
      const db = await freshDb();
      expect((await sync(server, db)).code).toBe(0);
      const before = await snapshot(db);
      // Right after the first page, user 50 is deleted and user 1000 created: the
      // list (by created_at) shifts user 101 back onto page 1, which was read,
      // and the total stays 250, so the pages alone look complete.
      let once = true;
      server.afterListPage = (page) => {
        if (page !== 1 || !once) return;
        once = false;
        server.vanish([50]);
        server.add(makeUser(1000, 'newcomer'));
      };
      for (const args of [['--dry-run'], []]) {
        once = true;
        server.users = initial();
        const r = await sync(server, db, ['--json', ...args]);
        expect(r.code, r.stderr).toBe(6);
        expect(JSON.parse(r.stderr).error.message).toMatch(/still has user user00101 \(id 101\), which its user list left out/);
        expect(await snapshot(db)).toBe(before);
      }
      expect(server.requests.some((q) => q.path === '/v2/users/101')).toBe(true);
      // Read again once nothing moves: only the user really gone is disabled.
      server.afterListPage = null;
      const again = await sync(server, db, ['--json']);
      expect(again.code, `${again.stderr}${again.stdout}`).toBe(0);
      expect(JSON.parse(again.stdout)).toMatchObject({ outcome: 'applied', counts: { create: 1, disable: 1 } });
      expect(await byGid(db, 50)).toMatchObject({ is_active: 0 });
      expect(await byGid(db, 101)).toMatchObject({ is_active: 1 });
    } finally {
      await server.close();
    }
  });

  it('plans with --dry-run, applies, and a second run changes nothing (not even updated_at)', async () => {
    const server = await startGpustackStandIn({ users: standardUsers() });
    try {
      const db = await freshDb();
      const localOnly = await addLocalUser(db, 'carol-local', { fullName: 'Carol Local' });
      await addSessions(db, localOnly, 2);
      const before = await snapshot(db);

      const dry = await sync(server, db, ['--dry-run', '--json']);
      expect(dry.code, dry.stderr).toBe(0);
      const plan = JSON.parse(dry.stdout);
      expect(plan).toMatchObject({ outcome: 'dry-run', api: 'v2', upstreamUsers: 21, counts: { create: 20, update: 0, disable: 0, conflicts: 1 } });
      // GPUStack's own admin meets the app's local admin: reported, never taken over.
      expect(plan.plan.conflicts[0]).toMatchObject({ gpustackId: 1, username: 'admin', kind: 'local-account' });
      expect(await snapshot(db)).toBe(before);

      const human = await sync(server, db, ['--dry-run']);
      expect(human.stdout).toMatch(/20 would be created/);
      expect(human.stdout).toMatch(/^create +2 +user00002/m);
      expect(await snapshot(db)).toBe(before);

      const applied = await sync(server, db, ['--json']);
      expect(applied.code, applied.stderr).toBe(0);
      expect(JSON.parse(applied.stdout)).toMatchObject({ outcome: 'applied', counts: { create: 20, conflicts: 1 } });
      const rows = await users(db);
      expect(rows.filter((u) => u.gpustack_user_id !== null)).toHaveLength(20);
      const u7 = (await byGid(db, 7))!;
      expect(u7).toMatchObject({ username: 'user00007', full_name: 'User00007 User', is_admin: 0, is_active: 1, password_hash: null, email: null });
      const admin = rows.find((u) => u.username === 'admin')!;
      expect(admin.gpustack_user_id).toBeNull();
      expect(await unparseable(db)).toEqual([]);
      const audit = await auditRows(db);
      expect(audit).toHaveLength(1);
      expect(JSON.parse(audit[0]!.details as string)).toMatchObject({ created: 20, updated: 0, disabled: 0, conflicts: 1, upstreamUsers: 21 });
      expect(JSON.stringify(audit)).not.toContain(ADMIN_KEY);
      expectNoSecrets(applied);

      const afterFirst = await snapshot(db);
      const again = await sync(server, db);
      expect(again.code, again.stderr).toBe(0);
      expect(again.stdout).toMatch(/Already in sync\. Nothing changed\./);
      // A run with nothing to do says what it did, not what it "would" do.
      expect(again.stdout).toMatch(/0 created, 0 updated, 0 disabled/);
      expect(again.stdout).not.toMatch(/would be/);
      // The heading stays with its rows, on stdout; each row says why.
      expect(again.stdout).toMatch(/1 GPUStack user\(s\) left alone or only partly mirrored:\n.*gpustack id.*why/);
      expect(again.stderr).not.toMatch(/left alone/);
      expect(await snapshot(db)).toBe(afterFirst);
      expect((await users(db)).find((u) => u.id === localOnly)).toMatchObject({ username: 'carol-local', full_name: 'Carol Local', is_active: 1 });
      expect(await sessionsOf(db, localOnly)).toBe(2);

      // Every request paged with camelCase perPage=100 and never asked to watch.
      const lists = server.listRequests();
      expect(lists.length).toBeGreaterThan(0);
      for (const q of lists) {
        expect(q.query.perPage).toBe('100');
        expect(q.query.watch).toBeUndefined();
      }
    } finally {
      await server.close();
    }
  });

  it('disables vanished users and revokes their sessions; updates deactivated and renamed users', async () => {
    const server = await startGpustackStandIn({ users: standardUsers() });
    try {
      const db = await freshDb();
      const localOnly = await addLocalUser(db, 'dave-local');
      await addSessions(db, localOnly, 1);
      expect((await sync(server, db)).code).toBe(0);
      const [gone1, gone2, deactivated, renamed, promoted] = await Promise.all([3, 4, 5, 6, 8].map(async (gid) => (await byGid(db, gid))!.id as number));
      for (const id of [gone1!, gone2!, deactivated!, renamed!]) await addSessions(db, id, 3);
      const untouched = (await byGid(db, 10))!;
      await addSessions(db, untouched.id as number, 2);

      server.vanish([3, 4]);
      server.deactivate(5); // 3 of 20 linked users become inactive: more than the default 10%, so allowed explicitly
      server.rename(6, 'user00006-renamed');
      server.edit(8, { is_admin: true, full_name: 'Promoted Person' });
      const r = await sync(server, db, ['--json', '--max-disable', '3']);
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ outcome: 'applied', counts: { create: 0, update: 3, disable: 2, sessionsRevoked: 9 } });

      for (const id of [gone1, gone2]) {
        expect((await users(db)).find((u) => u.id === id)).toMatchObject({ is_active: 0 });
        expect(await sessionsOf(db, id!)).toBe(0);
      }
      expect(await byGid(db, 5)).toMatchObject({ is_active: 0 });
      expect(await sessionsOf(db, deactivated!)).toBe(0);
      expect(await byGid(db, 6)).toMatchObject({ username: 'user00006-renamed', is_active: 1 });
      expect(await sessionsOf(db, renamed!)).toBe(3);
      expect(await byGid(db, 8)).toMatchObject({ id: promoted, is_admin: 1, full_name: 'Promoted Person' });
      // Nothing is deleted, unchanged users keep their updated_at, local-only users are not touched.
      expect((await users(db)).filter((u) => u.gpustack_user_id !== null)).toHaveLength(20);
      expect(await byGid(db, 10)).toEqual(untouched);
      expect(await sessionsOf(db, untouched.id as number)).toBe(2);
      expect((await users(db)).find((u) => u.id === localOnly)).toMatchObject({ username: 'dave-local', is_active: 1 });
      expect(await sessionsOf(db, localOnly)).toBe(1);
      expect(await unparseable(db)).toEqual([]);
      const audit = await auditRows(db);
      expect(audit).toHaveLength(2);
      expect(JSON.parse(audit[1]!.details as string)).toMatchObject({ updated: 3, disabled: 2, sessionsRevoked: 9 });

      const again = await sync(server, db, ['--json']);
      expect(JSON.parse(again.stdout)).toMatchObject({ outcome: 'no-change' });
      expect(await auditRows(db)).toHaveLength(2);
    } finally {
      await server.close();
    }
  });

  it('stores the username as the full name when GPUStack has none, and keeps the name admin when a rename takes it away', async () => {
    const server = await startGpustackStandIn({ users: [...standardUsers(), makeUser(40, 'nameless', { full_name: '' }), makeUser(41, 'nullname', { full_name: null })] });
    try {
      const db = await freshDb();
      // The local admin is linked to GPUStack's admin by name.
      const linked = await sync(server, db, ['--link-by-username', '--json']);
      expect(linked.code, linked.stderr).toBe(0);
      expect(JSON.parse(linked.stdout).reserveAdmin).toBe(false);
      expect(await byGid(db, 40)).toMatchObject({ username: 'nameless', full_name: 'nameless' });
      expect(await byGid(db, 41)).toMatchObject({ username: 'nullname', full_name: 'nullname' });
      const adminId = (await byGid(db, 1))!.id;

      // Upstream renames its admin: the app would seed admin/admin at its next start.
      server.rename(1, 'root-admin');
      const dry = await sync(server, db, ['--dry-run']);
      expect(dry.code, dry.stderr).toBe(0);
      expect(dry.stdout).toMatch(/disabled placeholder with that name would be kept/);
      expect((await users(db)).filter((u) => u.username === 'admin')).toHaveLength(1);

      const r = await sync(server, db, ['--json']);
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ outcome: 'applied', reserveAdmin: true });
      expect(await byGid(db, 1)).toMatchObject({ id: adminId, username: 'root-admin' });
      const placeholder = (await users(db)).find((u) => u.username === 'admin')!;
      expect(placeholder).toMatchObject({ is_active: 0, is_admin: 0, password_hash: null, gpustack_user_id: null });
      expect(placeholder.full_name).toBeTruthy();
      expect(await unparseable(db)).toEqual([]);
      expect(JSON.parse((await auditRows(db)).at(-1)!.details as string)).toMatchObject({ reservedAdmin: true });

      const human = await sync(server, db);
      expect(human.code, human.stderr).toBe(0);
      expect(human.stdout).toMatch(/Already in sync/);
    } finally {
      await server.close();
    }
  });

  it('never writes a username the app cannot take: too long or with control characters, it is a conflict', async () => {
    const long = 'u'.repeat(51);
    const server = await startGpustackStandIn({ users: [...standardUsers(), makeUser(50, long), makeUser(51, 'bad\x1b[2Jname')] });
    try {
      const db = await freshDb();
      const r = await sync(server, db, ['--json']);
      expect(r.code, r.stderr).toBe(0);
      const out = JSON.parse(r.stdout);
      expect(out.plan.conflicts.filter((c: { kind: string }) => c.kind === 'unusable-username').map((c: { gpustackId: number }) => c.gpustackId)).toEqual([50, 51]);
      expect(await byGid(db, 50)).toBeUndefined();
      expect(await byGid(db, 51)).toBeUndefined();

      // A linked user renamed upstream to a name the app cannot take keeps its name; the rest still syncs.
      server.edit(7, { username: 'x'.repeat(60), full_name: 'Seven Renamed' });
      const again = await sync(server, db, ['--json']);
      expect(again.code, again.stderr).toBe(0);
      expect(await byGid(db, 7)).toMatchObject({ username: 'user00007', full_name: 'Seven Renamed' });
      const human = await sync(server, db);
      expect(human.stdout).toMatch(/left alone or only partly mirrored:/);
      expect(human.stdout + human.stderr).not.toContain('\x1b[2J');
    } finally {
      await server.close();
    }
  });

  it('leaves username conflicts alone (exit 0, listed) unless --link-by-username', async () => {
    const server = await startGpustackStandIn({ users: [...standardUsers(), makeUser(30, 'erin', { full_name: 'Erin Upstream' })] });
    try {
      const db = await freshDb();
      const erin = await addLocalUser(db, 'erin', { fullName: 'Erin Local' });
      const before = (await users(db)).find((u) => u.id === erin);
      const r = await sync(server, db);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/erin +\d+ +a local-only user has this username; not linked \(use --link-by-username/);
      expect((await users(db)).find((u) => u.id === erin)).toEqual(before);
      expect(await byGid(db, 30)).toBeUndefined();

      const linked = await sync(server, db, ['--link-by-username', '--json']);
      expect(linked.code, linked.stderr).toBe(0);
      // The operator asked for it: both same-name accounts (GPUStack's admin too) are linked, not duplicated.
      const updates = JSON.parse(linked.stdout).plan.update;
      expect(updates).toContainEqual(expect.objectContaining({ userId: erin, gpustackId: 30, link: true, changes: { fullName: { from: 'Erin Local', to: 'Erin Upstream' } } }));
      expect(updates).toContainEqual(expect.objectContaining({ username: 'admin', gpustackId: 1, link: true }));
      expect((await users(db)).find((u) => u.id === erin)).toMatchObject({ gpustack_user_id: 30, full_name: 'Erin Upstream', password_hash: before!.password_hash });
    } finally {
      await server.close();
    }
  });

  it('does not make an active admin of a linked user whose own password is well-known, unless --allow-weak-password', async () => {
    const upstream = [
      ...standardUsers(),
      makeUser(30, 'bob', { is_admin: true }),
      makeUser(31, 'ann', { is_admin: true, is_active: true }),
      makeUser(32, 'dan', { is_admin: true }),
      makeUser(33, 'erin', { is_admin: true }),
    ];
    const server = await startGpustackStandIn({ users: upstream });
    try {
      const db = await freshDb();
      // bob's password is a common default, ann (a disabled admin) has her
      // username as hers, dan's is strong; erin is local-only with a default.
      const weak = bcrypt.hashSync('changeme', 4);
      const bob = await addLocalUser(db, 'bob', { gpustackUserId: 30, passwordHash: weak });
      const ann = await addLocalUser(db, 'ann', { gpustackUserId: 31, passwordHash: bcrypt.hashSync('ann', 4), isAdmin: true, isActive: false });
      const dan = await addLocalUser(db, 'dan', { gpustackUserId: 32, passwordHash: bcrypt.hashSync('Tq9-vorn-Lapse-77', 4) });
      const erin = await addLocalUser(db, 'erin', { passwordHash: weak });
      const hashes = (await users(db)).map((u) => String(u.password_hash));
      const before = await snapshot(db);

      const dry = await sync(server, db, ['--dry-run', '--link-by-username', '--json']);
      expect(dry.code, dry.stderr).toBe(0);
      expect(await snapshot(db)).toBe(before);
      const held = (r: CliResult) =>
        (JSON.parse(r.stdout).plan.conflicts as Array<{ localUserId: number; kind: string }>).filter((c) => c.kind === 'weak-admin-password').map((c) => c.localUserId);
      expect(held(dry)).toEqual([bob, ann, erin]);

      const r = await sync(server, db, ['--link-by-username']);
      expect(r.code, r.stderr).toBe(0);
      // The table wraps its last column; --json (above) has the whole text.
      expect(r.stdout).toMatch(/bob +\d+ +GPUStack makes it an active admin, but/);
      expect(r.stdout).toMatch(/ann +\d+ +GPUStack makes it an active admin, but/);
      const details = (JSON.parse(dry.stdout).plan.conflicts as Array<{ localUserId: number; detail: string }>).map((c) => [c.localUserId, c.detail]);
      expect(details).toContainEqual([bob, expect.stringMatching(/well-known one; not made an admin/)]);
      expect(details).toContainEqual([ann, expect.stringMatching(/well-known one; not enabled/)]);
      const after = new Map((await users(db)).map((u) => [u.id, u]));
      expect(after.get(bob)).toMatchObject({ is_admin: 0, is_active: 1 });
      expect(after.get(ann)).toMatchObject({ is_admin: 1, is_active: 0 });
      expect(after.get(dan)).toMatchObject({ is_admin: 1 });
      // erin is linked, as asked, but stays an ordinary user.
      expect(after.get(erin)).toMatchObject({ gpustack_user_id: 33, is_admin: 0 });
      expect(JSON.parse((await auditRows(db)).at(-1)!.details as string)).not.toHaveProperty('weakPasswordAllowed');

      const allowed = await sync(server, db, ['--allow-weak-password', '--json']);
      expect(allowed.code, allowed.stderr).toBe(0);
      expect(held(allowed)).toEqual([]);
      expect(JSON.parse(allowed.stdout)).toMatchObject({ outcome: 'applied', weakPasswordAllowed: true });
      const now = new Map((await users(db)).map((u) => [u.id, u]));
      for (const id of [bob, ann, erin]) expect(now.get(id)).toMatchObject({ is_admin: 1, is_active: 1 });
      const audit = (await auditRows(db)).at(-1)!;
      // Only that the rule was overridden: never which password matched.
      expect(JSON.parse(audit.details as string)).toMatchObject({ weakPasswordAllowed: true, updated: 3 });
      for (const out of [dry.stdout, dry.stderr, r.stdout, r.stderr, allowed.stdout, allowed.stderr, JSON.stringify(audit)]) {
        for (const secret of ['changeme', ...hashes]) expect(out).not.toContain(secret);
      }
      // Nothing beyond the sync's usual counts and the override: which rule matched would tell the password.
      expect(Object.keys(JSON.parse(audit.details as string)).sort()).toEqual(
        ['server', 'serverVersion', 'api', 'upstreamUsers', 'created', 'updated', 'linkedByUsername', 'disabled', 'sessionsRevoked', 'conflicts', 'reservedAdmin', 'forced', 'weakPasswordAllowed'].sort(),
      );
      expect(String(audit.summary)).not.toMatch(/default|well-known|weak/i);
    } finally {
      await server.close();
    }
  });

  it('tries the name GPUStack renames a user to and the namesake the plan links, and says when holding back leaves no admin', async () => {
    const server = await startGpustackStandIn({
      users: [makeUser(1, 'admin', { is_admin: true }), makeUser(30, 'carol-up', { is_admin: true }), makeUser(40, 'dup', { is_admin: true }), makeUser(41, 'dup')],
    });
    try {
      const db = await freshDb();
      // bob's password is the name GPUStack renames him to; dup's is strong, and GPUStack lists "dup" twice.
      const bob = await addLocalUser(db, 'bob', { gpustackUserId: 30, passwordHash: bcrypt.hashSync('carol-up', 4) });
      const dup = await addLocalUser(db, 'dup', { passwordHash: bcrypt.hashSync('Tq9-vorn-Lapse-77', 4) });
      const r = await sync(server, db, ['--link-by-username', '--json']);
      expect(r.code, r.stderr).toBe(0);
      const conflicts = JSON.parse(r.stdout).plan.conflicts as Array<{ localUserId: number; kind: string }>;
      expect(conflicts.filter((c) => c.kind === 'weak-admin-password').map((c) => c.localUserId)).toEqual([bob]);
      const rows = new Map((await users(db)).map((u) => [u.id, u]));
      // Renamed, but not made an admin; dup linked to the lower id and made one.
      expect(rows.get(bob)).toMatchObject({ username: 'carol-up', is_admin: 0 });
      expect(rows.get(dup)).toMatchObject({ gpustack_user_id: 40, is_admin: 1 });
    } finally {
      await server.close();
    }

    // GPUStack demotes the app's only admin and promotes bob, whose password is well-known.
    const demoting = await startGpustackStandIn({ users: [makeUser(1, 'admin'), makeUser(30, 'bob', { is_admin: true })] });
    try {
      const db = await freshDb();
      await db.query('UPDATE users SET gpustack_user_id = 1 WHERE username = ?', 'admin');
      const bob = await addLocalUser(db, 'bob', { gpustackUserId: 30, passwordHash: bcrypt.hashSync('changeme', 4) });
      const before = await snapshot(db);
      const refused = await sync(demoting, db);
      expect(refused.code, refused.stdout).toBe(7);
      expect(refused.stderr).toMatch(/no active admin in the app: 1 user\(s\) GPUStack makes admins were held back for a well-known local password/);
      // Not --force, which would demote the admin and still hold bob back.
      expect(refused.stderr).toMatch(/hint: Give the held-back users a strong password \(`authctl user reset <username>`\) and sync again, or sync with --allow-weak-password/);
      expect(await snapshot(db)).toBe(before);

      const allowed = await sync(demoting, db, ['--allow-weak-password']);
      expect(allowed.code, allowed.stderr).toBe(0);
      expect(allowed.stderr).toMatch(/warning: GPUStack made an active admin of a user whose local password is a well-known one \(--allow-weak-password\)/);
      expect((await users(db)).find((u) => u.id === bob)).toMatchObject({ is_admin: 1, is_active: 1 });
      expect((await users(db)).find((u) => u.username === 'admin')).toMatchObject({ is_admin: 0 });
      // A re-run has nothing to do, and nothing to warn about.
      const again = await sync(demoting, db, ['--allow-weak-password', '--json']);
      expect(again.code, again.stderr).toBe(0);
      expect(JSON.parse(again.stdout)).toMatchObject({ outcome: 'no-change', weakPasswordAllowed: false });
      expect(again.stderr).not.toMatch(/warning/);
    } finally {
      await demoting.close();
    }
  });

  it('refuses an empty upstream list and a 40% vanish with exit 7, the plan shown and nothing changed; --force overrides', async () => {
    const server = await startGpustackStandIn({ users: standardUsers() });
    try {
      const db = await freshDb();
      expect((await sync(server, db)).code).toBe(0);
      const before = await snapshot(db);

      server.faults.emptyList = true;
      const empty = await sync(server, db);
      expect(empty.code).toBe(7);
      expect(empty.stderr).toMatch(/GPUStack returned no users while 20 local user\(s\) are linked/);
      expect(empty.stderr).toMatch(/--force/);
      // No --max-disable lets an empty list through, so the hint does not offer one.
      expect(empty.stderr).not.toMatch(/higher --max-disable/);
      expect(empty.stdout).toMatch(/20 would be disabled/);
      // Nothing was applied: the plan's rows say what would happen, not what did.
      expect(empty.stdout).toMatch(/gone upstream; \d+ session\(s\) would be revoked/);
      expect(empty.stdout).not.toMatch(/session\(s\) revoked/);
      expect(await snapshot(db)).toBe(before);
      // Even a generous --max-disable does not accept an empty list.
      expect((await sync(server, db, ['--max-disable', '100%'])).code).toBe(7);
      expect(await snapshot(db)).toBe(before);
      server.faults.emptyList = false;

      server.vanish([2, 3, 4, 5, 6, 7, 8, 9]);
      const forty = await sync(server, db, ['--json']);
      expect(forty.code).toBe(7);
      const doc = JSON.parse(forty.stdout);
      expect(doc).toMatchObject({ outcome: 'refused', counts: { disable: 8 }, guard: { tripped: true, limit: 2, linked: 20 } });
      expect(JSON.parse(forty.stderr).error).toMatchObject({ code: 'SYNC_GUARD', exitCode: 7 });
      expect(await snapshot(db)).toBe(before);
      expect((await sync(server, db, ['--max-disable', '5'])).code).toBe(7);
      expect(await snapshot(db)).toBe(before);

      const forced = await sync(server, db, ['--force', '--json']);
      expect(forced.code, forced.stderr).toBe(0);
      expect(JSON.parse(forced.stdout)).toMatchObject({ outcome: 'applied', counts: { disable: 8 }, guard: { forced: true } });
      expect((await users(db)).filter((u) => u.gpustack_user_id !== null && u.is_active === 0)).toHaveLength(8);
      expect(JSON.parse((await auditRows(db)).at(-1)!.details as string)).toMatchObject({ disabled: 8, forced: true });
    } finally {
      await server.close();
    }
  });

  it('survives two transient 500s', async () => {
    const server = await startGpustackStandIn({ users: standardUsers() });
    try {
      const db = await freshDb();
      server.faults.transient500 = 2;
      const r = await sync(server, db);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toMatch(/500 Internal Server Error; retrying in/);
      expect((await users(db)).filter((u) => u.gpustack_user_id !== null)).toHaveLength(20);
    } finally {
      await server.close();
    }
  });

  it.each([
    ['a permanent 500', (s: GpustackStandIn) => void (s.faults.always500 = true), {}, /500 Internal Server Error.*after 4 attempts.*Internal server error/],
    ['an HTML 502 from a proxy', (s: GpustackStandIn) => void (s.faults.proxy502 = true), {}, /502 Bad Gateway with an HTML page/],
    ['a wrong token', () => {}, { GPUSTACK_API_TOKEN: 'gpustack_0000000000000000_00000000000000000000000000000000' }, /rejected the API key.*Invalid authentication credentials/],
    ['a key without the management scope', () => {}, { GPUSTACK_API_TOKEN: INFERENCE_KEY }, /API key does not have permission to access management features/],
    ['a dropped connection', (s: GpustackStandIn) => void (s.faults.down = true), {}, /Cannot reach GPUStack.*connection reset/],
    ['a server slower than the timeout', (s: GpustackStandIn) => void (s.faults.slowMs = 1500), { AUTHCTL_GPUSTACK_TIMEOUT_MS: '300', AUTHCTL_GPUSTACK_RETRIES: '1' }, /no complete answer within 300 ms/],
  ])('exits 6 on %s, changes nothing and prints no stack trace', async (_name, fault, env, message) => {
    const server = await startGpustackStandIn({ users: standardUsers() });
    try {
      const db = await freshDb();
      expect((await sync(server, db)).code).toBe(0);
      server.vanish([2]);
      server.rename(3, 'renamed');
      const before = await snapshot(db);
      fault(server);
      const r = await sync(server, db, [], env as Record<string, string>);
      expect(r.code, r.stderr).toBe(6);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).toMatch(/hint: /);
      expect(hasStackTrace(r.stdout + r.stderr)).toBe(false);
      expectNoSecrets(r);
      expect(await snapshot(db)).toBe(before);
    } finally {
      await server.close();
    }
  });

  it('syncs a 0.x server through /v1, within its perPage bound', async () => {
    const old = [makeUser(1, 'admin', { is_admin: true }), ...makeUsers(150, 2)];
    const server = await startGpustackStandIn({ version: 'v0.6.2', users: old });
    try {
      const db = await freshDb();
      const r = await sync(server, db, ['--json']);
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ api: 'v1', serverVersion: 'v0.6.2', upstreamUsers: 151, counts: { create: 150 } });
      expect(server.requests.some((q) => q.path.startsWith('/v2/'))).toBe(false);
      expect(server.listRequests().map((q) => q.query.page).sort()).toEqual(['1', '2']);
      expect(await byGid(db, 151)).toMatchObject({ is_active: 1 });
      expect(await unparseable(db)).toEqual([]);
    } finally {
      await server.close();
    }
  });

  it('tells the versions apart by the 404 when /version is missing', async () => {
    const server = await startGpustackStandIn({ version: 'v0.5.1', versionRoute: false, users: standardUsers() });
    try {
      const db = await freshDb();
      const r = await sync(server, db, ['--dry-run', '--json']);
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ api: 'v1', serverVersion: null, counts: { create: 20 } });
      expect(server.requests.find((q) => q.path === '/v2/users/me')).toBeDefined();
    } finally {
      await server.close();
    }
  });

  it('exits 75 while another sync holds the lock, and 2 on a bad --max-disable', async () => {
    const server = await startGpustackStandIn({ users: standardUsers() });
    try {
      const db = await freshDb();
      const release = await holdJobLock(db, 'sync');
      try {
        const r = await sync(server, db);
        expect(r.code).toBe(75);
        expect(r.stderr).toMatch(/Another authctl sync is running/);
      } finally {
        await release();
      }
      const bad = await sync(server, db, ['--max-disable', 'lots']);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toMatch(/--max-disable "lots"/);
      expect((await users(db)).filter((u) => u.gpustack_user_id !== null)).toHaveLength(0);
    } finally {
      await server.close();
    }
  });
});

describe('doctor with GPUStack configured', () => {
  let server: GpustackStandIn;
  beforeAll(async () => {
    server = await startGpustackStandIn({ users: standardUsers() });
  });
  afterAll(() => server.close());

  it('reports GPUStack ok with a working key and fails (exit 8) with a rejected one, never printing the key', async () => {
    const db = await freshDb();
    const ok = await cli(db, ['doctor', '--json'], { env: { ...FAST, GPUSTACK_API_BASE: server.url, GPUSTACK_API_TOKEN: ADMIN_KEY } });
    const okCheck = JSON.parse(ok.stdout).checks.find((c: { id: string }) => c.id === 'gpustack');
    expect(okCheck).toMatchObject({ status: 'ok' });
    expect(okCheck.detail).toContain('v2.2.3');
    expectNoSecrets(ok);

    const wrongKey = 'gpustack_deadbeefdeadbeef_00000000000000000000000000000000';
    const bad = await cli(db, ['doctor'], { env: { ...FAST, GPUSTACK_API_BASE: server.url, GPUSTACK_API_TOKEN: wrongKey } });
    expect(bad.code).toBe(8);
    expect(bad.stdout).toMatch(/GPUStack reachable, credential accepted +fail/);
    expect(bad.stdout + bad.stderr).not.toContain(wrongKey);
  });
});
});
