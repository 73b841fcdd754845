import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasStackTrace, runCli, startCli, tempDir, type CliResult } from '../support/cli.js';
import { cli, describeProviders, type TestDb } from '../support/db.js';
import { ADMIN_KEY, makeUser, makeUsers, startGpustackStandIn, syncSnapshot, GPUSTACK_FAST_ENV, type GpustackStandIn } from '../support/gpustack-server.js';

/**
 * What a GPUStack server (or whatever answers in its place) may send that a
 * sync must not take at face value, and keys and URLs that cannot be used.
 */

const FAST = GPUSTACK_FAST_ENV;
const snapshot = syncSnapshot;

async function byGid(db: TestDb, gid: number): Promise<Record<string, unknown> | undefined> {
  return (await db.query<Record<string, unknown>>('SELECT * FROM users WHERE gpustack_user_id = ?', gid))[0];
}

function sync(server: GpustackStandIn, db: TestDb, args: string[] = [], env: Record<string, string> = {}, timeoutMs?: number): Promise<CliResult> {
  return cli(db, ['gpustack', 'sync', ...args], { env: { ...FAST, GPUSTACK_API_BASE: server.url, GPUSTACK_API_TOKEN: ADMIN_KEY, ...env }, timeoutMs });
}

function standardUsers() {
  return [makeUser(1, 'admin', { is_admin: true, full_name: 'Default System Admin' }), ...makeUsers(20, 2)];
}

function expectClean(r: CliResult, ...secrets: string[]): void {
  expect(hasStackTrace(r.stdout + r.stderr)).toBe(false);
  expect(r.stderr).not.toMatch(/This is a bug/);
  // Not even a part of one: a value cut short for a message must not carry the key's start.
  for (const s of secrets) expect(r.stdout + r.stderr).not.toContain(s.slice(0, 20));
}

describe('gpustack: keys and URLs that cannot be used', () => {
  let server: GpustackStandIn;
  beforeAll(async () => {
    server = await startGpustackStandIn({ users: standardUsers() });
  });
  afterAll(() => server.close());

  const check = (cwd: string, env: Record<string, string>, args: string[] = []) =>
    runCli(['gpustack', 'check', '--url', server.url, ...args], { cwd, env: { ...FAST, ...env } });

  it('an https:// URL on a port that speaks plain HTTP is named as such, not as a bare EPROTO', async () => {
    const r = await runCli(['gpustack', 'check', '--url', server.url.replace('http://', 'https://')], { cwd: tempDir(), env: { ...FAST, GPUSTACK_API_TOKEN: ADMIN_KEY } });
    expect(r.code).toBe(6);
    expect(r.stdout + r.stderr).toMatch(/TLS handshake failed: the server did not answer in TLS \(is it plain http:\/\/ on that port\?\)/);
    expect(r.stdout + r.stderr).not.toMatch(/\bEPROTO\b/);
    expectClean(r, ADMIN_KEY);
  });

  it.each([
    ['a line break', `${ADMIN_KEY}\nsecond-line-of-the-key`],
    ['a curly quote', `\u201c${ADMIN_KEY}\u201d`],
    ['a control character', `gpustack_\u0001${ADMIN_KEY.slice(9)}`],
  ])('refuses a key with %s from the environment, .env or a file: exit 2 naming the source, never the key', async (_name, key) => {
    const secretPart = key.includes('\n') ? 'second-line-of-the-key' : ADMIN_KEY.slice(12);
    for (const variable of ['GPUSTACK_API_TOKEN', 'GPUSTACK_API_KEY']) {
      for (const debug of [[], ['--debug']]) {
        const r = await check(tempDir(), { [variable]: key }, debug);
        expect(r.code, r.stderr).toBe(2);
        expect(r.stderr).toContain(variable);
        expectClean(r, secretPart);
      }
    }

    const dotEnvDir = tempDir();
    fs.writeFileSync(path.join(dotEnvDir, '.env'), `GPUSTACK_API_TOKEN="${key.replace(/\n/g, '\\n')}"\n`);
    const fromDotEnv = await check(dotEnvDir, {}, ['--debug']);
    expect(fromDotEnv.code, fromDotEnv.stderr).toBe(2);
    expect(fromDotEnv.stderr).toMatch(/GPUSTACK_API_TOKEN in \.env/);
    expectClean(fromDotEnv, secretPart);

    const fileDir = tempDir();
    fs.writeFileSync(path.join(fileDir, 'key'), `${key}\n`, { mode: 0o600 });
    const fromFile = await check(fileDir, {}, ['--token-file', 'key', '--debug']);
    expect(fromFile.code, fromFile.stderr).toBe(2);
    expect(fromFile.stderr).toMatch(/token file key/);
    expectClean(fromFile, secretPart);
    // Nothing was sent with it.
    expect(server.requests.filter((q) => q.authorization?.includes('second-line') || q.authorization?.includes('\u0001'))).toEqual([]);
  });

  it('still takes a key file with one trailing newline', async () => {
    const cwd = tempDir();
    fs.writeFileSync(path.join(cwd, 'key'), `${ADMIN_KEY}\n`, { mode: 0o600 });
    const r = await check(cwd, {}, ['--token-file', 'key']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/readable by other users/);
  });

  it('warns about a key file that other users may read, as for a password file', async () => {
    const cwd = tempDir();
    const file = path.join(cwd, 'key');
    fs.writeFileSync(file, `${ADMIN_KEY}\n`);
    fs.chmodSync(file, 0o644);
    const r = await check(cwd, {}, ['--token-file', 'key']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/The token file key is readable by other users \(mode 0644\); restrict it with chmod 600/);
    expectClean(r, ADMIN_KEY);
  });

  it('refuses a base URL with a query or a fragment (exit 2), from --url or the environment', async () => {
    for (const url of [`${server.url}?x=1`, `${server.url}/#top`, `${server.url}?`]) {
      const flag = await runCli(['gpustack', 'check', '--url', url], { cwd: tempDir(), env: { ...FAST, GPUSTACK_API_TOKEN: ADMIN_KEY } });
      expect(flag.code, flag.stdout + flag.stderr).toBe(2);
      expect(flag.stderr).toMatch(/query or a fragment/);
      const env = await runCli(['gpustack', 'check'], { cwd: tempDir(), env: { ...FAST, GPUSTACK_API_BASE: url, GPUSTACK_API_TOKEN: ADMIN_KEY } });
      expect(env.code, env.stdout + env.stderr).toBe(2);
    }
    expect(server.requests.some((q) => q.path.includes('?') || q.query.x !== undefined)).toBe(false);
  });

  it('scrubs a short key echoed back by the server, and says "rate limited" on a 429', async () => {
    const short = 's3cr3t';
    const echo = await startGpustackStandIn({ users: standardUsers(), keys: [{ key: short, userId: 1, scope: '*' }] });
    try {
      echo.faults.echoBareKey = true;
      const r = await runCli(['gpustack', 'check', '--url', echo.url], { cwd: tempDir(), env: { ...FAST, GPUSTACK_API_TOKEN: short } });
      expect(r.code).toBe(6);
      expect(r.stdout).toMatch(/the key \*\*\* is not known here/);
      expectClean(r, short);

      echo.faults.echoBareKey = false;
      echo.faults.status = 429;
      const limited = await runCli(['gpustack', 'check', '--url', echo.url, '--json'], {
        cwd: tempDir(),
        env: { ...FAST, GPUSTACK_API_TOKEN: short, AUTHCTL_GPUSTACK_RETRIES: '0' },
      });
      expect(limited.code).toBe(6);
      const reachable = JSON.parse(limited.stdout).checks[0];
      expect(reachable.detail).toMatch(/429/);
      expect(reachable.hint).toMatch(/rate limit/i);
      expect(reachable.hint).toMatch(/later/);
      expect(reachable.hint).not.toMatch(/points at a GPUStack server/);
    } finally {
      await echo.close();
    }
  });
});

describe('gpustack check: answers that are not bounded', () => {
  it('gives up on an answer that arrives byte by byte once the timeout has passed, however steady', async () => {
    const server = await startGpustackStandIn({ users: standardUsers() });
    try {
      server.faults.listDripMs = 20;
      const started = Date.now();
      const r = await runCli(['gpustack', 'check', '--url', server.url, '--json'], {
        cwd: tempDir(),
        env: { ...FAST, GPUSTACK_API_TOKEN: ADMIN_KEY, AUTHCTL_GPUSTACK_TIMEOUT_MS: '1000', AUTHCTL_GPUSTACK_RETRIES: '0' },
        timeoutMs: 20_000,
      });
      expect(r.code, r.stderr).toBe(6);
      expect(Date.now() - started).toBeLessThan(10_000);
      const list = JSON.parse(r.stdout).checks.find((c: { id: string }) => c.id === 'list-users');
      expect(list.detail, r.stdout).toMatch(/no complete answer within 1000 ms/);
    } finally {
      await server.close();
    }
  });
});

describeProviders('gpustack sync hardening', ({ newDb, cloneDb }) => {
  let template: TestDb;
  beforeAll(async () => {
    template = await newDb();
    const r = await cli(template, ['init-db', '--generate-password'], { env: FAST });
    expect(r.code, r.stderr).toBe(0);
  });

  /** A database already in sync with the standard 20 users (GPUStack's admin is left out: the name is local). */
  async function syncedDb(server: GpustackStandIn, args: string[] = []): Promise<TestDb> {
    const db = await cloneDb(template);
    const r = await sync(server, db, args);
    expect(r.code, r.stderr).toBe(0);
    return db;
  }

  it('refuses a key with a line break before sync talks to GPUStack (exit 2), the database untouched', async () => {
    const server = await startGpustackStandIn({ users: standardUsers() });
    try {
      const db = await cloneDb(template);
      const before = await snapshot(db);
      const r = await sync(server, db, ['--debug'], { GPUSTACK_API_TOKEN: `${ADMIN_KEY}\nsecond-line-of-the-key` });
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(/GPUSTACK_API_TOKEN in the environment holds a line break/);
      expectClean(r, 'second-line-of-the-key');
      expect(server.requests).toEqual([]);
      expect(await snapshot(db)).toBe(before);
    } finally {
      await server.close();
    }
  });

  it('Ctrl+C, SIGTERM or SIGHUP while GPUStack is read: exit 130, nothing changed, no lock file left beside the database', async () => {
    const server = await startGpustackStandIn({ users: standardUsers() });
    try {
      const db = await syncedDb(server);
      const before = await snapshot(db);
      server.vanish([3]);
      server.faults.slowMs = 400;
      for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
        const run = startCli(['gpustack', 'sync'], { cwd: db.cwd, env: { ...db.env, ...FAST, GPUSTACK_API_BASE: server.url, GPUSTACK_API_TOKEN: ADMIN_KEY }, timeoutMs: 60_000 });
        // Stopped once the sync has asked GPUStack for something: it holds its lock by then.
        const asked = server.requests.length;
        while (server.requests.length === asked) await new Promise((r) => setTimeout(r, 10));
        run.child.kill(signal);
        const r = await run.done;
        expect(r.code, `${signal}: ${r.stderr}`).toBe(130);
        expect(await snapshot(db)).toBe(before);
        if (db.provider === 'sqlite') {
          const folder = path.dirname(db.url.slice('sqlite:///'.length));
          expect(fs.readdirSync(folder).filter((f) => f.includes('.authctl-')), signal).toEqual([]);
        }
      }
    } finally {
      await server.close();
    }
  });

  it('counts upstream deactivations against --max-disable, not only vanished users', async () => {
    const server = await startGpustackStandIn({ users: standardUsers() });
    try {
      const db = await syncedDb(server);
      const before = await snapshot(db);
      for (const id of [2, 3, 4, 5, 6, 7, 8, 9]) server.deactivate(id);
      const r = await sync(server, db, ['--json']);
      expect(r.code, r.stderr).toBe(7);
      expect(JSON.parse(r.stdout)).toMatchObject({ outcome: 'refused', guard: { tripped: true, disable: 8, limit: 2, linked: 20 } });
      expect(JSON.parse(r.stderr).error.message).toMatch(/8 user\(s\)/);
      expect(await snapshot(db)).toBe(before);

      // Vanished and deactivated add up: 2 + 1 is over 10% of 20.
      for (const id of [4, 5, 6, 7, 8, 9]) server.edit(id, { is_active: true });
      server.vanish([10, 11]);
      const mixed = await sync(server, db, ['--json']);
      expect(mixed.code, mixed.stderr).toBe(7);
      expect(JSON.parse(mixed.stdout).guard).toMatchObject({ tripped: true, disable: 4 });
      expect(await snapshot(db)).toBe(before);

      const forced = await sync(server, db, ['--force', '--json']);
      expect(forced.code, forced.stderr).toBe(0);
      expect(await byGid(db, 2)).toMatchObject({ is_active: 0 });
    } finally {
      await server.close();
    }
  });

  it('refuses a plan that leaves no active admin, by deactivation or by demotion', async () => {
    const server = await startGpustackStandIn({ users: standardUsers() });
    try {
      // The app's admin is linked to GPUStack's admin by name: it is the only admin.
      const db = await syncedDb(server, ['--link-by-username']);
      expect(await byGid(db, 1)).toMatchObject({ username: 'admin', is_admin: 1, is_active: 1 });
      const before = await snapshot(db);

      // On the wire only: the key used here must keep working, as another admin's would.
      server.wire.set(1, { is_active: false });
      const off = await sync(server, db, ['--json', '--max-disable', '100%']);
      expect(off.code, off.stderr).toBe(7);
      expect(JSON.parse(off.stdout).guard).toMatchObject({ tripped: true, rule: 'no-admin', activeAdminsAfter: 0 });
      expect(JSON.parse(off.stderr).error.message).toMatch(/no active admin/);
      expect(await snapshot(db)).toBe(before);

      server.wire.set(1, { is_admin: false });
      const demoted = await sync(server, db);
      expect(demoted.code, demoted.stderr).toBe(7);
      expect(demoted.stderr).toMatch(/no active admin/);
      expect(demoted.stderr).not.toMatch(/--max-disable/);
      expect(await snapshot(db)).toBe(before);

      // Another admin upstream: the demotion is fine.
      server.edit(2, { is_admin: true });
      const ok = await sync(server, db, ['--json']);
      expect(ok.code, ok.stderr).toBe(0);
      expect(await byGid(db, 1)).toMatchObject({ is_admin: 0, is_active: 1 });
      expect(await byGid(db, 2)).toMatchObject({ is_admin: 1 });
    } finally {
      await server.close();
    }
  });

  it.each([
    ['is_active as a string', 7, { is_active: 'true' }],
    ['is_active as null', 7, { is_active: null }],
    ['is_admin as a string', 7, { is_admin: 'yes' }],
    ['is_admin as a number', 7, { is_admin: 1 }],
    ['username as a number', 7, { username: 42 }],
    ['the id as a string', 7, { id: '7' }],
    ['a negative id', 7, { id: -7 }],
    ['a zero id', 7, { id: 0 }],
    ['a fractional id', 7, { id: 7.5 }],
    ['an unsafe integer id', 7, { id: 2 ** 60 }],
    ['full_name as a number', 7, { full_name: 7 }],
    ['is_admin holding the API key', 7, { is_admin: ADMIN_KEY }],
    ['the id holding the API key', 7, { id: ADMIN_KEY }],
  ])('exits 6 on %s and changes nothing', async (_name, id, patch) => {
    const server = await startGpustackStandIn({ users: standardUsers() });
    try {
      const db = await syncedDb(server);
      const before = await snapshot(db);
      server.deactivate(3);
      server.wire.set(id, patch);
      const r = await sync(server, db);
      expect(r.code, r.stdout + r.stderr).toBe(6);
      expect(r.stderr).toMatch(/sent an unexpected answer/);
      expectClean(r, ADMIN_KEY);
      expect(await snapshot(db)).toBe(before);
    } finally {
      await server.close();
    }
  });

  it('never stores or prints the API key a server echoed into a user\'s name or full name', async () => {
    const server = await startGpustackStandIn({ users: standardUsers() });
    try {
      const db = await syncedDb(server);
      server.add(makeUser(30, 'echoed', { full_name: `Key ${ADMIN_KEY}` }), makeUser(31, ADMIN_KEY));
      const r = await sync(server, db, ['--json']);
      expect(r.code, r.stderr).toBe(0);
      expectClean(r, ADMIN_KEY);
      const report = JSON.parse(r.stdout);
      expect(report.counts.create).toBe(0);
      const conflicts = report.plan.conflicts as Array<{ gpustackId: number; username: string; detail: string }>;
      expect(conflicts.find((c) => c.gpustackId === 30)!.detail).toMatch(/full name holds the GPUStack API key/);
      expect(conflicts.find((c) => c.gpustackId === 31)!.username).toBe('***');
      expect(await byGid(db, 30)).toBeUndefined();
      expect(await byGid(db, 31)).toBeUndefined();
      expect(JSON.stringify(await db.query('SELECT * FROM users'))).not.toContain(ADMIN_KEY.slice(0, 20));
      const human = await sync(server, db, ['--dry-run']);
      expect(human.stdout).toMatch(/holds the GPUStack API key/);
      expectClean(human, ADMIN_KEY);
    } finally {
      await server.close();
    }
  });

  it('exits 6 when the same GPUStack id is listed twice with different data, and takes an exact repeat', async () => {
    const server = await startGpustackStandIn({ users: standardUsers() });
    try {
      const db = await syncedDb(server);
      const before = await snapshot(db);
      const seven = { id: 7, username: 'user00007', full_name: 'User00007 User', is_admin: false, is_active: true, source: 'Local' };
      server.extraItems = [{ ...seven, is_admin: true }];
      const r = await sync(server, db);
      expect(r.code, r.stdout + r.stderr).toBe(6);
      expect(r.stderr).toMatch(/GPUStack user 7 twice with different data/);
      expect(await snapshot(db)).toBe(before);

      server.extraItems = [{ ...seven }];
      const same = await sync(server, db, ['--json']);
      expect(same.code, same.stderr).toBe(0);
      expect(JSON.parse(same.stdout).outcome).toBe('no-change');

      // A user edited while the pages were read differs only in that reading: read again.
      server.extraItems = [{ ...seven, is_admin: true }];
      server.extraItemsReadings = 1;
      const edited = await sync(server, db, ['--json']);
      expect(edited.code, edited.stderr).toBe(0);
      expect(JSON.parse(edited.stdout).outcome).toBe('no-change');
    } finally {
      await server.close();
    }
  });

  it('stores values that do not fit the columns nowhere: a too-long full name or an id beyond INTEGER is a conflict', async () => {
    const long = 'L'.repeat(300);
    const server = await startGpustackStandIn({
      users: [...standardUsers(), makeUser(60, 'longname', { full_name: long }), makeUser(2 ** 40, 'bigid'), makeUser(61, 'nulname', { full_name: 'a\u0000b' })],
    });
    try {
      const db = await cloneDb(template);
      const r = await sync(server, db, ['--json']);
      expect(r.code, r.stderr).toBe(0);
      const out = JSON.parse(r.stdout);
      expect(out.counts.create).toBe(20);
      const unusable = out.plan.conflicts.filter((c: { kind: string }) => c.kind === 'unusable-value');
      expect(unusable.map((c: { gpustackId: number }) => c.gpustackId)).toEqual([60, 61, 2 ** 40]);
      expect(unusable[0].detail).toMatch(/full name is 300 characters/);
      expect(unusable[2].detail).toMatch(/id/);
      expect(await byGid(db, 60)).toBeUndefined();
      expect(await byGid(db, 61)).toBeUndefined();
      expect((await db.query("SELECT * FROM users WHERE username = 'bigid'")).length).toBe(0);

      // A linked user renamed to a name that does not fit keeps the old one; the rest still syncs, and so do later runs.
      server.edit(7, { full_name: long, is_admin: true });
      const again = await sync(server, db, ['--json']);
      expect(again.code, again.stderr).toBe(0);
      expect(await byGid(db, 7)).toMatchObject({ full_name: 'User00007 User', is_admin: 1 });
      const third = await sync(server, db, ['--json']);
      expect(third.code, third.stderr).toBe(0);
      expect(JSON.parse(third.stdout).outcome).toBe('no-change');
    } finally {
      await server.close();
    }
  });

  it('says in a dry run that a real run would be refused, and why', async () => {
    const server = await startGpustackStandIn({ users: standardUsers() });
    try {
      const db = await syncedDb(server);
      server.vanish([2, 3, 4, 5, 6, 7, 8, 9]);
      const dry = await sync(server, db, ['--dry-run']);
      expect(dry.code, dry.stderr).toBe(0);
      expect(dry.stdout + dry.stderr).toMatch(/A real run would be refused \(exit 7\).*the plan disables 8 user\(s\)/);
      expect(dry.stdout + dry.stderr).toMatch(/--force/);
      const forced = await sync(server, db, ['--dry-run', '--force']);
      expect(forced.code, forced.stderr).toBe(0);
      expect(forced.stdout + forced.stderr).toMatch(/only because of --force/);
      const fine = await sync(server, db, ['--dry-run', '--max-disable', '50%']);
      expect(fine.stdout + fine.stderr).not.toMatch(/would be refused/);
    } finally {
      await server.close();
    }
  });

  it('refuses an implausible totalPage, and more pages than the cap, quickly and without changes', async () => {
    const server = await startGpustackStandIn({ users: standardUsers() });
    try {
      const db = await syncedDb(server);
      server.deactivate(3);
      const before = await snapshot(db);
      server.faults.pagination = { totalPage: 10 ** 9 };
      const lying = await sync(server, db, [], {}, 20_000);
      expect(lying.code, lying.stderr).toBe(6);
      expect(lying.stderr).toMatch(/totalPage/);
      expect(await snapshot(db)).toBe(before);

      server.faults.pagination = { total: 5_000_000, totalPage: 50_000 };
      const huge = await sync(server, db, [], {}, 20_000);
      expect(huge.code, huge.stderr).toBe(6);
      expect(huge.stderr).toMatch(/10000 pages/);
      expect(await snapshot(db)).toBe(before);
      expect(server.listRequests().length).toBeLessThan(20);

      // One page more than the users fill: the empty page ends the read.
      server.faults.pagination = { totalPage: 2 };
      const spare = await sync(server, db, ['--json']);
      expect(spare.code, spare.stderr).toBe(0);
      expect(JSON.parse(spare.stdout)).toMatchObject({ outcome: 'applied', pages: 2 });
    } finally {
      await server.close();
    }
  });

  it('refuses an answer larger than the size cap (exit 6, says so), and one that drips past the timeout', async () => {
    const server = await startGpustackStandIn({ users: standardUsers() });
    try {
      const db = await syncedDb(server);
      server.deactivate(3);
      const before = await snapshot(db);
      server.faults.listPaddingBytes = 20 * 1024 * 1024;
      const big = await sync(server, db, [], { AUTHCTL_GPUSTACK_RETRIES: '0' }, 30_000);
      expect(big.code, big.stderr).toBe(6);
      expect(big.stderr).toMatch(/larger than 8 MiB/);
      expectClean(big, ADMIN_KEY);
      expect(await snapshot(db)).toBe(before);
      server.faults.listPaddingBytes = 0;

      server.faults.listDripMs = 20;
      const started = Date.now();
      const slow = await sync(server, db, [], { AUTHCTL_GPUSTACK_TIMEOUT_MS: '1000', AUTHCTL_GPUSTACK_RETRIES: '1' }, 20_000);
      expect(slow.code, slow.stderr).toBe(6);
      expect(slow.stderr).toMatch(/no complete answer within 1000 ms/);
      expect(Date.now() - started).toBeLessThan(10_000);
      expect(await snapshot(db)).toBe(before);
    } finally {
      await server.close();
    }
  });
});
