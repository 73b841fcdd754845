import fs from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { hasStackTrace, type CliResult } from '../support/cli.js';
import { appTimestamp, cli, describeProviders, independentBcrypt, insertSession, isoTimestamp, type TestDb } from '../support/db.js';

const FAST = { AUTHCTL_BCRYPT_ROUNDS: '10' };
const ADMIN_PASSWORD = 'an admin passphrase';
const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

async function snapshot(db: TestDb): Promise<string> {
  const tables = [];
  for (const t of ['users', 'user_sessions', 'authctl_audit']) tables.push(await db.query(`SELECT * FROM ${t} ORDER BY id`));
  return JSON.stringify(tables);
}

function json<T>(r: CliResult): T {
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as T;
}

interface AuditJson {
  entries: Array<{ summary: string; command: string; target: string | null }>;
  total: number;
}
interface SessionsJson {
  sessions: Array<{ jti: string }>;
  total: number;
  more: boolean;
}
interface UsersJson {
  users: Array<{ username: string }>;
  total: number;
  more: boolean;
}

describeProviders('filters', ({ provider, newDb, cloneDb }) => {
  const now = Date.now();
  const ago = (ms: number) => new Date(now - ms);

  /**
   * An adopted database with five active users, audit entries spread over
   * ten days (written as authctl writes them) and sessions from a few
   * addresses and times; on SQLite, some timestamps in the ISO form too.
   */
  async function build(): Promise<TestDb> {
    const db = await newDb();
    const r = await cli(db, ['init-db', '--password-stdin'], { input: ADMIN_PASSWORD, env: FAST });
    expect(r.code, r.stderr).toBe(0);
    const ts = appTimestamp(new Date(now));
    const yes = provider === 'sqlite' ? 1 : true;
    const no = provider === 'sqlite' ? 0 : false;
    for (const name of ['alice', 'bob', 'carol', 'dave']) {
      await db.query(
        'INSERT INTO users (username, email, password_hash, full_name, is_admin, is_active, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
        name, `${name}@example.com`, null, name, no, yes, ts, ts,
      );
    }
    const audit: Array<[number, string, string | null, string, boolean?]> = [
      [10 * DAY, 'user add', 'alice', 'a: added alice'],
      [3 * DAY, 'user reset', 'alice', 'b: reset alice'],
      [2 * HOUR, 'sessions revoke', 'user alice (access only)', 'c: revoked alice access', true],
      [HOUR, 'sessions revoke', 'user alicia', 'd: revoked alicia'],
      [30 * MIN, 'user disable', 'bob', 'e: disabled bob'],
      [5 * MIN, 'sessions purge', 'sessions expired before x', 'f: purged'],
    ];
    for (const [age, command, target, summary, iso] of audit) {
      const at = iso && provider === 'sqlite' ? isoTimestamp(ago(age)) : appTimestamp(ago(age));
      await db.query('INSERT INTO authctl_audit (at, os_user, host, command, target, summary) VALUES (?, ?, ?, ?, ?, ?)', at, 'ops', 'host1', command, target, summary);
    }
    const users = await db.query<{ id: number; username: string }>('SELECT id, username FROM users');
    const id = (name: string) => Number(users.find((u) => u.username === name)!.id);
    const expires = appTimestamp(new Date(now + DAY));
    const sessions: Array<[string, string, number, string, boolean?]> = [
      ['alice-2d', 'alice', 2 * DAY, '10.0.0.1'],
      ['alice-1h', 'alice', HOUR, '10.0.0.2'],
      ['alice-10m', 'alice', 10 * MIN, '10.0.0.1', true],
      ['bob-30h', 'bob', 30 * HOUR, '10.0.0.10'],
      ['bob-5m', 'bob', 5 * MIN, '2001:db8::1'],
    ];
    for (const [jti, user, age, ip, iso] of sessions) {
      const createdAt = iso && provider === 'sqlite' ? isoTimestamp(ago(age)) : appTimestamp(ago(age));
      const token = `token-${jti}`;
      await insertSession(db, { userId: id(user), jti, ipAddress: ip, createdAt, expiresAt: expires, token });
    }
    return db;
  }

  let template: Promise<TestDb> | undefined;
  const fixture = async () => cloneDb(await (template ??= build()));

  /** The entries' letters, sorted: on SQLite one entry is in the ISO form, which sorts apart from the app's form as text. */
  const summaries = (doc: AuditJson) => doc.entries.map((e) => e.summary[0]).sort().join('');
  const jtis = (doc: SessionsJson) => doc.sessions.map((s) => s.jti).sort();

  it('audit --since, --until, --user and --command narrow the log in both timestamp forms, newest first, with the matching total', async () => {
    const db = await fixture();
    const audit = async (...args: string[]) => json<AuditJson>(await cli(db, ['audit', '--json', ...args]));
    const day = (d: Date) => d.toISOString().slice(0, 10);

    // init-db's own entry ("created the database ...") is among the last day's.
    const recent = await audit('--since', '24h');
    expect(recent.entries.map((e) => e.command)).toContain('init-db');
    expect(summaries(recent)).toBe('cdefi');
    expect(recent.total).toBe(5);
    expect(summaries(await audit('--since', '4d', '--until', '1d'))).toBe('b');
    expect(summaries(await audit('--until', ago(2 * DAY).toISOString()))).toBe('ab');
    expect(summaries(await audit('--until', day(ago(9 * DAY)), '--since', '30d'))).toBe('a');
    expect(summaries(await audit('--since', ago(90 * MIN).toISOString().replace('Z', '+00:00'), '--until', '20m'))).toBe('de');
    expect(summaries(await audit('--since', '150m', '--until', '90m'))).toBe('c');

    expect(summaries(await audit('--user', 'alice'))).toBe('abc');
    expect(summaries(await audit('--user', 'bob'))).toBe('e');
    // Newest first.
    expect((await audit('--command', 'user')).entries.map((e) => e.summary[0]).join('')).toBe('eba');
    expect(summaries(await audit('--command', 'sessions revoke'))).toBe('cd');
    expect(summaries(await audit('--command', 'user', '--user', 'alice', '--since', '7d'))).toBe('b');

    const cut = await audit('--command', 'user', '--limit', '1');
    expect(summaries(cut)).toBe('e');
    expect(cut.total).toBe(3);
    const human = await cli(db, ['audit', '--command', 'user', '--limit', '1']);
    expect(human.stdout).toMatch(/Showing 1 of 3/);
    const none = await cli(db, ['audit', '--user', 'nobody']);
    expect(none.code).toBe(0);
    expect(none.stdout).toMatch(/No audit entries match/);
  });

  it.each([
    ['a word for --since', ['audit', '--since', 'yesterday'], /--since: \\?"yesterday\\?" is neither a duration nor a date/],
    ['an impossible date', ['audit', '--until', '2026-02-30'], /--until/],
    ['a negative duration', ['audit', '--since', '-7d'], /--since/],
    ['--since after --until', ['audit', '--since', '1h', '--until', '2h'], /is not before --until/],
    ['an empty --command', ['audit', '--command', ''], /--command needs a name/],
    ['an empty --user', ['audit', '--user', ' '], /--user needs a name/],
    ['a bad --since for sessions list', ['sessions', 'list', '--since', '5x'], /--since/],
    ['an empty --ip', ['sessions', 'list', '--ip', ''], /--ip needs an address/],
    ['--limit 0 for user list', ['user', 'list', '--limit', '0'], /--limit must be a whole number/],
    ['a word for user list --limit', ['user', 'list', '--limit', 'ten'], /--limit must be a whole number/],
  ])('refuses %s with exit 2, a message and no change', async (_name, args, message) => {
    const db = await fixture();
    const before = await snapshot(db);
    for (const json of [false, true]) {
      const r = await cli(db, json ? [...args, '--json'] : args);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(hasStackTrace(r.stderr)).toBe(false);
      if (json) expect(JSON.parse(r.stderr).error.exitCode).toBe(2);
    }
    expect(await snapshot(db)).toBe(before);
  });

  it('sessions list --since (by created_at, in both timestamp forms) and --ip (exact address)', async () => {
    const db = await fixture();
    const list = async (...args: string[]) => json<SessionsJson>(await cli(db, ['sessions', 'list', '--json', ...args]));
    expect(jtis(await list())).toEqual(['alice-10m', 'alice-1h', 'alice-2d', 'bob-30h', 'bob-5m']);
    expect(jtis(await list('--since', '24h'))).toEqual(['alice-10m', 'alice-1h', 'bob-5m']);
    expect(jtis(await list('--since', ago(2 * HOUR).toISOString()))).toEqual(['alice-10m', 'alice-1h', 'bob-5m']);
    expect(jtis(await list('--since', '3d', '--user', 'bob'))).toEqual(['bob-30h', 'bob-5m']);
    expect(jtis(await list('--ip', '10.0.0.1'))).toEqual(['alice-10m', 'alice-2d']);
    expect(jtis(await list('--ip', '2001:db8::1'))).toEqual(['bob-5m']);
    expect(jtis(await list('--ip', '10.0.0'))).toEqual([]);
    const both = await list('--ip', '10.0.0.1', '--since', '1d');
    expect(jtis(both)).toEqual(['alice-10m']);
    expect(both.total).toBe(1);
    const cut = await list('--since', '24h', '--limit', '1');
    expect(cut).toMatchObject({ total: 3, more: true });
    expect(jtis(cut)).toEqual(['bob-5m']);
    const human = await cli(db, ['sessions', 'list', '--since', '24h', '--limit', '1']);
    expect(human.stdout).toMatch(/Showing 1 of 3/);
  });

  it('user list --limit cuts the list in username order and reports the total; without it every user is listed', async () => {
    const db = await fixture();
    const list = async (...args: string[]) => json<UsersJson>(await cli(db, ['user', 'list', '--json', ...args]));
    const all = await list();
    expect(all.users.map((u) => u.username)).toEqual(['admin', 'alice', 'bob', 'carol', 'dave']);
    expect(all).toMatchObject({ total: 5, more: false });
    const two = await list('--limit', '2');
    expect(two.users.map((u) => u.username)).toEqual(['admin', 'alice']);
    expect(two).toMatchObject({ total: 5, more: true });
    expect(await list('--limit', '5')).toMatchObject({ total: 5, more: false });
    const search = await list('--search', 'd', '--limit', '1');
    expect(search.users.map((u) => u.username)).toEqual(['admin']);
    expect(search).toMatchObject({ total: 2, more: true });
    expect(await list('--admins', '--limit', '1')).toMatchObject({ total: 1, more: false });
    const human = await cli(db, ['user', 'list', '--limit', '2']);
    expect(human.stdout).toMatch(/Showing 2 of 5; omit --limit to see them all\./);
    expect(human.stdout).not.toMatch(/carol/);
  });

  it('doctor: every failed or warning row names what to run, and -q prints only those rows', async () => {
    const db = await fixture();
    // A weak password (the username) and, on SQLite, a world-readable file.
    await db.query("UPDATE users SET password_hash = ? WHERE username = 'carol'", independentBcrypt('carol', 4));
    if (provider === 'sqlite') fs.chmodSync(path.join(db.cwd, 'gpustack_ui.db'), 0o644);

    const report = await cli(db, ['doctor', '--json']);
    expect(report.code, report.stderr).toBe(8);
    const checks = JSON.parse(report.stdout).checks as Array<{ id: string; status: string; hint?: string }>;
    const problems = checks.filter((c) => c.status === 'fail' || c.status === 'warn');
    expect(problems.map((c) => c.id).sort()).toEqual(provider === 'sqlite' ? ['file-mode', 'weak-passwords'] : ['weak-passwords']);
    for (const c of problems) expect(c.hint, c.id).toMatch(/Run `(authctl |chmod 600 )/);
    expect(checks.find((c) => c.id === 'weak-passwords')!.hint).toContain('`authctl user reset carol`');

    const quiet = await cli(db, ['doctor', '-q']);
    expect(quiet.code).toBe(8);
    const lines = quiet.stdout.trim().split('\n');
    expect(lines).toHaveLength(problems.length);
    expect(lines[0]).toMatch(/^fail no default or trivial passwords: carol \(password is the username\)\. Run `authctl user reset carol`/);
    if (provider === 'sqlite') expect(lines[1]).toMatch(/^warn database file is private: mode 0644: .*Run `chmod 600 .*gpustack_ui\.db`\./);
    expect(quiet.stderr).toMatch(/1 check\(s\) failed/);
    expect(quiet.stderr).not.toMatch(/database:/);

    // Fixed: -q prints nothing at all, as cron wants.
    await db.query("UPDATE users SET is_active = ? WHERE username = 'carol'", provider === 'sqlite' ? 0 : false);
    if (provider === 'sqlite') fs.chmodSync(path.join(db.cwd, 'gpustack_ui.db'), 0o600);
    const clean = await cli(db, ['doctor', '-q']);
    expect(clean.code, clean.stdout).toBe(0);
    expect(clean.stdout).toBe('');
  });
});
