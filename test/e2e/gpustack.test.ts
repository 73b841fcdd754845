import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appTimestamp, fakeJwt, unparseableTimestamps } from '../support/app-db.js';
import { hasStackTrace, runCli, tempDir, type CliResult } from '../support/cli.js';
import { ADMIN_KEY, INFERENCE_KEY, makeUser, makeUsers, startGpustackStandIn, type GpustackStandIn } from '../support/gpustack-server.js';

// Fast retries and timeouts, so fault tests do not sleep through production backoff.
const FAST = {
  AUTHCTL_BCRYPT_ROUNDS: '10',
  AUTHCTL_GPUSTACK_RETRY_BASE_MS: '5',
  AUTHCTL_GPUSTACK_TIMEOUT_MS: '2000',
  AUTHCTL_GPUSTACK_CONNECT_TIMEOUT_MS: '2000',
};

let template = '';

/** A fresh init-db database per test, copied from one made once (init-db pays Prisma's start-up). */
function freshDb(): { cwd: string; file: string } {
  const cwd = tempDir('authctl-gs-');
  const file = path.join(cwd, 'gpustack_ui.db');
  fs.copyFileSync(template, file);
  return { cwd, file };
}

function withDb<T>(file: string, fn: (db: Database.Database) => T): T {
  const db = new Database(file);
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

/** Everything sync could touch, to prove that a refused or failed run changed nothing. */
function snapshot(file: string): string {
  return withDb(file, (db) =>
    JSON.stringify(['users', 'user_sessions', 'authctl_audit'].map((t) => db.prepare(`SELECT * FROM ${t} ORDER BY id`).all())),
  );
}

function users(file: string): Array<Record<string, unknown>> {
  return withDb(file, (db) => db.prepare('SELECT * FROM users ORDER BY id').all() as Array<Record<string, unknown>>);
}

function byGid(file: string, gid: number): Record<string, unknown> | undefined {
  return withDb(file, (db) => db.prepare('SELECT * FROM users WHERE gpustack_user_id = ?').get(gid) as Record<string, unknown> | undefined);
}

function auditRows(file: string): Array<Record<string, unknown>> {
  return withDb(file, (db) => db.prepare("SELECT * FROM authctl_audit WHERE command = 'gpustack sync' ORDER BY id").all() as Array<Record<string, unknown>>);
}

function addLocalUser(file: string, username: string, extra: { gpustackUserId?: number; fullName?: string } = {}): number {
  return withDb(file, (db) => {
    const now = appTimestamp(new Date());
    return Number(
      db
        .prepare('INSERT INTO users (username, email, password_hash, full_name, is_admin, is_active, gpustack_user_id, created_at, updated_at) VALUES (?, NULL, ?, ?, 0, 1, ?, ?, ?)')
        .run(username, '$2b$10$abcdefghijklmnopqrstuuVQ1Uy3M6cWm8Z0n6b7l2bK5sS5mR0Gy', extra.fullName ?? null, extra.gpustackUserId ?? null, now, now).lastInsertRowid,
    );
  });
}

function addSessions(file: string, userId: number, count: number): void {
  withDb(file, (db) => {
    const insert = db.prepare(
      'INSERT INTO user_sessions (user_id, session_token, jti, token_type, expires_at, created_at, last_accessed) VALUES (?, ?, ?, ?, ?, ?, ?)',
    );
    const now = new Date();
    for (let i = 0; i < count; i++) {
      insert.run(userId, fakeJwt(), randomBytes(16).toString('hex'), 'refresh', appTimestamp(new Date(now.getTime() + 86_400_000)), appTimestamp(now), appTimestamp(now));
    }
  });
}

function sessionsOf(file: string, userId: number): number {
  return withDb(file, (db) => db.prepare('SELECT count(*) FROM user_sessions WHERE user_id = ?').pluck().get(userId) as number);
}

function sync(server: GpustackStandIn, cwd: string, args: string[] = [], env: Record<string, string> = {}): Promise<CliResult> {
  return runCli(['gpustack', 'sync', ...args], { cwd, env: { ...FAST, GPUSTACK_API_BASE: server.url, GPUSTACK_API_TOKEN: ADMIN_KEY, ...env } });
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

beforeAll(async () => {
  const dir = tempDir('authctl-gs-template-');
  const r = await runCli(['init-db', '--generate-password'], { cwd: dir, env: FAST });
  expect(r.code, r.stderr).toBe(0);
  template = path.join(dir, 'gpustack_ui.db');
});

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
    expect(missing.stderr).toMatch(/Cannot read the token file nope/);
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

describe('gpustack sync', () => {
  it('plans with --dry-run, applies, and a second run changes nothing (not even updated_at)', async () => {
    const server = await startGpustackStandIn({ users: standardUsers() });
    try {
      const { cwd, file } = freshDb();
      const localOnly = addLocalUser(file, 'carol-local', { fullName: 'Carol Local' });
      addSessions(file, localOnly, 2);
      const before = snapshot(file);

      const dry = await sync(server, cwd, ['--dry-run', '--json']);
      expect(dry.code, dry.stderr).toBe(0);
      const plan = JSON.parse(dry.stdout);
      expect(plan).toMatchObject({ outcome: 'dry-run', api: 'v2', upstreamUsers: 21, counts: { create: 20, update: 0, disable: 0, conflicts: 1 } });
      // GPUStack's own admin meets the app's local admin: reported, never taken over.
      expect(plan.plan.conflicts[0]).toMatchObject({ gpustackId: 1, username: 'admin', kind: 'local-account' });
      expect(snapshot(file)).toBe(before);

      const human = await sync(server, cwd, ['--dry-run']);
      expect(human.stdout).toMatch(/20 would be created/);
      expect(human.stdout).toMatch(/create\s+│\s+2\s+│\s+user00002/);
      expect(snapshot(file)).toBe(before);

      const applied = await sync(server, cwd, ['--json']);
      expect(applied.code, applied.stderr).toBe(0);
      expect(JSON.parse(applied.stdout)).toMatchObject({ outcome: 'applied', counts: { create: 20, conflicts: 1 } });
      const rows = users(file);
      expect(rows.filter((u) => u.gpustack_user_id !== null)).toHaveLength(20);
      const u7 = byGid(file, 7)!;
      expect(u7).toMatchObject({ username: 'user00007', full_name: 'User00007 User', is_admin: 0, is_active: 1, password_hash: null, email: null });
      const admin = rows.find((u) => u.username === 'admin')!;
      expect(admin.gpustack_user_id).toBeNull();
      withDb(file, (db) => expect(unparseableTimestamps(db)).toEqual([]));
      const audit = auditRows(file);
      expect(audit).toHaveLength(1);
      expect(JSON.parse(audit[0]!.details as string)).toMatchObject({ created: 20, updated: 0, disabled: 0, conflicts: 1, upstreamUsers: 21 });
      expect(JSON.stringify(audit)).not.toContain(ADMIN_KEY);
      expectNoSecrets(applied);

      const afterFirst = snapshot(file);
      const again = await sync(server, cwd);
      expect(again.code, again.stderr).toBe(0);
      expect(again.stdout).toMatch(/Already in sync\. Nothing changed\./);
      expect(again.stdout).toMatch(/0 would be created, 0 would be updated, 0 would be disabled/);
      expect(again.stderr).toMatch(/left alone because of a username conflict/);
      expect(snapshot(file)).toBe(afterFirst);
      expect(users(file).find((u) => u.id === localOnly)).toMatchObject({ username: 'carol-local', full_name: 'Carol Local', is_active: 1 });
      expect(sessionsOf(file, localOnly)).toBe(2);

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
      const { cwd, file } = freshDb();
      const localOnly = addLocalUser(file, 'dave-local');
      addSessions(file, localOnly, 1);
      expect((await sync(server, cwd)).code).toBe(0);
      const [gone1, gone2, deactivated, renamed, promoted] = [3, 4, 5, 6, 8].map((gid) => byGid(file, gid)!.id as number);
      for (const id of [gone1!, gone2!, deactivated!, renamed!]) addSessions(file, id, 3);
      const untouched = byGid(file, 10)!;
      addSessions(file, untouched.id as number, 2);

      server.vanish([3, 4]); // 2 of 20 linked users: exactly the default 10%
      server.deactivate(5);
      server.rename(6, 'user00006-renamed');
      server.edit(8, { is_admin: true, full_name: 'Promoted Person' });
      const r = await sync(server, cwd, ['--json']);
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ outcome: 'applied', counts: { create: 0, update: 3, disable: 2, sessionsRevoked: 9 } });

      for (const id of [gone1, gone2]) {
        expect(users(file).find((u) => u.id === id)).toMatchObject({ is_active: 0 });
        expect(sessionsOf(file, id!)).toBe(0);
      }
      expect(byGid(file, 5)).toMatchObject({ is_active: 0 });
      expect(sessionsOf(file, deactivated!)).toBe(0);
      expect(byGid(file, 6)).toMatchObject({ username: 'user00006-renamed', is_active: 1 });
      expect(sessionsOf(file, renamed!)).toBe(3);
      expect(byGid(file, 8)).toMatchObject({ id: promoted, is_admin: 1, full_name: 'Promoted Person' });
      // Nothing is deleted, unchanged users keep their updated_at, local-only users are not touched.
      expect(users(file).filter((u) => u.gpustack_user_id !== null)).toHaveLength(20);
      expect(byGid(file, 10)).toEqual(untouched);
      expect(sessionsOf(file, untouched.id as number)).toBe(2);
      expect(users(file).find((u) => u.id === localOnly)).toMatchObject({ username: 'dave-local', is_active: 1 });
      expect(sessionsOf(file, localOnly)).toBe(1);
      withDb(file, (db) => expect(unparseableTimestamps(db)).toEqual([]));
      const audit = auditRows(file);
      expect(audit).toHaveLength(2);
      expect(JSON.parse(audit[1]!.details as string)).toMatchObject({ updated: 3, disabled: 2, sessionsRevoked: 9 });

      const again = await sync(server, cwd, ['--json']);
      expect(JSON.parse(again.stdout)).toMatchObject({ outcome: 'no-change' });
      expect(auditRows(file)).toHaveLength(2);
    } finally {
      await server.close();
    }
  });

  it('leaves username conflicts alone (exit 0, listed) unless --link-by-username', async () => {
    const server = await startGpustackStandIn({ users: [...standardUsers(), makeUser(30, 'erin', { full_name: 'Erin Upstream' })] });
    try {
      const { cwd, file } = freshDb();
      const erin = addLocalUser(file, 'erin', { fullName: 'Erin Local' });
      const before = users(file).find((u) => u.id === erin);
      const r = await sync(server, cwd);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/erin\s+│\s+\d+\s+│ a local-only user has this username; not linked \(use --link-by-username/);
      expect(users(file).find((u) => u.id === erin)).toEqual(before);
      expect(byGid(file, 30)).toBeUndefined();

      const linked = await sync(server, cwd, ['--link-by-username', '--json']);
      expect(linked.code, linked.stderr).toBe(0);
      // The operator asked for it: both same-name accounts (GPUStack's admin too) are linked, not duplicated.
      const updates = JSON.parse(linked.stdout).plan.update;
      expect(updates).toContainEqual(expect.objectContaining({ userId: erin, gpustackId: 30, link: true, changes: { fullName: { from: 'Erin Local', to: 'Erin Upstream' } } }));
      expect(updates).toContainEqual(expect.objectContaining({ username: 'admin', gpustackId: 1, link: true }));
      expect(users(file).find((u) => u.id === erin)).toMatchObject({ gpustack_user_id: 30, full_name: 'Erin Upstream', password_hash: before!.password_hash });
    } finally {
      await server.close();
    }
  });

  it('refuses an empty upstream list and a 40% vanish with exit 7, the plan shown and nothing changed; --force overrides', async () => {
    const server = await startGpustackStandIn({ users: standardUsers() });
    try {
      const { cwd, file } = freshDb();
      expect((await sync(server, cwd)).code).toBe(0);
      const before = snapshot(file);

      server.faults.emptyList = true;
      const empty = await sync(server, cwd);
      expect(empty.code).toBe(7);
      expect(empty.stderr).toMatch(/GPUStack returned no users while 20 local user\(s\) are linked/);
      expect(empty.stderr).toMatch(/--force/);
      expect(empty.stdout).toMatch(/20 would be disabled/);
      expect(snapshot(file)).toBe(before);
      // Even a generous --max-disable does not accept an empty list.
      expect((await sync(server, cwd, ['--max-disable', '100%'])).code).toBe(7);
      expect(snapshot(file)).toBe(before);
      server.faults.emptyList = false;

      server.vanish([2, 3, 4, 5, 6, 7, 8, 9]);
      const forty = await sync(server, cwd, ['--json']);
      expect(forty.code).toBe(7);
      const doc = JSON.parse(forty.stdout);
      expect(doc).toMatchObject({ outcome: 'refused', counts: { disable: 8 }, guard: { tripped: true, limit: 2, linked: 20 } });
      expect(JSON.parse(forty.stderr).error).toMatchObject({ code: 'SYNC_GUARD', exitCode: 7 });
      expect(snapshot(file)).toBe(before);
      expect((await sync(server, cwd, ['--max-disable', '5'])).code).toBe(7);
      expect(snapshot(file)).toBe(before);

      const forced = await sync(server, cwd, ['--force', '--json']);
      expect(forced.code, forced.stderr).toBe(0);
      expect(JSON.parse(forced.stdout)).toMatchObject({ outcome: 'applied', counts: { disable: 8 }, guard: { forced: true } });
      expect(users(file).filter((u) => u.gpustack_user_id !== null && u.is_active === 0)).toHaveLength(8);
      expect(JSON.parse(auditRows(file).at(-1)!.details as string)).toMatchObject({ disabled: 8, forced: true });
    } finally {
      await server.close();
    }
  });

  it('survives two transient 500s', async () => {
    const server = await startGpustackStandIn({ users: standardUsers() });
    try {
      const { cwd, file } = freshDb();
      server.faults.transient500 = 2;
      const r = await sync(server, cwd);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toMatch(/500 Internal Server Error; retrying in/);
      expect(users(file).filter((u) => u.gpustack_user_id !== null)).toHaveLength(20);
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
    ['a server slower than the timeout', (s: GpustackStandIn) => void (s.faults.slowMs = 1500), { AUTHCTL_GPUSTACK_TIMEOUT_MS: '300', AUTHCTL_GPUSTACK_RETRIES: '1' }, /no answer within 300 ms/],
  ])('exits 6 on %s, changes nothing and prints no stack trace', async (_name, fault, env, message) => {
    const server = await startGpustackStandIn({ users: standardUsers() });
    try {
      const { cwd, file } = freshDb();
      expect((await sync(server, cwd)).code).toBe(0);
      server.vanish([2]);
      server.rename(3, 'renamed');
      const before = snapshot(file);
      fault(server);
      const r = await sync(server, cwd, [], env as Record<string, string>);
      expect(r.code, r.stderr).toBe(6);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).toMatch(/hint: /);
      expect(hasStackTrace(r.stdout + r.stderr)).toBe(false);
      expectNoSecrets(r);
      expect(snapshot(file)).toBe(before);
    } finally {
      await server.close();
    }
  });

  it('syncs a 0.x server through /v1, within its perPage bound', async () => {
    const old = [makeUser(1, 'admin', { is_admin: true }), ...makeUsers(150, 2)];
    const server = await startGpustackStandIn({ version: 'v0.6.2', users: old });
    try {
      const { cwd, file } = freshDb();
      const r = await sync(server, cwd, ['--json']);
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ api: 'v1', serverVersion: 'v0.6.2', upstreamUsers: 151, counts: { create: 150 } });
      expect(server.requests.some((q) => q.path.startsWith('/v2/'))).toBe(false);
      expect(server.listRequests().map((q) => q.query.page).sort()).toEqual(['1', '2']);
      expect(byGid(file, 151)).toMatchObject({ is_active: 1 });
      withDb(file, (db) => expect(unparseableTimestamps(db)).toEqual([]));
    } finally {
      await server.close();
    }
  });

  it('tells the versions apart by the 404 when /version is missing', async () => {
    const server = await startGpustackStandIn({ version: 'v0.5.1', versionRoute: false, users: standardUsers() });
    try {
      const { cwd } = freshDb();
      const r = await sync(server, cwd, ['--dry-run', '--json']);
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
      const { cwd, file } = freshDb();
      const holder = new Database(`${file}.authctl-sync.lock`);
      holder.exec('BEGIN EXCLUSIVE');
      try {
        const r = await sync(server, cwd);
        expect(r.code).toBe(75);
        expect(r.stderr).toMatch(/Another authctl sync is running/);
      } finally {
        holder.exec('ROLLBACK');
        holder.close();
      }
      const bad = await sync(server, cwd, ['--max-disable', 'lots']);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toMatch(/--max-disable "lots"/);
      expect(users(file).filter((u) => u.gpustack_user_id !== null)).toHaveLength(0);
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
    const { cwd } = freshDb();
    const ok = await runCli(['doctor', '--json'], { cwd, env: { ...FAST, GPUSTACK_API_BASE: server.url, GPUSTACK_API_TOKEN: ADMIN_KEY } });
    const okCheck = JSON.parse(ok.stdout).checks.find((c: { id: string }) => c.id === 'gpustack');
    expect(okCheck).toMatchObject({ status: 'ok' });
    expect(okCheck.detail).toContain('v2.2.3');
    expectNoSecrets(ok);

    const wrongKey = 'gpustack_deadbeefdeadbeef_00000000000000000000000000000000';
    const bad = await runCli(['doctor'], { cwd, env: { ...FAST, GPUSTACK_API_BASE: server.url, GPUSTACK_API_TOKEN: wrongKey } });
    expect(bad.code).toBe(8);
    expect(bad.stdout).toMatch(/GPUStack reachable, credential accepted\s*│\s*fail/);
    expect(bad.stdout + bad.stderr).not.toContain(wrongKey);
  });
});
