import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { BIN, hasStackTrace, ROOT, runCli, tempDir, type CliResult } from '../support/cli.js';
import { appTimestamp, cli, describeProviders, fakeJwt, fillAppDatabase, sqliteDbAt, type TestDb } from '../support/db.js';
import { ADMIN_KEY, startGpustackStandIn, type GpustackStandIn } from '../support/gpustack-server.js';

const QUICK = { AUTHCTL_BCRYPT_ROUNDS: '10' };
const PASSWORD = 'Correct-Horse-Battery-9';

function output(r: CliResult): string {
  return r.stdout + r.stderr;
}

function jsonError(r: CliResult): { code: string; message: string; exitCode: number; hint?: string } {
  return JSON.parse(r.stderr.trim().split('\n').at(-1)!).error;
}

describe('malformed PostgreSQL URLs', () => {
  const SECRET = 'SECRETPW';
  it.each([
    'postgres:/u:SECRETPW@h/db',
    'postgresql//u:SECRETPW@h/db',
    'postgresql:u:SECRETPW@h/db',
    'postgresql+asyncpg:/u:SECRETPW@127.0.0.1/db',
    'postgresql://u:SECRET%zzPW@h/db',
    'postgresql://u:SECRETPW@h/db#frag',
  ])('%s is refused with exit 2 before connecting, without the password', async (url) => {
    const cwd = tempDir();
    for (const json of [false, true]) {
      const r = await runCli([...(json ? ['--json'] : []), 'user', 'list'], { cwd, env: { DATABASE_URL: url } });
      expect(r.code, output(r)).toBe(2);
      expect(output(r)).not.toContain(SECRET);
      expect(output(r)).not.toMatch(/SECRET%zz/);
      if (json) expect(jsonError(r).code).toBe('USAGE');
      else expect(r.stderr).toMatch(/malformed|no scheme/);
    }
  });

  it('redacts a malformed URL given with -d as well', async () => {
    const r = await runCli(['user', 'list', '-d', 'postgres:/admin:hunter2@db/ui'], { cwd: tempDir() });
    expect(r.code).toBe(2);
    expect(output(r)).not.toContain('hunter2');
    expect(r.stderr).toContain('admin:***@');
  });
});

describe('GPUStack answers that quote the key back', () => {
  let server: GpustackStandIn;
  beforeAll(async () => {
    server = await startGpustackStandIn();
  });
  afterAll(() => server.close());

  const env = () => ({ GPUSTACK_API_BASE: server.url, GPUSTACK_API_TOKEN: ADMIN_KEY, AUTHCTL_GPUSTACK_RETRIES: '1', AUTHCTL_GPUSTACK_RETRY_BASE_MS: '5', ...QUICK });

  function expectScrubbed(r: CliResult): void {
    const text = output(r);
    expect(text).not.toContain(ADMIN_KEY);
    expect(text).not.toContain(ADMIN_KEY.slice(0, 24));
    expect(text).not.toMatch(/Bearer gpustack/i);
    // Server text is echoed, but cut short: the 16,000-character body never reaches the terminal.
    expect(text).not.toContain('padding '.repeat(40));
    expect(text.length).toBeLessThan(6000);
  }

  for (const status of [401, 500] as const) {
    it(`a ${status} that echoes the Authorization header: gpustack check, --json, doctor --json, sync`, async () => {
      server.faults.echoAuthorization = status;
      try {
        const cwd = tempDir();
        expect((await runCli(['init-db', '--generate-password', '-q'], { cwd, env: QUICK })).code).toBe(0);
        const check = await runCli(['gpustack', 'check'], { cwd, env: env() });
        expect(check.code, output(check)).toBe(6);
        expect(check.stderr + check.stdout).toMatch(/bad key/);
        expectScrubbed(check);
        const checkJson = await runCli(['--json', 'gpustack', 'check'], { cwd, env: env() });
        expect(checkJson.code).toBe(6);
        expectScrubbed(checkJson);
        const doctor = await runCli(['--json', 'doctor'], { cwd, env: env() });
        expect(doctor.code).toBe(8);
        expect(JSON.parse(doctor.stdout).checks.find((c: { id: string }) => c.id === 'gpustack').status).toBe('fail');
        expectScrubbed(doctor);
        const sync = await runCli(['gpustack', 'sync', '--dry-run'], { cwd, env: env() });
        expect(sync.code).toBe(6);
        expectScrubbed(sync);
      } finally {
        server.resetFaults();
      }
    });
  }
});

describe('.env is read as the app reads it (python-dotenv)', () => {
  async function withDatabases(dotEnv: string | Buffer): Promise<{ cwd: string; target: string }> {
    const cwd = tempDir();
    const target = path.join(cwd, 'target.db');
    expect((await runCli(['init-db', '--generate-password', '-q', '-d', 'sqlite:///./target.db'], { cwd, env: QUICK })).code).toBe(0);
    fs.writeFileSync(path.join(cwd, '.env'), dotEnv);
    return { cwd, target };
  }

  it.each([
    ['a bare key line above DATABASE_URL', 'DEBUG\nDATABASE_URL=sqlite:///./target.db\n'],
    ['a UTF-8 BOM', '\uFEFFDATABASE_URL=sqlite:///./target.db\nDEBUG=1\n'],
    ['CRLF line ends and export', 'DEBUG\r\nexport DATABASE_URL=sqlite:///./target.db\r\nLOG_LEVEL=info\r\n'],
    ['double quotes and an inline comment', '# the app database\nDATABASE_URL="sqlite:///./target.db" # main\n'],
    ['single quotes', "DATABASE_URL='sqlite:///./target.db'\n"],
    ['an unquoted value with an inline comment', 'DATABASE_URL=sqlite:///./target.db   # comment\n'],
    ['a reference to another setting', 'DB_FILE=target.db\nDATABASE_URL=sqlite:///./${DB_FILE}\n'],
  ])('%s', async (_what, text) => {
    const { cwd, target } = await withDatabases(text);
    const r = await runCli(['user', 'list'], { cwd });
    expect(r.code, output(r)).toBe(0);
    expect(r.stderr).toContain(`database: sqlite ${target}\n`);
    expect(fs.existsSync(path.join(cwd, 'gpustack_ui.db'))).toBe(false);
  });

  it('sessions revoke --all with a bare key line empties the named database, not the default one', async () => {
    const { cwd, target } = await withDatabases('DEBUG\nDATABASE_URL=sqlite:///./target.db\n');
    // The default file exists too, with a session in it: the one that used to be emptied.
    expect((await runCli(['init-db', '--generate-password', '-q', '-d', 'sqlite:///./gpustack_ui.db'], { cwd, env: QUICK })).code).toBe(0);
    for (const file of [target, path.join(cwd, 'gpustack_ui.db')]) addSession(file);
    const r = await runCli(['sessions', 'revoke', '--all', '-y'], { cwd });
    expect(r.code, output(r)).toBe(0);
    expect(countSessions(target)).toBe(0);
    expect(countSessions(path.join(cwd, 'gpustack_ui.db'))).toBe(1);
  });
});

function addSession(file: string): void {
  const db = new Database(file);
  const now = new Date();
  db.prepare('INSERT INTO user_sessions (user_id, session_token, jti, token_type, expires_at, created_at, last_accessed) VALUES (1, ?, ?, ?, ?, ?, ?)').run(
    fakeJwt(), randomBytes(16).toString('hex'), 'refresh', appTimestamp(new Date(now.getTime() + 86_400_000)), appTimestamp(now), appTimestamp(now),
  );
  db.close();
}

function countSessions(file: string): number {
  const db = new Database(file, { readonly: true });
  try {
    return (db.prepare('SELECT count(*) AS n FROM user_sessions').get() as { n: number }).n;
  } finally {
    db.close();
  }
}

describe('an empty database URL is a usage error, never the default database', () => {
  it.each([
    [['-d', ''], {}],
    [['--database-url='], {}],
    [[], { DATABASE_URL: '' }],
  ] as Array<[string[], Record<string, string>]>)('init-db %j %j', async (args, env) => {
    const cwd = tempDir();
    const r = await runCli(['init-db', '--generate-password', ...args], { cwd, env: { ...QUICK, ...env } });
    expect(r.code, output(r)).toBe(2);
    expect(r.stderr).toMatch(/empty/);
    expect(fs.readdirSync(cwd)).toEqual([]);
  });

  it('an empty DATABASE_URL in .env is refused too', async () => {
    const cwd = tempDir();
    fs.writeFileSync(path.join(cwd, '.env'), 'DATABASE_URL=\n');
    const r = await runCli(['init-db', '--generate-password'], { cwd, env: QUICK });
    expect(r.code).toBe(2);
    expect(fs.existsSync(path.join(cwd, 'gpustack_ui.db'))).toBe(false);
  });
});

describe('a database URL naming a folder', () => {
  it.each(['sqlite:///./data', 'sqlite:///./data/', 'file:./data'])('init-db -d %s says it is a folder', async (url) => {
    const cwd = tempDir();
    fs.mkdirSync(path.join(cwd, 'data'));
    const r = await runCli(['init-db', '--generate-password', '-d', url], { cwd, env: QUICK });
    expect([2, 5]).toContain(r.code);
    expect(r.stderr).toMatch(/folder/);
    expect(fs.readdirSync(path.join(cwd, 'data'))).toEqual([]);
  });
});

/** An init-db database holding one live refresh session of the admin's. */
async function initWithOneSession(db: TestDb): Promise<void> {
  expect((await cli(db, ['init-db', '--generate-password', '-q'], { env: QUICK })).code).toBe(0);
  const now = new Date();
  await db.query(
    'INSERT INTO user_sessions (user_id, session_token, jti, token_type, expires_at, created_at, last_accessed) VALUES (1, ?, ?, ?, ?, ?, ?)',
    fakeJwt().slice(0, 250), randomBytes(16).toString('hex'), 'refresh', appTimestamp(new Date(now.getTime() + 86_400_000)), appTimestamp(now), appTimestamp(now),
  );
}

describeProviders('database URL parameters', ({ provider, newDb }) => {
  let db: TestDb;
  beforeAll(async () => {
    db = await newDb();
    await initWithOneSession(db);
  });

  if (provider === 'sqlite') {
    it.each(['?mode=ro', '?timeout=5', '?'])('a SQLite URL with %s is refused, and nothing is deleted', async (query) => {
      for (const url of [`${db.url}${query}`, `file:${db.url.replace(/^sqlite:\/\/\//, '')}${query}`]) {
        const r = await cli(db, ['sessions', 'revoke', '--all', '-y'], { env: { DATABASE_URL: url } });
        expect(r.code, output(r)).toBe(2);
        expect(r.stderr).toMatch(/takes no URL parameters for SQLite/);
      }
      expect((await db.query<{ n: number }>('SELECT count(*) AS n FROM user_sessions'))[0]!.n).toBe(1);
    });
  } else {
    it('PostgreSQL URL parameters (sslmode, application_name) keep working', async () => {
      const r = await cli(db, ['--json', 'user', 'list'], { env: { DATABASE_URL: `${db.url}?sslmode=disable&application_name=authctl-test` } });
      expect(r.code, output(r)).toBe(0);
      expect(JSON.parse(r.stdout).users.length).toBeGreaterThan(0);
    });
  }
});

describe('AUTHCTL_GPUSTACK_* tuning variables', () => {
  let server: GpustackStandIn;
  beforeAll(async () => {
    server = await startGpustackStandIn();
  });
  afterAll(() => server.close());

  it.each([
    ['AUTHCTL_GPUSTACK_RETRIES', 'abc', '0 to 10'],
    ['AUTHCTL_GPUSTACK_RETRIES', '100', '0 to 10'],
    ['AUTHCTL_GPUSTACK_CONCURRENCY', '0', '1 to 16'],
    ['AUTHCTL_GPUSTACK_CONCURRENCY', '64', '1 to 16'],
    ['AUTHCTL_GPUSTACK_TIMEOUT_MS', '1.5', '1 to 600000'],
    ['AUTHCTL_GPUSTACK_CONNECT_TIMEOUT_MS', '-5', '1 to 600000'],
    ['AUTHCTL_GPUSTACK_RETRY_BASE_MS', '5s', '0 to 60000'],
  ])('%s=%s is a usage error naming the range %s', async (name, value, range) => {
    const cwd = tempDir();
    for (const args of [['gpustack', 'check'], ['--json', 'gpustack', 'check']]) {
      const r = await runCli(args, { cwd, env: { GPUSTACK_API_BASE: server.url, GPUSTACK_API_TOKEN: ADMIN_KEY, [name]: value } });
      expect(r.code, output(r)).toBe(2);
      expect(r.stderr).toContain(name);
      expect(r.stderr).toContain(range);
    }
  });

  it('in range, the variables are accepted', async () => {
    const r = await runCli(['gpustack', 'check'], {
      cwd: tempDir(),
      env: { GPUSTACK_API_BASE: server.url, GPUSTACK_API_TOKEN: ADMIN_KEY, AUTHCTL_GPUSTACK_RETRIES: '0', AUTHCTL_GPUSTACK_CONCURRENCY: '16', AUTHCTL_GPUSTACK_TIMEOUT_MS: '5000' },
    });
    expect(r.code, output(r)).toBe(0);
  });
});

/**
 * Tests run as root, and root ignores file modes. A database that is really
 * read-only for authctl is then one it runs against as another user (the
 * postgres user, which machines with the PostgreSQL tests have), or, where
 * that user cannot reach this checkout, an immutable file (chattr +i), which
 * root cannot write either.
 */
const AS_ROOT = process.getuid?.() === 0;
const READ_ONLY_BY: 'mode' | 'other-user' | 'immutable' | null = !AS_ROOT
  ? 'mode'
  : spawnSync('runuser', ['-u', 'postgres', '--', process.execPath, BIN, '--version']).status === 0
    ? 'other-user'
    : immutableWorks()
      ? 'immutable'
      : null;
if (!READ_ONLY_BY && process.env.CI === 'true') {
  throw new Error('The read-only SQLite tests cannot run: no other user can run authctl here and chattr +i does not work. CI must not skip them.');
}
if (!READ_ONLY_BY) console.warn('NOTICE: read-only SQLite tests skipped: no other user can run authctl here and chattr +i does not work');
const SKIP_READ_ONLY = READ_ONLY_BY === null;

function immutableWorks(): boolean {
  const file = path.join(tempDir(), 'probe');
  fs.writeFileSync(file, '');
  if (spawnSync('chattr', ['+i', file]).status !== 0) return false;
  let blocked = false;
  try {
    fs.appendFileSync(file, 'x');
  } catch {
    blocked = true;
  }
  spawnSync('chattr', ['-i', file]);
  return blocked;
}

/** The postgres user, as spawn takes it. */
function postgresUser(): { uid: number; gid: number } {
  const id = (flag: string) => Number(spawnSync('id', [flag, 'postgres'], { encoding: 'utf8' }).stdout.trim());
  return { uid: id('-u'), gid: id('-g') };
}

function runCliAsOtherUser(args: string[], opts: { cwd: string; env?: Record<string, string>; input?: string }): Promise<CliResult> {
  return runCli(args, READ_ONLY_BY === 'other-user' ? { ...opts, user: postgresUser() } : opts);
}

/**
 * Kills a writer in the middle of a transaction large enough to have reached
 * the file, so its rollback journal is left hot, as after a crash.
 */
async function leaveHotJournal(file: string): Promise<void> {
  const script = `
    const Database = require('better-sqlite3');
    const db = new Database(process.argv[1]);
    db.pragma('cache_size = 5');
    db.exec('BEGIN');
    db.exec("UPDATE users SET full_name = 'half-written'");
    db.exec('CREATE TABLE filler (b BLOB)');
    const add = db.prepare('INSERT INTO filler VALUES (randomblob(2000))');
    for (let i = 0; i < 200; i++) add.run();
    process.stdout.write('ready');
    setInterval(() => {}, 1000);
  `;
  const child = spawn(process.execPath, ['-e', script, file], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`the writer exited early (${code})`)));
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
  expect(fs.statSync(`${file}-journal`).size).toBeGreaterThan(0);
}

/** Makes the SQLite file, or with `folder` only its folder, read-only for the CLI as runCliAsOtherUser runs it. */
function makeReadOnly(file: string, opts: { folder?: boolean } = {}): void {
  const dir = path.dirname(file);
  if (READ_ONLY_BY === 'other-user') {
    // Owned by root: readable by the other user, writable by it only where said.
    fs.chmodSync(dir, 0o755);
    fs.chmodSync(file, 0o644);
    if (opts.folder) spawnSync('chown', ['postgres', file]);
  } else if (READ_ONLY_BY === 'immutable') {
    const target = opts.folder ? dir : file;
    expect(spawnSync('chattr', ['+i', target]).status).toBe(0);
    // Before the temp folders go, which root cannot remove while immutable.
    onTestFinished(() => void spawnSync('chattr', ['-i', target]));
  } else {
    if (!opts.folder) fs.chmodSync(file, 0o444);
    fs.chmodSync(dir, opts.folder ? 0o555 : 0o755);
  }
}

function expectPlainDatabaseError(r: CliResult, code: string | string[]): void {
  expect(r.code, output(r)).toBe(5);
  expect(output(r)).not.toMatch(/This is a bug|prisma|invocation|Unexpected error/i);
  expect(hasStackTrace(output(r))).toBe(false);
  expect([code].flat()).toContain(jsonError(r).code);
}

const WRITES: Array<{ args: string[]; input?: string }> = [
  { args: ['user', 'add', 'bob', '--password-stdin'], input: `${PASSWORD}\n` },
  { args: ['user', 'reset', 'admin', '--password-stdin'], input: `${PASSWORD}\n` },
  { args: ['user', 'disable', 'admin', '--force'] },
  { args: ['user', 'prefs', 'admin', 'set', 'theme', 'dark'] },
  { args: ['sessions', 'revoke', '--all', '-y'] },
];

describeProviders('read-only databases', ({ provider, newDb, cloneDb }) => {
  let template: TestDb;
  beforeAll(async () => {
    template = await newDb();
    await initWithOneSession(template);
  });

  async function snapshot(db: TestDb): Promise<string> {
    const rows = [];
    for (const t of ['users', 'user_sessions', 'user_preferences']) rows.push(await db.query(`SELECT * FROM ${t} ORDER BY id`));
    return JSON.stringify(rows);
  }

  if (provider === 'sqlite') {
    it.skipIf(SKIP_READ_ONLY).each(WRITES)('a read-only file: $args exits 5 with a plain message', async ({ args, input }) => {
      const db = await cloneDb(template);
      const before = await snapshot(db);
      const file = db.url.replace(/^sqlite:\/\/\//, '');
      makeReadOnly(file);
      const r = await runCliAsOtherUser(['--json', ...args], { cwd: db.cwd, env: { ...db.env, ...QUICK }, input });
      expectPlainDatabaseError(r, 'DATABASE_READ_ONLY');
      expect(jsonError(r).message).toMatch(/read-only/);
      expect(await snapshot(db)).toBe(before);
    });

    it.skipIf(SKIP_READ_ONLY).each([
      ['user', 'add', 'dave'],
      ['user', 'reset', 'admin'],
      ['user', 'delete', 'admin'],
      ['sessions', 'revoke', '--all'],
    ])('a read-only file: %s is refused (exit 5) before it asks for a password or a confirmation', async (...args) => {
      const db = await cloneDb(template);
      const before = await snapshot(db);
      makeReadOnly(db.url.replace(/^sqlite:\/\/\//, ''));
      // No terminal and no --yes: the question would have been refused first (exit 2 or 7).
      const r = await runCliAsOtherUser(['--json', ...args], { cwd: db.cwd, env: { ...db.env, ...QUICK } });
      expectPlainDatabaseError(r, 'DATABASE_READ_ONLY');
      expect(await snapshot(db)).toBe(before);
      // A dry run only reads, and still works there.
      if (args[0] === 'sessions') {
        const dry = await runCliAsOtherUser([...args, '--dry-run'], { cwd: db.cwd, env: { ...db.env, ...QUICK } });
        expect(dry.code, output(dry)).toBe(0);
      }
    });

    it.skipIf(SKIP_READ_ONLY)('a read-only folder: init-db is refused (exit 5) before it asks for a password, for a new file and an empty one', async () => {
      const dir = tempDir();
      const empty = path.join(dir, 'empty.db');
      fs.writeFileSync(empty, '');
      makeReadOnly(empty, { folder: true });
      for (const file of [path.join(dir, 'new.db'), empty]) {
        // No password source and no terminal: asking first would have been exit 2.
        const r = await runCliAsOtherUser(['--json', 'init-db'], { cwd: dir, env: { DATABASE_URL: `sqlite:///${file}`, ...QUICK } });
        expectPlainDatabaseError(r, 'DATABASE_READ_ONLY');
        expect(jsonError(r).message + jsonError(r).hint).toMatch(/folder/);
      }
      expect(fs.readdirSync(dir)).toEqual(['empty.db']);
      expect(fs.statSync(empty).size).toBe(0);
    });

    it.skipIf(READ_ONLY_BY !== 'other-user')("init-db refuses (exit 7), before the password, an empty file others may read that it cannot make private", async () => {
      const dir = tempDir();
      fs.chmodSync(dir, 0o777);
      const file = path.join(dir, 'shared.db');
      fs.writeFileSync(file, '');
      fs.chmodSync(file, 0o666);
      // No password source and no terminal: asking first would have been exit 2.
      const r = await runCliAsOtherUser(['--json', 'init-db'], { cwd: dir, env: { DATABASE_URL: `sqlite:///${file}`, ...QUICK } });
      expect(r.code, output(r)).toBe(7);
      expect(jsonError(r)).toMatchObject({ code: 'DATABASE_FILE_EXPOSED' });
      expect(jsonError(r).message).toMatch(/every user \(mode 0666\) and belongs to uid 0, so authctl cannot make it private/);
      expect(fs.statSync(file).size).toBe(0);
      // Its owner shares it with a group only (the other user's): a deliberate set-up, which init-db takes.
      fs.chmodSync(file, 0o660);
      spawnSync('chgrp', [String(postgresUser().gid), file]);
      const ok = await runCliAsOtherUser(['init-db', '--generate-password', '-q'], { cwd: dir, env: { DATABASE_URL: `sqlite:///${file}`, ...QUICK } });
      expect(ok.code, output(ok)).toBe(0);
    });

    it.skipIf(READ_ONLY_BY !== 'other-user')('a link from a read-only folder to a database in a writable one is writable: init-db and user add go through it', async () => {
      const readOnly = tempDir();
      const writable = tempDir();
      fs.chmodSync(readOnly, 0o755);
      fs.chmodSync(writable, 0o777);
      const real = path.join(writable, 'real.db');
      fs.writeFileSync(real, '', { mode: 0o600 });
      spawnSync('chown', ['postgres', real]);
      const link = path.join(readOnly, 'linked.db');
      fs.symlinkSync(real, link);
      const env = { DATABASE_URL: `sqlite:///${link}`, ...QUICK };
      // SQLite writes its side files beside the real file, so the link's own folder does not matter.
      const init = await runCliAsOtherUser(['init-db', '--generate-password', '-q'], { cwd: readOnly, env });
      expect(init.code, output(init)).toBe(0);
      const add = await runCliAsOtherUser(['user', 'add', 'bob', '--password-stdin'], { cwd: readOnly, env, input: `${PASSWORD}\n` });
      expect(add.code, output(add)).toBe(0);
    });

    it.skipIf(SKIP_READ_ONLY)('a read-only folder: user add says the folder must be writable', async () => {
      const db = await cloneDb(template);
      makeReadOnly(db.url.replace(/^sqlite:\/\/\//, ''), { folder: true });
      const r = await runCliAsOtherUser(['--json', 'user', 'add', 'bob', '--password-stdin'], { cwd: db.cwd, env: { ...db.env, ...QUICK }, input: `${PASSWORD}\n` });
      // SQLite says READONLY_DIRECTORY where it can tell the folder is read-only, CANTOPEN where it only fails to create the journal.
      expectPlainDatabaseError(r, ['DATABASE_READ_ONLY', 'DATABASE_CANNOT_OPEN']);
      expect(jsonError(r).message + jsonError(r).hint).toMatch(/folder/);
    });

    it.skipIf(SKIP_READ_ONLY)('a read-only folder: sessions purge and migrate (adopting an app database) name the folder and its -wal/lock files', async () => {
      const db = await cloneDb(template);
      const appDir = tempDir();
      const appFile = path.join(appDir, 'gpustack_ui.db');
      await fillAppDatabase(sqliteDbAt(appFile), { users: [{ username: 'admin', isAdmin: true }], sessions: [{ userId: 1, expiresAt: appTimestamp(new Date(Date.now() - 3_600_000)) }] });
      await db.query('UPDATE user_sessions SET expires_at = ?', appTimestamp(new Date(Date.now() - 3_600_000)));
      const runs: Array<{ file: string; args: string[] }> = [
        { file: db.url.replace(/^sqlite:\/\/\//, ''), args: ['sessions', 'purge'] },
        { file: appFile, args: ['migrate'] },
      ];
      for (const { file, args } of runs) {
        makeReadOnly(file, { folder: true });
        const before = fs.readdirSync(path.dirname(file)).sort();
        const r = await runCliAsOtherUser(['--json', ...args], { cwd: path.dirname(file), env: { DATABASE_URL: `sqlite:///${file}` } });
        expect(r.code, output(r)).toBe(5);
        expect(output(r)).not.toMatch(/This is a bug|prisma|invocation/i);
        expect(jsonError(r).message + jsonError(r).hint).toMatch(/folder/);
        expect(jsonError(r).hint).toMatch(/-wal/);
        expect(fs.readdirSync(path.dirname(file)).sort()).toEqual(before);
      }
      expect(countSessions(db.url.replace(/^sqlite:\/\/\//, ''))).toBe(1);
    });

    it('a write left unfinished by a killed process: read-only commands undo it first and read what was committed', async () => {
      const db = await cloneDb(template);
      const file = db.url.replace(/^sqlite:\/\/\//, '');
      const before = await snapshot(db);
      await leaveHotJournal(file);
      // What a plain read-only connection makes of it.
      expect(() => new Database(file, { readonly: true }).prepare('SELECT count(*) FROM users').get()).toThrow(/readonly/);
      for (const args of [['migrate', 'status'], ['init-db', '--generate-password'], ['sessions', 'purge', '--dry-run']]) {
        const r = await cli(db, args, { env: QUICK });
        expect(r.code, `${args.join(' ')}: ${output(r)}`).toBe(0);
      }
      expect(fs.existsSync(`${file}-journal`)).toBe(false);
      expect(await snapshot(db)).toBe(before);
    });

    it.skipIf(SKIP_READ_ONLY)('a write left unfinished, on a file this user cannot write: exit 5 says how to undo it, and the journal stays', async () => {
      const db = await cloneDb(template);
      const file = db.url.replace(/^sqlite:\/\/\//, '');
      const before = await snapshot(db);
      await leaveHotJournal(file);
      makeReadOnly(file);
      for (const args of [['migrate', 'status'], ['user', 'list']]) {
        const r = await runCliAsOtherUser(['--json', ...args], { cwd: db.cwd, env: db.env });
        expectPlainDatabaseError(r, 'DATABASE_READ_ONLY');
        expect(jsonError(r).message).toMatch(/unfinished.*gpustack_ui\.db-journal/);
        // It names what is in the way: the file itself, and the folder where the journal must be deleted.
        expect(jsonError(r).message).toContain(`cannot write ${file} (the database file;`);
        expect(jsonError(r).hint).toContain(`can write ${file}`);
      }
      expect(fs.existsSync(`${file}-journal`)).toBe(true);
      spawnSync('chattr', ['-i', file]);
      expect((await cli(db, ['migrate', 'status'])).code).toBe(0);
      expect(await snapshot(db)).toBe(before);
    });

    /** Owned by the user the CLI runs as (other-user mode), or left to root (immutable mode, where root is the CLI's user). */
    function giveToCli(p: string): void {
      if (READ_ONLY_BY === 'other-user') expect(spawnSync('chown', ['postgres', p]).status).toBe(0);
      else if (READ_ONLY_BY === 'mode') fs.chmodSync(p, 0o644);
    }

    it.skipIf(SKIP_READ_ONLY || READ_ONLY_BY === 'mode')('a write left unfinished, in a folder this user cannot write, on a file and journal it can: read commands name the -journal and the folder', async () => {
      const db = await cloneDb(template);
      const file = db.url.replace(/^sqlite:\/\/\//, '');
      const dir = path.dirname(file);
      const before = await snapshot(db);
      await leaveHotJournal(file);
      giveToCli(file);
      giveToCli(`${file}-journal`);
      makeReadOnly(file, { folder: true });
      if (READ_ONLY_BY === 'other-user') giveToCli(file);
      for (const args of [['user', 'list'], ['sessions', 'list'], ['sessions', 'stats'], ['migrate', 'status']]) {
        const r = await runCliAsOtherUser(['--json', ...args], { cwd: db.cwd, env: db.env });
        expectPlainDatabaseError(r, 'DATABASE_READ_ONLY');
        const { message, hint } = jsonError(r);
        expect(message, args.join(' ')).toMatch(/unfinished.*gpustack_ui\.db-journal/);
        expect(message, args.join(' ')).toContain(`cannot write ${dir} (the folder`);
        expect(message, args.join(' ')).not.toMatch(/disk I\/O error/);
        expect(hint, args.join(' ')).toContain(`write access to ${dir}`);
      }
      expect(fs.existsSync(`${file}-journal`)).toBe(true);
      // As a user who can write the folder, the next command finishes the rollback.
      spawnSync('chattr', ['-i', dir]);
      expect((await cli(db, ['migrate', 'status'])).code).toBe(0);
      expect(fs.existsSync(`${file}-journal`)).toBe(false);
      expect(await snapshot(db)).toBe(before);
    });

    it.skipIf(READ_ONLY_BY !== 'other-user')('a write left unfinished, with a -journal this user cannot write: the message names it', async () => {
      const db = await cloneDb(template);
      const file = db.url.replace(/^sqlite:\/\/\//, '');
      await leaveHotJournal(file);
      fs.chmodSync(path.dirname(file), 0o777);
      giveToCli(file);
      fs.chmodSync(`${file}-journal`, 0o644);
      const r = await runCliAsOtherUser(['--json', 'user', 'list'], { cwd: db.cwd, env: db.env });
      expectPlainDatabaseError(r, 'DATABASE_READ_ONLY');
      expect(jsonError(r).message).toContain(`cannot write ${file}-journal (the rollback journal of a write left unfinished; owned by root, mode 0644)`);
      expect(jsonError(r).hint).toContain(`such as root`);
      expect(fs.existsSync(`${file}-journal`)).toBe(true);
    });

    it.skipIf(READ_ONLY_BY !== 'other-user')('WAL mode with a -shm this user cannot write: purge exits 5 naming it, prints no summary, and claims no deletions', async () => {
      const db = await cloneDb(template);
      const file = db.url.replace(/^sqlite:\/\/\//, '');
      const dir = path.dirname(file);
      await db.query('UPDATE user_sessions SET expires_at = ?', appTimestamp(new Date(Date.now() - 3_600_000)));
      // The app, running as root, has the database open: its -shm is root's, 0644.
      const live = new Database(file);
      live.pragma('journal_mode = WAL');
      live.prepare('SELECT count(*) FROM users').get();
      const shm = fs.readFileSync(`${file}-shm`);
      live.close();
      fs.writeFileSync(`${file}-shm`, shm, { mode: 0o644 });
      fs.chmodSync(`${file}-shm`, 0o644);
      fs.writeFileSync(`${file}-wal`, '');
      for (const p of [dir, file, `${file}-wal`]) giveToCli(p);

      const json = await runCliAsOtherUser(['--json', 'sessions', 'purge'], { cwd: db.cwd, env: db.env });
      expect(json.code, output(json)).toBe(5);
      expect(JSON.parse(json.stdout)).toMatchObject({ deleted: 0 });
      const { message, hint } = JSON.parse(json.stdout).error as { message: string; hint: string };
      expect(message).toContain(`cannot write ${file}-shm (the WAL log's shared-memory index; owned by root, mode 0644)`);
      expect(message).toMatch(/Nothing was deleted\.$/);
      expect(message).not.toMatch(/committed/);
      expect(hint).toContain(`${file}-shm`);
      expect(hint).not.toMatch(/make the file writable/);

      const human = await runCliAsOtherUser(['sessions', 'purge'], { cwd: db.cwd, env: db.env });
      expect(human.code, output(human)).toBe(5);
      expect(human.stdout).not.toMatch(/Purged/);
      expect(human.stderr).toContain(`${file}-shm`);
      expect(human.stderr).not.toMatch(/committed|audit row/);
      expect(hasStackTrace(output(human))).toBe(false);
      expect(countSessions(file)).toBe(1);
    });

    it('a damaged page: sessions stats and doctor exit 5 and say the file is damaged', async () => {
      const db = await cloneDb(template);
      const file = db.url.replace(/^sqlite:\/\/\//, '');
      corruptTable(file, 'user_sessions');
      for (const args of [['sessions', 'stats'], ['doctor'], ['sessions', 'list']]) {
        const r = await cli(db, ['--json', ...args]);
        expectPlainDatabaseError(r, 'DATABASE_CORRUPT');
        expect(jsonError(r).message).toMatch(/damaged/);
      }
    });
  } else {
    it.each(WRITES)('a read-only transaction (25006): $args exits 5 with a plain message', async ({ args, input }) => {
      const db = await cloneDb(template);
      const before = await snapshot(db);
      const name = new URL(db.url).pathname.slice(1);
      await db.exec(`ALTER DATABASE "${name}" SET default_transaction_read_only = on`);
      const r = await cli(db, ['--json', ...args], { env: QUICK, input });
      expectPlainDatabaseError(r, 'DATABASE_READ_ONLY');
      expect(await snapshot(db)).toBe(before);
    });

    it('a user without write privileges (42501): user add exits 5 with a plain message', async () => {
      const db = await cloneDb(template);
      const role = `reader_${process.pid}_${Date.now() % 100000}`;
      await db.exec(`CREATE ROLE ${role} LOGIN; GRANT USAGE ON SCHEMA public TO ${role}; GRANT SELECT ON ALL TABLES IN SCHEMA public TO ${role}`);
      const url = new URL(db.url);
      url.username = role;
      const r = await cli(db, ['--json', 'user', 'add', 'bob', '--password-stdin'], { env: { ...QUICK, DATABASE_URL: url.toString() }, input: `${PASSWORD}\n` });
      expectPlainDatabaseError(r, 'DATABASE_PERMISSION_DENIED');
    });

    it('a role that may use the tables but not create schemas: migrate status and doctor still judge the migrations', async () => {
      const db = await cloneDb(template);
      const role = `worker_${process.pid}_${Date.now() % 100000}`;
      await db.exec(
        `CREATE ROLE ${role} LOGIN; GRANT USAGE ON SCHEMA public TO ${role};` +
          ` GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO ${role}; GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO ${role}`,
      );
      const url = new URL(db.url);
      url.username = role;
      const env = { ...QUICK, DATABASE_URL: url.toString() };
      const status = await cli(db, ['--json', 'migrate', 'status'], { env });
      expect(status.code, status.stderr).toBe(0);
      const doctor = await cli(db, ['--json', 'doctor'], { env });
      const checks = JSON.parse(doctor.stdout).checks as Array<{ id: string; status: string; detail: string }>;
      const migrations = checks.find((c) => /migration/.test(c.id))!;
      expect(migrations.status, migrations.detail).toBe('ok');
      expect(doctor.stdout + doctor.stderr).not.toMatch(/permission denied/);
      // The judgement still holds: a column the migrations do not make is drift, for this role too.
      await db.exec('ALTER TABLE users ADD COLUMN extra_col TEXT');
      const drifted = await cli(db, ['--json', 'migrate', 'status'], { env });
      expect(drifted.code, drifted.stderr).not.toBe(0);
      expect(drifted.stdout + drifted.stderr).toMatch(/extra_col/);
    });
  }
});

/** Overwrites every b-tree page of a table and its indexes with garbage, as a failing disk might. */
function corruptTable(file: string, table: string): void {
  const db = new Database(file);
  const pageSize = db.pragma('page_size', { simple: true }) as number;
  const roots = (db.prepare('SELECT rootpage FROM sqlite_master WHERE tbl_name = ? AND rootpage > 0').all(table) as Array<{ rootpage: number }>).map((r) => r.rootpage);
  db.close();
  const fd = fs.openSync(file, 'r+');
  for (const root of roots) fs.writeSync(fd, Buffer.alloc(pageSize, 0xa5), 0, pageSize, (root - 1) * pageSize);
  fs.closeSync(fd);
}
