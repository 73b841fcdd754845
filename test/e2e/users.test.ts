import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { hasStackTrace, runCli, tempDir } from '../support/cli.js';
import { appLogins, appTimestamp, cli, describeProviders, fillAppDatabase, independentBcrypt, independentVerify, isoTimestamp, type TestDb, unparseable } from '../support/db.js';

const FAST = { AUTHCTL_BCRYPT_ROUNDS: '10' };
const ADMIN_PASSWORD = 'an admin passphrase';


async function snapshot(db: TestDb): Promise<string> {
  const tables = [];
  for (const t of ['users', 'user_sessions', 'user_preferences', 'authctl_audit']) tables.push(await db.query(`SELECT * FROM ${t} ORDER BY id`));
  return JSON.stringify(tables);
}

describeProviders('users', ({ provider, newDb }) => {
/** A migrated database with an admin and nothing else. */
async function freshDb(): Promise<TestDb> {
  const db = await newDb();
  const r = await cli(db, ['init-db', '--password-stdin'], { input: ADMIN_PASSWORD, env: FAST });
  expect(r.code, r.stderr).toBe(0);
  return db;
}

describe('user add', () => {
  it('adds a user from stdin with a $2b$ cost-12 hash that an independent bcrypt accepts', async () => {
    const db = await freshDb();
    const password = 'alice has a long password';
    const r = await cli(db, ['user', 'add', 'alice', '--email', 'alice@example.com', '--full-name', 'Alice Chen', '--password-stdin', '--json'], {
      input: `${password}\n`,
    });
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.user).toMatchObject({ username: 'alice', email: 'alice@example.com', isAdmin: false, isActive: true, login: 'password' });
    expect(out).not.toHaveProperty('password');
    expect(r.stdout + r.stderr).not.toContain(password);
    const [row] = await db.query<Record<string, unknown>>("SELECT * FROM users WHERE username = 'alice'");
    expect(row!.password_hash).toMatch(/^\$2b\$12\$/);
    expect(independentVerify(password, row!.password_hash as string)).toBe(true);
    expect(row).toMatchObject({ is_admin: 0, is_active: 1, full_name: 'Alice Chen' });
    expect(r.stdout).not.toContain(row!.password_hash as string);
    expect(await unparseable(db)).toEqual([]);
  });

  it('generates a password shown once, and takes --password-file and --admin', async () => {
    const db = await freshDb();
    const g = await cli(db, ['user', 'add', 'bob', '--generate-password'], { env: FAST });
    expect(g.code, g.stderr).toBe(0);
    const generated = /Password for bob \(shown once\): (\S+)/.exec(g.stdout)?.[1];
    expect(generated).toHaveLength(20);
    const [bob] = await db.query<{ password_hash: string }>("SELECT password_hash FROM users WHERE username = 'bob'");
    expect(independentVerify(generated!, bob!.password_hash)).toBe(true);

    fs.writeFileSync(path.join(db.cwd, 'pw.txt'), 'carol is the boss now\n', { mode: 0o600 });
    const f = await cli(db, ['user', 'add', 'carol', '--admin', '--password-file', 'pw.txt'], { env: FAST });
    expect(f.code, f.stderr).toBe(0);
    const [carol] = await db.query<{ password_hash: string; is_admin: number }>("SELECT password_hash, is_admin FROM users WHERE username = 'carol'");
    expect(carol!.is_admin).toBe(1);
    expect(independentVerify('carol is the boss now', carol!.password_hash)).toBe(true);

    const audit = JSON.stringify(await db.query('SELECT * FROM authctl_audit'));
    expect(audit).not.toContain(generated!);
    expect(audit).not.toContain('carol is the boss now');
    expect(audit).not.toContain(carol!.password_hash);
  });

  it.each([
    ['a taken username', ['user', 'add', 'admin', '--generate-password'], 4, /already taken/],
    ['a weak password', ['user', 'add', 'dave', '--password-stdin'], 7, /refused/],
    ['a password equal to the username', ['user', 'add', 'davedavedave', '--password-stdin'], 7, /same as the username/],
    ['no password source without a TTY', ['user', 'add', 'dave'], 2, /No password source/],
    ['two password sources', ['user', 'add', 'dave', '--password-stdin', '--generate-password'], 2, /one password source/],
    ['a username with spaces', ['user', 'add', ' dave', '--generate-password'], 2, /whitespace/],
    ['a bad email', ['user', 'add', 'dave', '--email', 'not-an-email', '--generate-password'], 2, /not an email/],
    ['out-of-range rounds', ['user', 'add', 'dave', '--generate-password', '--rounds', '4'], 2, /10 to 15/],
  ])('refuses %s with its exit code and changes nothing', async (_name, args, code, message) => {
    const db = await freshDb();
    const before = await snapshot(db);
    const input = args.includes('davedavedave') ? 'davedavedave' : 'password';
    const r = await cli(db, args as string[], { input, env: FAST });
    expect(r.code, r.stderr).toBe(code);
    expect(r.stderr).toMatch(message as RegExp);
    expect(hasStackTrace(r.stderr)).toBe(false);
    expect(await snapshot(db)).toBe(before);
  });

  it('refuses a taken email with exit 4', async () => {
    const db = await freshDb();
    expect((await cli(db, ['user', 'add', 'erin', '--email', 'e@example.com', '--generate-password'], { env: FAST })).code).toBe(0);
    const before = await snapshot(db);
    const r = await cli(db, ['user', 'add', 'frank', '--email', 'e@example.com', '--generate-password', '--json'], { env: FAST });
    expect(r.code).toBe(4);
    expect(JSON.parse(r.stderr).error.code).toBe('EMAIL_TAKEN');
    expect(await snapshot(db)).toBe(before);
  });

  it('accepts a weak password with --allow-weak-password and records that in the audit log', async () => {
    const db = await freshDb();
    const r = await cli(db, ['user', 'add', 'gus', '--password-stdin', '--allow-weak-password'], { input: 'gus', env: FAST });
    expect(r.code, r.stderr).toBe(0);
    const [entry] = await db.query<{ details: string }>("SELECT details FROM authctl_audit WHERE command = 'user add'");
    expect(JSON.parse(entry!.details)).toMatchObject({ weakPasswordAllowed: true });
  });
});

describe('the admin/admin story on an app-made database', () => {
  let db: TestDb;
  let tokens: string[];

  beforeAll(async () => {
    db = await newDb();
    const now = Date.now();
    await fillAppDatabase(db, {
      users: [
        { username: 'admin', passwordHash: independentBcrypt('admin', 12), isAdmin: true },
        { username: 'alice', passwordHash: independentBcrypt('a strong passphrase', 10) },
      ],
      sessions: [
        { userId: 1, expiresAt: appTimestamp(new Date(now + 10 * 60_000)) },
        { userId: 1, expiresAt: provider === 'sqlite' ? isoTimestamp(new Date(now + 3 * 60_000)) : appTimestamp(new Date(now + 3 * 60_000)), tokenType: 'refresh' },
        { userId: 2, expiresAt: appTimestamp(new Date(now + 20 * 60_000)) },
        { userId: 2, expiresAt: appTimestamp(new Date(now - 20 * 60_000)) },
      ],
    });
    tokens = (await db.query<{ session_token: string }>('SELECT session_token FROM user_sessions')).map((r) => r.session_token);
    if (provider === 'sqlite') fs.chmodSync(db.url.replace('sqlite:///', ''), 0o600);
  });

  it('doctor fails (exit 8) on the default admin password, even before adoption', async () => {
    const r = await cli(db, ['doctor', '--json']);
    expect(r.code).toBe(8);
    const report = JSON.parse(r.stdout);
    const weak = report.checks.find((c: { id: string }) => c.id === 'weak-passwords');
    expect(weak).toMatchObject({ status: 'fail' });
    expect(weak.detail).toContain('admin');
    expect(weak.detail).not.toContain('alice');
    expect(report.checks.find((c: { id: string }) => c.id === 'migrations')).toMatchObject({ status: 'fail' });
    expect(report.checks.find((c: { id: string }) => c.id === 'gpustack')).toMatchObject({ status: 'skipped' });
  });

  it('user commands ask for adoption first (exit 5)', async () => {
    const r = await cli(db, ['user', 'list']);
    expect(r.code).toBe(5);
    expect(r.stderr).toMatch(/authctl migrate/);
  });

  it("user reset replaces admin/admin and revokes only admin's sessions; doctor then passes", async () => {
    expect((await cli(db, ['migrate'])).code).toBe(0);
    const newPassword = 'a much better admin passphrase';
    const r = await cli(db, ['user', 'reset', 'admin', '--password-stdin'], { input: `${newPassword}\n` });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/Revoked 2 session/);
    const [admin] = await db.query<{ password_hash: string }>("SELECT password_hash FROM users WHERE username = 'admin'");
    expect(independentVerify(newPassword, admin!.password_hash)).toBe(true);
    expect(independentVerify('admin', admin!.password_hash)).toBe(false);
    expect(await db.query('SELECT * FROM user_sessions WHERE user_id = 1')).toHaveLength(0);
    expect(await db.query('SELECT * FROM user_sessions WHERE user_id = 2')).toHaveLength(2);
    expect(await unparseable(db)).toEqual([]);

    const d = await cli(db, ['doctor']);
    expect(d.code, d.stdout + d.stderr).toBe(0);
    for (const token of tokens) expect(d.stdout + d.stderr).not.toContain(token);
  });

  it('keeps sessions with --keep-sessions and refuses an unknown user with exit 3', async () => {
    const keep = await cli(db, ['user', 'reset', 'alice', '--generate-password', '--keep-sessions', '--json'], { env: FAST });
    expect(keep.code, keep.stderr).toBe(0);
    expect(JSON.parse(keep.stdout)).toMatchObject({ revokedSessions: 0 });
    expect(JSON.parse(keep.stdout).password).toHaveLength(20);
    expect(await db.query('SELECT * FROM user_sessions WHERE user_id = 2')).toHaveLength(2);
    const before = await snapshot(db);
    const r = await cli(db, ['user', 'reset', 'nobody', '--generate-password']);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/No user named "nobody"/);
    expect(await snapshot(db)).toBe(before);
  });
});

describe('disable, enable, list, show', () => {
  it('disables with session revocation, refuses the last admin, and enables again', async () => {
    const db = await freshDb();
    expect((await cli(db, ['user', 'add', 'alice', '--generate-password'], { env: FAST })).code).toBe(0);
    const later = appTimestamp(new Date(Date.now() + 600_000));
    await db.query(
      "INSERT INTO user_sessions (user_id, session_token, jti, token_type, expires_at, created_at, last_accessed) VALUES (2, 'tok-a', 'jti-a', 'access', ?, ?, ?), (1, 'tok-b', 'jti-b', 'access', ?, ?, ?)",
      later, later, later, later, later, later,
    );

    const before = await snapshot(db);
    const last = await cli(db, ['user', 'disable', 'admin']);
    expect(last.code).toBe(7);
    expect(last.stderr).toMatch(/last active admin/);
    expect(await snapshot(db)).toBe(before);

    const d = await cli(db, ['user', 'disable', 'alice']);
    expect(d.code, d.stderr).toBe(0);
    expect(await db.query("SELECT is_active FROM users WHERE username = 'alice'")).toEqual([{ is_active: 0 }]);
    expect(await db.query('SELECT jti FROM user_sessions')).toEqual([{ jti: 'jti-b' }]);

    const names = async (...args: string[]) => JSON.parse((await cli(db, ['user', 'list', ...args, '--json'])).stdout).users.map((u: { username: string }) => u.username);
    expect(await names()).toEqual(['admin']);
    expect(await names('--inactive')).toEqual(['alice']);
    const all = await cli(db, ['user', 'list', '--all', '--json']);
    expect(JSON.parse(all.stdout).users).toHaveLength(2);
    expect(all.stdout).not.toMatch(/\$2b\$/);

    expect((await cli(db, ['user', 'enable', 'alice'])).code).toBe(0);
    expect((await cli(db, ['user', 'enable', 'alice'])).stdout).toMatch(/already enabled/);
    expect((await cli(db, ['user', 'disable', 'ghost'])).code).toBe(3);

    expect((await cli(db, ['user', 'disable', 'admin', '--force'])).code).toBe(0);
    expect(await db.query('SELECT count(*) AS n FROM user_sessions')).toEqual([{ n: 0 }]);
  });

  it('lists admins, searches, and shows login method without a hash', async () => {
    const db = await freshDb();
    expect((await cli(db, ['user', 'add', 'alice', '--full-name', 'Alice Chen', '--generate-password'], { env: FAST })).code).toBe(0);
    const now = appTimestamp(new Date());
    await db.query("INSERT INTO users (username, is_admin, is_active, gpustack_user_id, created_at, updated_at) VALUES ('gs-bob', ?, ?, 42, ?, ?)", provider === 'sqlite' ? 0 : false, provider === 'sqlite' ? 1 : true, now, now);

    const admins = JSON.parse((await cli(db, ['user', 'list', '--admins', '--json'])).stdout).users;
    expect(admins.map((u: { username: string }) => u.username)).toEqual(['admin']);
    const search = JSON.parse((await cli(db, ['user', 'list', '--search', 'chen', '--json'])).stdout).users;
    expect(search.map((u: { username: string }) => u.username)).toEqual(['alice']);

    const table = await cli(db, ['user', 'list']);
    expect(table.stdout).toMatch(/gs-bob .*gpustack/);
    const show = await cli(db, ['user', 'show', 'gs-bob']);
    expect(show.code).toBe(0);
    expect(show.stdout).toMatch(/GPUStack only/);
    const showJson = JSON.parse((await cli(db, ['user', 'show', 'alice', '--json'])).stdout);
    expect(showJson.user).toMatchObject({ username: 'alice', login: 'password', sessions: { active: 0 } });
    expect(JSON.stringify(showJson)).not.toMatch(/\$2b\$/);
    expect((await cli(db, ['user', 'show', 'nobody'])).code).toBe(3);
    expect((await cli(db, ['user', 'list', '--inactive', '--all'])).code).toBe(2);
  });
});

describe('user prefs', () => {
  it("writes values in the app's encoding, warns on unknown keys, and exits 3 on a missing one", async () => {
    const db = await freshDb();
    const run = (...args: string[]) => cli(db, ['user', 'prefs', 'admin', ...args]);
    expect((await run('set', 'enable_streaming', 'yes')).code).toBe(0);
    expect((await run('set', 'default_temperature', '1')).code).toBe(0);
    expect((await run('set', 'default_max_tokens', '2048')).code).toBe(0);
    expect((await run('set', 'theme', 'dark')).code).toBe(0);
    const unknown = await run('set', 'favourite_colour', 'blue');
    expect(unknown.code).toBe(0);
    expect(unknown.stderr).toMatch(/not a preference the app knows/);
    const rows = await db.query<{ preference_key: string; preference_value: string }>(
      'SELECT preference_key, preference_value FROM user_preferences ORDER BY preference_key',
    );
    expect(Object.fromEntries(rows.map((r) => [r.preference_key, r.preference_value]))).toEqual({
      default_max_tokens: '2048',
      default_temperature: '1.0',
      enable_streaming: 'True',
      favourite_colour: 'blue',
      theme: 'dark',
    });
    expect(await unparseable(db)).toEqual([]);

    expect((await run('get', 'theme')).stdout.trim()).toBe('dark');
    // The value is data: a script's `-q` still gets it, whole.
    expect((await cli(db, ['-q', 'user', 'prefs', 'admin', 'get', 'theme'])).stdout).toBe('dark\n');
    const fraction = await run('set', 'max_file_size_mb', '1.5');
    expect(fraction.code).toBe(2);
    expect(fraction.stderr).toMatch(/hint: Give a whole number/);
    expect(JSON.parse((await run('list', '--json')).stdout).preferences).toHaveLength(5);

    const before = await snapshot(db);
    expect((await run('set', 'enable_streaming', 'maybe')).code).toBe(2);
    expect((await run('get', 'language')).code).toBe(3);
    expect((await run('unset', 'language')).code).toBe(3);
    expect((await cli(db, ['user', 'prefs', 'ghost', 'set', 'theme', 'dark'])).code).toBe(3);
    expect((await run('set', 'theme')).code).toBe(2);
    expect(await snapshot(db)).toBe(before);

    expect((await run('unset', 'theme')).code).toBe(0);
    expect(await db.query("SELECT * FROM user_preferences WHERE preference_key = 'theme'")).toHaveLength(0);
  });
});

describe('audit', () => {
  it('lists what authctl changed, newest first, without secrets', async () => {
    const db = await freshDb();
    const password = 'the second admin password';
    expect((await cli(db, ['user', 'add', 'second', '--admin', '--password-stdin'], { input: password, env: FAST })).code).toBe(0);
    expect((await cli(db, ['user', 'prefs', 'second', 'set', 'theme', 'light'])).code).toBe(0);
    const r = await cli(db, ['audit', '--json']);
    expect(r.code).toBe(0);
    const { entries, total } = JSON.parse(r.stdout);
    expect(total).toBe(3);
    expect(entries.map((e: { command: string }) => e.command)).toEqual(['user prefs set', 'user add', 'init-db']);
    expect(entries[1]).toMatchObject({ target: 'second', osUser: expect.any(String), host: expect.any(String) });
    expect(r.stdout).not.toContain(password);
    expect(r.stdout).not.toContain(ADMIN_PASSWORD);
    expect(JSON.parse((await cli(db, ['audit', '--limit', '1', '--json'])).stdout).entries).toHaveLength(1);
    expect((await cli(db, ['audit', '--limit', '0'])).code).toBe(2);
  });
});

describe('doctor', () => {
  it('warns on an expired backlog and fails with no active admin', async () => {
    const db = await freshDb();
    const past = appTimestamp(new Date(Date.now() - 3_600_000));
    await db.exec(
      provider === 'sqlite'
        ? `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10001)
           INSERT INTO user_sessions (user_id, session_token, jti, token_type, expires_at, created_at, last_accessed)
           SELECT 1, 't' || i, 'j' || i, 'access', '${past}', '${past}', '${past}' FROM n`
        : `INSERT INTO user_sessions (user_id, session_token, jti, token_type, expires_at, created_at, last_accessed)
           SELECT 1, 't' || i, 'j' || i, 'access', '${past}', '${past}', '${past}' FROM generate_series(1, 10001) i`,
    );
    const r = await cli(db, ['doctor', '--json']);
    expect(r.code).toBe(0);
    const checks = Object.fromEntries(JSON.parse(r.stdout).checks.map((c: { id: string; status: string }) => [c.id, c.status]));
    expect(checks).toMatchObject({ 'expired-sessions': 'warn', 'weak-passwords': 'ok', 'active-admin': 'ok', migrations: 'ok' });
    expect('file-mode' in checks).toBe(provider === 'sqlite');

    await db.exec(provider === 'sqlite' ? 'UPDATE users SET is_active = 0' : 'UPDATE users SET is_active = false');
    const none = await cli(db, ['doctor']);
    expect(none.code).toBe(8);
    expect(none.stdout).toMatch(/no active admin/);
  });
});
});

describe('doctor on SQLite files', () => {
  it('warns on a group-readable file', async () => {
    const cwd = tempDir();
    expect((await runCli(['init-db', '--generate-password'], { cwd, env: FAST })).code).toBe(0);
    fs.chmodSync(path.join(cwd, 'gpustack_ui.db'), 0o640);
    const r = await runCli(['doctor', '--json'], { cwd });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).checks.find((c: { id: string }) => c.id === 'file-mode')).toMatchObject({ status: 'warn' });
  });

  it('reports the journal mode, which the first purge switches to WAL', async () => {
    const cwd = tempDir();
    expect((await runCli(['init-db', '--generate-password'], { cwd, env: FAST })).code).toBe(0);
    const journal = async () =>
      JSON.parse((await runCli(['doctor', '--json'], { cwd })).stdout).checks.find((c: { id: string }) => c.id === 'journal-mode');
    expect(await journal()).toMatchObject({ status: 'ok', detail: expect.stringMatching(/^delete: the first `authctl sessions purge` switches/) });
    expect((await runCli(['sessions', 'purge'], { cwd })).code).toBe(0);
    expect(await journal()).toMatchObject({ status: 'ok', detail: expect.stringMatching(/^wal/) });
  });

  it('fails when the database cannot be opened, without creating it', async () => {
    const cwd = tempDir();
    const r = await runCli(['doctor'], { cwd });
    expect(r.code).toBe(8);
    expect(r.stdout).toMatch(/No database file/);
    expect(fs.readdirSync(cwd)).toEqual([]);
  });
});

describe('changes on a SQLite file while the app writes', () => {
  // A transaction that reads before it writes cannot wait for the app's write
  // lock once it has read, so every change must take that lock up front.
  // WAL is the mode the first purge leaves the file in. In the rollback
  // journal mode a writer this busy starves every other connection anyway.
  it('adds and disables users while the app logs in every few milliseconds (WAL journal)', async () => {
    const cwd = tempDir();
    const init = await runCli(['init-db', '--password-stdin'], { cwd, env: FAST, input: ADMIN_PASSWORD });
    expect(init.code, init.stderr).toBe(0);
    const app = appLogins(path.join(cwd, 'gpustack_ui.db'), { everyMs: 2, perTick: 3, journalMode: 'wal' });
    try {
      for (let i = 0; i < 3; i++) {
        const add = await runCli(['user', 'add', `member${i}`, '--password-stdin'], { cwd, env: FAST, input: 'a member passphrase' });
        expect(add.code, add.stderr).toBe(0);
        const disable = await runCli(['user', 'disable', `member${i}`], { cwd });
        expect(disable.code, disable.stderr).toBe(0);
      }
    } finally {
      app.stop();
    }
    expect(app.counts.logins).toBeGreaterThan(20);
    expect(app.counts.failures).toBe(0);
  });
});
