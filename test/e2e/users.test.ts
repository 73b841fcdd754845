import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { beforeAll, describe, expect, it } from 'vitest';
import { appTimestamp, createAppDatabase, independentBcrypt, independentVerify, isoTimestamp, unparseableTimestamps } from '../support/app-db.js';
import { hasStackTrace, runCli, tempDir } from '../support/cli.js';

const FAST = { AUTHCTL_BCRYPT_ROUNDS: '10' };
const ADMIN_PASSWORD = 'an admin passphrase';

/** A migrated database with an admin and nothing else. */
async function freshDb(): Promise<{ cwd: string; file: string }> {
  const cwd = tempDir();
  const r = await runCli(['init-db', '--password-stdin'], { cwd, input: ADMIN_PASSWORD, env: FAST });
  expect(r.code, r.stderr).toBe(0);
  return { cwd, file: path.join(cwd, 'gpustack_ui.db') };
}

function snapshot(file: string): string {
  const db = new Database(file, { readonly: true });
  try {
    return JSON.stringify(['users', 'user_sessions', 'user_preferences', 'authctl_audit'].map((t) => db.prepare(`SELECT * FROM ${t} ORDER BY id`).all()));
  } finally {
    db.close();
  }
}

function query<T>(file: string, sql: string, ...params: unknown[]): T[] {
  const db = new Database(file, { readonly: true });
  try {
    return db.prepare(sql).all(...params) as T[];
  } finally {
    db.close();
  }
}

describe('user add', () => {
  it('adds a user from stdin with a $2b$ cost-12 hash that an independent bcrypt accepts', async () => {
    const { cwd, file } = await freshDb();
    const password = 'alice has a long password';
    const r = await runCli(['user', 'add', 'alice', '--email', 'alice@example.com', '--full-name', 'Alice Chen', '--password-stdin', '--json'], {
      cwd,
      input: `${password}\n`,
    });
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.user).toMatchObject({ username: 'alice', email: 'alice@example.com', isAdmin: false, isActive: true, login: 'password' });
    expect(out).not.toHaveProperty('password');
    expect(r.stdout + r.stderr).not.toContain(password);
    const [row] = query<Record<string, unknown>>(file, "SELECT * FROM users WHERE username = 'alice'");
    expect(row!.password_hash).toMatch(/^\$2b\$12\$/);
    expect(independentVerify(password, row!.password_hash as string)).toBe(true);
    expect(row).toMatchObject({ is_admin: 0, is_active: 1, full_name: 'Alice Chen' });
    expect(r.stdout).not.toContain(row!.password_hash as string);
    const db = new Database(file, { readonly: true });
    expect(unparseableTimestamps(db)).toEqual([]);
    db.close();
  });

  it('generates a password shown once, and takes --password-file and --admin', async () => {
    const { cwd, file } = await freshDb();
    const g = await runCli(['user', 'add', 'bob', '--generate-password'], { cwd, env: FAST });
    expect(g.code, g.stderr).toBe(0);
    const generated = /Password for bob \(shown once\): (\S+)/.exec(g.stdout)?.[1];
    expect(generated).toHaveLength(20);
    const [bob] = query<{ password_hash: string }>(file, "SELECT password_hash FROM users WHERE username = 'bob'");
    expect(independentVerify(generated!, bob!.password_hash)).toBe(true);

    fs.writeFileSync(path.join(cwd, 'pw.txt'), 'carol is the boss now\n', { mode: 0o600 });
    const f = await runCli(['user', 'add', 'carol', '--admin', '--password-file', 'pw.txt'], { cwd, env: FAST });
    expect(f.code, f.stderr).toBe(0);
    const [carol] = query<{ password_hash: string; is_admin: number }>(file, "SELECT password_hash, is_admin FROM users WHERE username = 'carol'");
    expect(carol!.is_admin).toBe(1);
    expect(independentVerify('carol is the boss now', carol!.password_hash)).toBe(true);

    const audit = query<Record<string, unknown>>(file, 'SELECT * FROM authctl_audit');
    expect(JSON.stringify(audit)).not.toContain(generated!);
    expect(JSON.stringify(audit)).not.toContain('carol is the boss now');
    expect(JSON.stringify(audit)).not.toContain(carol!.password_hash);
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
    const { cwd, file } = await freshDb();
    const before = snapshot(file);
    const input = args.includes('davedavedave') ? 'davedavedave' : 'password';
    const r = await runCli(args, { cwd, input, env: FAST });
    expect(r.code, r.stderr).toBe(code);
    expect(r.stderr).toMatch(message);
    expect(hasStackTrace(r.stderr)).toBe(false);
    expect(snapshot(file)).toBe(before);
  });

  it('refuses a taken email with exit 4', async () => {
    const { cwd, file } = await freshDb();
    expect((await runCli(['user', 'add', 'erin', '--email', 'e@example.com', '--generate-password'], { cwd, env: FAST })).code).toBe(0);
    const before = snapshot(file);
    const r = await runCli(['user', 'add', 'frank', '--email', 'e@example.com', '--generate-password', '--json'], { cwd, env: FAST });
    expect(r.code).toBe(4);
    expect(JSON.parse(r.stderr).error.code).toBe('EMAIL_TAKEN');
    expect(snapshot(file)).toBe(before);
  });

  it('accepts a weak password with --allow-weak-password and records that in the audit log', async () => {
    const { cwd, file } = await freshDb();
    const r = await runCli(['user', 'add', 'gus', '--password-stdin', '--allow-weak-password'], { cwd, input: 'gus', env: FAST });
    expect(r.code, r.stderr).toBe(0);
    const [entry] = query<{ details: string }>(file, "SELECT details FROM authctl_audit WHERE command = 'user add'");
    expect(JSON.parse(entry!.details)).toMatchObject({ weakPasswordAllowed: true });
  });
});

describe('the admin/admin story on an app-made database', () => {
  let cwd: string;
  let file: string;
  let tokens: string[];

  beforeAll(async () => {
    cwd = tempDir();
    file = path.join(cwd, 'gpustack_ui.db');
    const now = Date.now();
    const db = createAppDatabase(file, {
      users: [
        { username: 'admin', passwordHash: independentBcrypt('admin', 12), isAdmin: true },
        { username: 'alice', passwordHash: independentBcrypt('a strong passphrase', 10) },
      ],
      sessions: [
        { userId: 1, expiresAt: appTimestamp(new Date(now + 10 * 60_000)) },
        { userId: 1, expiresAt: isoTimestamp(new Date(now + 3 * 60_000)), tokenType: 'refresh' },
        { userId: 2, expiresAt: appTimestamp(new Date(now + 20 * 60_000)) },
        { userId: 2, expiresAt: appTimestamp(new Date(now - 20 * 60_000)) },
      ],
    });
    tokens = db.prepare('SELECT session_token FROM user_sessions').pluck().all() as string[];
    db.close();
    fs.chmodSync(file, 0o600);
  });

  it('doctor fails (exit 8) on the default admin password, even before adoption', async () => {
    const r = await runCli(['doctor', '--json'], { cwd });
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
    const r = await runCli(['user', 'list'], { cwd });
    expect(r.code).toBe(5);
    expect(r.stderr).toMatch(/authctl migrate/);
  });

  it('user reset replaces admin/admin and revokes only admin\'s sessions; doctor then passes', async () => {
    expect((await runCli(['migrate'], { cwd })).code).toBe(0);
    const newPassword = 'a much better admin passphrase';
    const r = await runCli(['user', 'reset', 'admin', '--password-stdin'], { cwd, input: `${newPassword}\n` });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/Revoked 2 session/);
    const [admin] = query<{ password_hash: string; updated_at: string }>(file, "SELECT password_hash, updated_at FROM users WHERE username = 'admin'");
    expect(independentVerify(newPassword, admin!.password_hash)).toBe(true);
    expect(independentVerify('admin', admin!.password_hash)).toBe(false);
    expect(query(file, 'SELECT * FROM user_sessions WHERE user_id = 1')).toHaveLength(0);
    expect(query(file, 'SELECT * FROM user_sessions WHERE user_id = 2')).toHaveLength(2);
    const db = new Database(file, { readonly: true });
    expect(unparseableTimestamps(db)).toEqual([]);
    db.close();

    const d = await runCli(['doctor'], { cwd });
    expect(d.code, d.stdout + d.stderr).toBe(0);
    for (const token of tokens) expect(d.stdout + d.stderr).not.toContain(token);
  });

  it('keeps sessions with --keep-sessions and refuses an unknown user with exit 3', async () => {
    const keep = await runCli(['user', 'reset', 'alice', '--generate-password', '--keep-sessions', '--json'], { cwd, env: FAST });
    expect(keep.code, keep.stderr).toBe(0);
    expect(JSON.parse(keep.stdout)).toMatchObject({ revokedSessions: 0 });
    expect(JSON.parse(keep.stdout).password).toHaveLength(20);
    expect(query(file, 'SELECT * FROM user_sessions WHERE user_id = 2')).toHaveLength(2);
    const before = snapshot(file);
    const r = await runCli(['user', 'reset', 'nobody', '--generate-password'], { cwd });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/No user named "nobody"/);
    expect(snapshot(file)).toBe(before);
  });
});

describe('disable, enable, list, show', () => {
  it('disables with session revocation, refuses the last admin, and enables again', async () => {
    const { cwd, file } = await freshDb();
    expect((await runCli(['user', 'add', 'alice', '--generate-password'], { cwd, env: FAST })).code).toBe(0);
    const db = new Database(file);
    const later = appTimestamp(new Date(Date.now() + 600_000));
    db.prepare("INSERT INTO user_sessions (user_id, session_token, jti, token_type, expires_at, created_at, last_accessed) VALUES (2, 'tok-a', 'jti-a', 'access', ?, ?, ?), (1, 'tok-b', 'jti-b', 'access', ?, ?, ?)").run(later, later, later, later, later, later);
    db.close();

    const before = snapshot(file);
    const last = await runCli(['user', 'disable', 'admin'], { cwd });
    expect(last.code).toBe(7);
    expect(last.stderr).toMatch(/last active admin/);
    expect(snapshot(file)).toBe(before);

    const d = await runCli(['user', 'disable', 'alice'], { cwd });
    expect(d.code, d.stderr).toBe(0);
    expect(query(file, "SELECT is_active FROM users WHERE username = 'alice'")).toEqual([{ is_active: 0 }]);
    expect(query(file, 'SELECT jti FROM user_sessions')).toEqual([{ jti: 'jti-b' }]);

    const active = JSON.parse((await runCli(['user', 'list', '--json'], { cwd })).stdout).users.map((u: { username: string }) => u.username);
    expect(active).toEqual(['admin']);
    const inactive = JSON.parse((await runCli(['user', 'list', '--inactive', '--json'], { cwd })).stdout).users.map((u: { username: string }) => u.username);
    expect(inactive).toEqual(['alice']);
    const all = await runCli(['user', 'list', '--all', '--json'], { cwd });
    expect(JSON.parse(all.stdout).users).toHaveLength(2);
    expect(all.stdout).not.toMatch(/\$2b\$/);

    const e = await runCli(['user', 'enable', 'alice'], { cwd });
    expect(e.code).toBe(0);
    const again = await runCli(['user', 'enable', 'alice'], { cwd });
    expect(again.stdout).toMatch(/already enabled/);
    expect((await runCli(['user', 'disable', 'ghost'], { cwd })).code).toBe(3);

    const forced = await runCli(['user', 'disable', 'admin', '--force'], { cwd });
    expect(forced.code).toBe(0);
    expect(query(file, 'SELECT count(*) AS n FROM user_sessions')).toEqual([{ n: 0 }]);
  });

  it('lists admins, searches, and shows login method without a hash', async () => {
    const { cwd, file } = await freshDb();
    expect((await runCli(['user', 'add', 'alice', '--full-name', 'Alice Chen', '--generate-password'], { cwd, env: FAST })).code).toBe(0);
    const now = appTimestamp(new Date());
    const db = new Database(file);
    db.prepare("INSERT INTO users (username, is_admin, is_active, gpustack_user_id, created_at, updated_at) VALUES ('gs-bob', 0, 1, 42, ?, ?)").run(now, now);
    db.close();

    const admins = JSON.parse((await runCli(['user', 'list', '--admins', '--json'], { cwd })).stdout).users;
    expect(admins.map((u: { username: string }) => u.username)).toEqual(['admin']);
    const search = JSON.parse((await runCli(['user', 'list', '--search', 'chen', '--json'], { cwd })).stdout).users;
    expect(search.map((u: { username: string }) => u.username)).toEqual(['alice']);

    const table = await runCli(['user', 'list'], { cwd });
    expect(table.stdout).toMatch(/gs-bob .*gpustack/);
    const show = await runCli(['user', 'show', 'gs-bob'], { cwd });
    expect(show.code).toBe(0);
    expect(show.stdout).toMatch(/GPUStack only/);
    const showJson = JSON.parse((await runCli(['user', 'show', 'alice', '--json'], { cwd })).stdout);
    expect(showJson.user).toMatchObject({ username: 'alice', login: 'password', sessions: { active: 0 } });
    expect(JSON.stringify(showJson)).not.toMatch(/\$2b\$/);
    expect((await runCli(['user', 'show', 'nobody'], { cwd })).code).toBe(3);
    const bad = await runCli(['user', 'list', '--inactive', '--all'], { cwd });
    expect(bad.code).toBe(2);
  });
});

describe('user prefs', () => {
  it("writes values in the app's encoding, warns on unknown keys, and exits 3 on a missing one", async () => {
    const { cwd, file } = await freshDb();
    const run = (...args: string[]) => runCli(['user', 'prefs', 'admin', ...args], { cwd });
    expect((await run('set', 'enable_streaming', 'yes')).code).toBe(0);
    expect((await run('set', 'default_temperature', '1')).code).toBe(0);
    expect((await run('set', 'default_max_tokens', '2048')).code).toBe(0);
    expect((await run('set', 'theme', 'dark')).code).toBe(0);
    const unknown = await run('set', 'favourite_colour', 'blue');
    expect(unknown.code).toBe(0);
    expect(unknown.stderr).toMatch(/not a preference the app knows/);
    const rows = query<{ preference_key: string; preference_value: string; created_at: string }>(
      file,
      'SELECT preference_key, preference_value, created_at FROM user_preferences ORDER BY preference_key',
    );
    expect(Object.fromEntries(rows.map((r) => [r.preference_key, r.preference_value]))).toEqual({
      default_max_tokens: '2048',
      default_temperature: '1.0',
      enable_streaming: 'True',
      favourite_colour: 'blue',
      theme: 'dark',
    });
    const db = new Database(file, { readonly: true });
    expect(unparseableTimestamps(db)).toEqual([]);
    db.close();

    const get = await run('get', 'theme');
    expect(get.stdout.trim()).toBe('dark');
    const list = JSON.parse((await run('list', '--json')).stdout);
    expect(list.preferences).toHaveLength(5);

    const before = snapshot(file);
    const bad = await run('set', 'enable_streaming', 'maybe');
    expect(bad.code).toBe(2);
    const missing = await run('get', 'language');
    expect(missing.code).toBe(3);
    const missingUnset = await run('unset', 'language');
    expect(missingUnset.code).toBe(3);
    const noUser = await runCli(['user', 'prefs', 'ghost', 'set', 'theme', 'dark'], { cwd });
    expect(noUser.code).toBe(3);
    const wrongArity = await run('set', 'theme');
    expect(wrongArity.code).toBe(2);
    expect(snapshot(file)).toBe(before);

    expect((await run('unset', 'theme')).code).toBe(0);
    expect(query(file, "SELECT * FROM user_preferences WHERE preference_key = 'theme'")).toHaveLength(0);
  });
});

describe('audit', () => {
  it('lists what authctl changed, newest first, without secrets', async () => {
    const { cwd } = await freshDb();
    const password = 'the second admin password';
    expect((await runCli(['user', 'add', 'second', '--admin', '--password-stdin'], { cwd, input: password, env: FAST })).code).toBe(0);
    expect((await runCli(['user', 'prefs', 'second', 'set', 'theme', 'light'], { cwd })).code).toBe(0);
    const r = await runCli(['audit', '--json'], { cwd });
    expect(r.code).toBe(0);
    const { entries, total } = JSON.parse(r.stdout);
    expect(total).toBe(3);
    expect(entries.map((e: { command: string }) => e.command)).toEqual(['user prefs set', 'user add', 'init-db']);
    expect(entries[1]).toMatchObject({ target: 'second', osUser: expect.any(String), host: expect.any(String) });
    expect(r.stdout).not.toContain(password);
    expect(r.stdout).not.toContain(ADMIN_PASSWORD);
    const limited = JSON.parse((await runCli(['audit', '--limit', '1', '--json'], { cwd })).stdout);
    expect(limited.entries).toHaveLength(1);
    expect((await runCli(['audit', '--limit', '0'], { cwd })).code).toBe(2);
  });
});

describe('doctor', () => {
  it('warns on a group-readable file and an expired backlog, and fails with no active admin', async () => {
    const { cwd, file } = await freshDb();
    fs.chmodSync(file, 0o640);
    const db = new Database(file);
    const past = appTimestamp(new Date(Date.now() - 3_600_000));
    const ins = db.prepare("INSERT INTO user_sessions (user_id, session_token, jti, token_type, expires_at, created_at, last_accessed) VALUES (1, ?, ?, 'access', ?, ?, ?)");
    db.transaction(() => {
      for (let i = 0; i < 10_001; i++) ins.run(`t${i}`, `j${i}`, past, past, past);
    })();
    db.close();
    const r = await runCli(['doctor', '--json'], { cwd });
    expect(r.code).toBe(0);
    const checks = Object.fromEntries(JSON.parse(r.stdout).checks.map((c: { id: string; status: string }) => [c.id, c.status]));
    expect(checks).toMatchObject({ 'file-mode': 'warn', 'expired-sessions': 'warn', 'weak-passwords': 'ok', 'active-admin': 'ok' });

    new Database(file).exec('UPDATE users SET is_active = 0');
    const none = await runCli(['doctor'], { cwd });
    expect(none.code).toBe(8);
    expect(none.stdout).toMatch(/no active admin/);
  });

  it('fails when the database cannot be opened', async () => {
    const r = await runCli(['doctor'], { cwd: tempDir() });
    expect(r.code).toBe(8);
    expect(r.stdout).toMatch(/No database file/);
  });
});
