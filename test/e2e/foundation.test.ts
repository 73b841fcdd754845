import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { appTimestamp, fillAppDatabase, independentBcrypt, independentVerify, isoTimestamp, sqliteDbAt, unparseable } from '../support/db.js';
import { hasStackTrace, runCli, tempDir } from '../support/cli.js';

const PASSWORD = 'correct horse battery staple';
const FAST = { AUTHCTL_BCRYPT_ROUNDS: '10' };

function dump(file: string): Record<string, unknown[]> {
  const db = new Database(file, { readonly: true });
  try {
    const out: Record<string, unknown[]> = {};
    for (const t of ['users', 'user_sessions', 'user_preferences']) out[t] = db.prepare(`SELECT * FROM ${t} ORDER BY id`).all();
    return out;
  } finally {
    db.close();
  }
}

function tables(file: string): string[] {
  const db = new Database(file, { readonly: true });
  try {
    return db.prepare("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name").pluck().all() as string[];
  } finally {
    db.close();
  }
}

describe('global behaviour', () => {
  it('prints the version and help without touching a database', async () => {
    const cwd = tempDir();
    const v = await runCli(['--version'], { cwd });
    expect(v.code).toBe(0);
    expect(v.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
    const h = await runCli(['--help'], { cwd });
    expect(h.code).toBe(0);
    expect(h.stdout).toContain('init-db');
    expect(fs.readdirSync(cwd)).toEqual([]);
  });

  it('exits 2 on an unknown command or option, with JSON errors under --json', async () => {
    const cwd = tempDir();
    const a = await runCli(['frobnicate'], { cwd });
    expect(a.code).toBe(2);
    expect(a.stderr).toMatch(/unknown command/i);
    const b = await runCli(['migrate', 'status', '--bogus', '--json'], { cwd });
    expect(b.code).toBe(2);
    expect(JSON.parse(b.stderr)).toMatchObject({ error: { code: 'USAGE', exitCode: 2 } });
    expect(b.stdout).toBe('');
  });

  it('refuses an unsupported database URL with exit 2', async () => {
    const r = await runCli(['migrate', 'status', '-d', 'mysql://x/y'], { cwd: tempDir() });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/Unsupported database URL scheme "mysql"/);
  });
});

describe('init-db', () => {
  it('creates a 0600 database, applies the migrations and a first admin the app can use', async () => {
    const cwd = tempDir();
    const r = await runCli(['init-db', '--password-stdin'], { cwd, input: `${PASSWORD}\n` });
    expect(r.code, r.stderr).toBe(0);
    const file = path.join(cwd, 'gpustack_ui.db');
    expect(r.stderr.split('\n')[0]).toBe(`database: sqlite ${file}`);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    const db = new Database(file, { readonly: true });
    const admin = db.prepare('SELECT * FROM users').get() as Record<string, unknown>;
    expect(admin).toMatchObject({ username: 'admin', is_admin: 1, is_active: 1, gpustack_user_id: null });
    expect(admin.password_hash).toMatch(/^\$2b\$12\$/);
    expect(independentVerify(PASSWORD, admin.password_hash as string)).toBe(true);
    expect(await unparseable(sqliteDbAt(file))).toEqual([]);
    const audit = db.prepare('SELECT * FROM authctl_audit').all() as Array<Record<string, unknown>>;
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ command: 'init-db', target: 'admin' });
    expect(JSON.stringify(audit)).not.toContain(PASSWORD);
    expect(JSON.stringify(audit)).not.toContain(admin.password_hash as string);
    db.close();
    const s = await runCli(['migrate', 'status', '--json'], { cwd });
    expect(s.code).toBe(0);
    expect(JSON.parse(s.stdout)).toMatchObject({ upToDate: true, pending: [], drift: [] });
  });

  it('shows a generated password exactly once, in the JSON password field', async () => {
    const cwd = tempDir();
    const r = await runCli(['init-db', '--generate-password', '--admin-username', 'root-admin', '--json'], { cwd, env: FAST });
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.password).toMatch(/^[A-Za-z0-9]{20}$/);
    expect(r.stderr).not.toContain(out.password);
    const db = new Database(path.join(cwd, 'gpustack_ui.db'), { readonly: true });
    const hash = db.prepare("SELECT password_hash FROM users WHERE username = 'root-admin'").pluck().get() as string;
    expect(independentVerify(out.password, hash)).toBe(true);
    expect(JSON.stringify(db.prepare('SELECT * FROM authctl_audit').all())).not.toContain(out.password);
  });

  it('reads --password-file', async () => {
    const cwd = tempDir();
    fs.writeFileSync(path.join(cwd, 'pw'), `${PASSWORD}\n`, { mode: 0o600 });
    const r = await runCli(['init-db', '--password-file', 'pw'], { cwd, env: FAST });
    expect(r.code, r.stderr).toBe(0);
    const hash = new Database(path.join(cwd, 'gpustack_ui.db')).prepare('SELECT password_hash FROM users').pluck().get() as string;
    expect(independentVerify(PASSWORD, hash)).toBe(true);
  });

  it('exits 2 without a TTY and without a password source, creating nothing', async () => {
    const cwd = tempDir();
    const r = await runCli(['init-db'], { cwd });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/No password source/);
    expect(r.stderr).toMatch(/--password-stdin/);
    expect(fs.existsSync(path.join(cwd, 'gpustack_ui.db'))).toBe(false);
  });

  it('exits 7 on a weak password, creating nothing', async () => {
    const cwd = tempDir();
    const r = await runCli(['init-db', '--password-stdin'], { cwd, input: 'admin\n' });
    expect(r.code).toBe(7);
    expect(r.stderr).toMatch(/refused/);
    expect(r.stderr).not.toContain('admin\n');
    expect(fs.existsSync(path.join(cwd, 'gpustack_ui.db'))).toBe(false);
    const long = await runCli(['init-db', '--password-stdin', '--allow-weak-password'], { cwd, input: 'x'.repeat(73) });
    expect(long.code).toBe(7);
    expect(long.stderr).toMatch(/72 bytes/);
  });

  it('exits 5 when the folder does not exist', async () => {
    const cwd = tempDir();
    const r = await runCli(['init-db', '--password-stdin', '-d', 'sqlite:///./missing/dir/ui.db'], { cwd, input: PASSWORD });
    expect(r.code).toBe(5);
    expect(r.stderr).toMatch(/does not exist/);
    expect(hasStackTrace(r.stderr)).toBe(false);
  });

  it('changes nothing when an admin already exists', async () => {
    const cwd = tempDir();
    expect((await runCli(['init-db', '--password-stdin'], { cwd, input: PASSWORD, env: FAST })).code).toBe(0);
    const file = path.join(cwd, 'gpustack_ui.db');
    const before = fs.readFileSync(file);
    const r = await runCli(['init-db', '--password-stdin'], { cwd, input: 'another password here' });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Already initialised/);
    expect(fs.readFileSync(file).equals(before)).toBe(true);
  });

  it('honours the SQLAlchemy URL forms, .env, and flag over environment', async () => {
    const cwd = tempDir();
    fs.writeFileSync(path.join(cwd, '.env'), 'DATABASE_URL=sqlite+aiosqlite:///./dotenv.db\n');
    expect((await runCli(['init-db', '--generate-password'], { cwd, env: FAST })).code).toBe(0);
    expect(fs.existsSync(path.join(cwd, 'dotenv.db'))).toBe(true);
    const abs = path.join(cwd, 'abs.db');
    expect((await runCli(['init-db', '--generate-password'], { cwd, env: { ...FAST, DATABASE_URL: `sqlite:///${abs}` } })).code).toBe(0);
    expect(fs.existsSync(abs)).toBe(true);
    const r = await runCli(['migrate', 'status', '-d', 'file:./flag.db'], { cwd, env: { DATABASE_URL: `sqlite:///${abs}` } });
    expect(r.code).toBe(5);
    expect(r.stderr).toContain(path.join(cwd, 'flag.db'));
  });
});

describe('adopting an app-made SQLite file', () => {
  async function appFixture(cwd: string) {
    const file = path.join(cwd, 'gpustack_ui.db');
    const now = Date.now();
    await fillAppDatabase(sqliteDbAt(file), {
      users: [
        { username: 'admin', passwordHash: independentBcrypt('admin', 12), isAdmin: true, fullName: 'Default Admin' },
        { username: 'alice', email: 'alice@example.com', passwordHash: independentBcrypt('alice-password', 10), fullName: 'Alice' },
        { username: 'gs-bob', gpustackUserId: 7, fullName: 'Bob' },
      ],
      sessions: [
        { userId: 1, expiresAt: appTimestamp(new Date(now - 5 * 60_000)) },
        { userId: 1, expiresAt: isoTimestamp(new Date(now + 5 * 60_000)), tokenType: 'refresh' },
        { userId: 2, expiresAt: appTimestamp(new Date(now + 30 * 60_000)) },
      ],
      prefs: [{ userId: 2, key: 'theme', value: 'dark' }],
    });
    return file;
  }

  it('backs the file up next to itself before adopting, and the backup holds every row', async () => {
    const cwd = tempDir();
    const file = await appFixture(cwd);
    const before = dump(file);
    // The fixture holds one ISO row on purpose (written by some older tool); it must survive as is.
    const isoRowsBefore = await unparseable(sqliteDbAt(file));
    expect(isoRowsBefore).toHaveLength(1);

    const status = await runCli(['migrate', 'status'], { cwd });
    expect(status.code).toBe(8);
    expect(status.stdout).toMatch(/created by the app/);

    const dry = await runCli(['migrate', '--dry-run', '--json'], { cwd });
    expect(dry.code).toBe(0);
    expect(JSON.parse(dry.stdout)).toMatchObject({ dryRun: true, adopt: true, apply: ['20261126000100_authctl_audit', '20261130000000_authctl_checked_hashes'] });
    expect(tables(file)).not.toContain('_prisma_migrations');

    const r = await runCli(['migrate'], { cwd });
    expect(r.code, r.stderr).toBe(0);
    const backup = /Backed up the database to (.+)/.exec(r.stderr)?.[1];
    expect(backup && fs.existsSync(backup)).toBe(true);
    expect(dump(backup!)).toEqual(before);
    expect(dump(file)).toEqual(before);
    const db = new Database(file, { readonly: true });
    expect(await unparseable(sqliteDbAt(file))).toEqual(isoRowsBefore);
    const applied = db.prepare('SELECT migration_name FROM _prisma_migrations ORDER BY migration_name').pluck().all();
    expect(applied).toEqual(['20261126000000_app_baseline', '20261126000100_authctl_audit', '20261130000000_authctl_checked_hashes']);
    expect(db.prepare('SELECT count(*) FROM authctl_audit').pluck().get()).toBe(1);
    db.close();

    expect((await runCli(['migrate', 'status'], { cwd })).code).toBe(0);
    const again = await runCli(['migrate'], { cwd });
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/Nothing to do/);
    expect(again.stderr).not.toMatch(/Backed up/);
  });
});
