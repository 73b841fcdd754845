import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { BIN, hasStackTrace, startCli, tempDir, type CliResult } from '../support/cli.js';
import { cli, describeProviders, fillAppDatabase, independentBcrypt, newSqliteDb, sqliteDbAt, type TestDb } from '../support/db.js';
import pg from 'pg';

const FAST = { AUTHCTL_BCRYPT_ROUNDS: '10' };

const fileOf = (db: TestDb) => db.url.slice('sqlite:///'.length);

/** Nothing from Prisma's engine, its wasm or its JS frames reaches the operator. */
function expectNoInternals(r: CliResult): void {
  const all = r.stdout + r.stderr;
  expect(hasStackTrace(all), all).toBe(false);
  expect(all).not.toMatch(/wasm|WASM_ERROR|SocketTimeout|unknown variant|file:\/\/|node_modules|\.js:\d+/);
}

/** Every table and every row, to tell that a database is exactly as it was. */
function snapshot(file: string): string {
  const db = new Database(file, { readonly: true });
  try {
    const tables = db.prepare("SELECT name, sql FROM sqlite_master ORDER BY name").all() as Array<{ name: string; sql: string | null }>;
    return JSON.stringify(tables.map((t) => [t.name, t.sql, t.sql?.startsWith('CREATE TABLE') ? db.prepare(`SELECT * FROM "${t.name}"`).all() : null]));
  } finally {
    db.close();
  }
}

/** The app holding SQLite's write lock (BEGIN IMMEDIATE) on its own connection, as during a long write. */
function appWriteLock(file: string): { release(): void } {
  const app = new Database(file, { timeout: 10_000 });
  app.exec('BEGIN IMMEDIATE');
  return {
    release() {
      app.exec('ROLLBACK');
      app.close();
    },
  };
}

async function until(check: () => boolean, what: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(2);
  }
}

/** Waits until a process has used no CPU for half a second: it is blocked, here on reading its password. */
async function untilIdle(pid: number): Promise<void> {
  const cpu = () => {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return Number(fields[11]) + Number(fields[12]);
  };
  await sleep(300);
  let last = cpu();
  let stableSince = Date.now();
  await until(() => {
    const now = cpu();
    if (now !== last) {
      last = now;
      stableSince = Date.now();
    }
    return Date.now() - stableSince >= 500;
  }, 'the second run to wait for its password');
}

/**
 * Starts `init-db --password-stdin` and returns once it waits for its
 * password; `answer` then gives it one and resolves to how it ended.
 */
async function initDbAtItsPassword(db: TestDb, cwd: string): Promise<{ answer(password: string): Promise<CliResult> }> {
  const run = spawn(process.execPath, [BIN, 'init-db', '--password-stdin'], { cwd, env: { ...process.env, ...db.env, ...FAST, NO_COLOR: '1' } });
  let stderr = '';
  run.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const code = new Promise<number | null>((resolve) => run.on('close', resolve));
  await untilIdle(run.pid!);
  return {
    async answer(password) {
      run.stdin.end(password);
      return { code: await code, stdout: '', stderr };
    },
  };
}

describe('migrate and init-db blocked by the app\'s write lock', () => {
  it('on an empty file the lock is reported in words (exit 5), with no engine internals and no backup named, and the file stays empty', async () => {
    const dir = tempDir();
    const file = path.join(dir, 't.db');
    fs.writeFileSync(file, '');
    const db = sqliteDbAt(file);
    const lock = appWriteLock(file);
    try {
      const m = await cli(db, ['migrate']);
      expect(m.code, m.stderr).toBe(5);
      expect(m.stderr).toMatch(/stayed locked by another writer/);
      expect(m.stderr).not.toMatch(/\.bak|backed up/i);
      expectNoInternals(m);

      const i = await cli(db, ['init-db', '--password-stdin'], { input: 'a perfectly fine password', env: FAST });
      expect(i.code, i.stderr).toBe(5);
      expect(i.stderr).toMatch(/stayed locked by another writer/);
      expectNoInternals(i);
    } finally {
      lock.release();
    }
    expect(fs.statSync(file).size).toBe(0);
    expect(fs.readdirSync(dir).sort()).toEqual(['t.db']);
    const again = await cli(db, ['migrate']);
    expect(again.code, again.stderr).toBe(0);
  });

  it('on an app database locked after the backup, names the real backup, leaves the database as it was, and a rerun adopts it', async () => {
    const db = newSqliteDb();
    await fillAppDatabase(db, {
      version: 'v2.5.4',
      users: [{ username: 'admin', passwordHash: independentBcrypt('a good password', 10), isAdmin: true, fullName: 'Admin' }],
      prefs: [{ userId: 1, key: 'theme', value: 'dark' }],
    });
    const file = fileOf(db);
    const before = snapshot(file);

    const run = startCli(['migrate'], { cwd: db.cwd, env: db.env });
    let said = '';
    const listen = (d: string) => (said += d);
    run.child.stdout!.on('data', listen);
    run.child.stderr!.on('data', listen);
    // The backup is announced just before the history table is created and
    // Prisma's engine starts (loading it takes a while): once the table is
    // there, the app takes its write lock, for longer than the engine waits.
    await until(() => /Backed up the database to/.test(said), 'the backup');
    const look = new Database(file, { readonly: true, timeout: 10_000 });
    try {
      await until(() => look.prepare("SELECT 1 FROM sqlite_master WHERE name = '_prisma_migrations'").get() !== undefined, 'the history table');
    } finally {
      look.close();
    }
    const lock = appWriteLock(file);
    await sleep(7000);
    lock.release();
    const r = await run.done;

    expect(r.code, r.stderr).toBe(5);
    expect(r.stderr).toMatch(/stayed locked by another writer/);
    expectNoInternals(r);
    const backups = fs.readdirSync(db.cwd).filter((f) => f.includes('.bak-'));
    expect(backups).toHaveLength(1);
    expect(r.stderr).toContain(`backed up to ${path.join(db.cwd, backups[0]!)} before this run`);
    // No empty history table or anything else left behind.
    expect(snapshot(file)).toBe(before);

    const again = await cli(db, ['migrate']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/Adopted the app's existing tables/);
    expect((await cli(db, ['migrate', 'status'])).code).toBe(0);
  });
});

describe('Ctrl+C while SQLite waits out the app\'s write lock (Node is blocked meanwhile)', () => {
  it('a command that then fails on the lock exits 130 with Cancelled, not 5, and changes nothing', async () => {
    const db = newSqliteDb();
    expect((await cli(db, ['init-db', '--generate-password'], { env: FAST })).code).toBe(0);
    const file = fileOf(db);
    const before = snapshot(file);
    const lock = appWriteLock(file);
    try {
      const run = startCli(['user', 'disable', 'admin', '--force'], { cwd: db.cwd, env: db.env });
      await sleep(1000);
      run.child.kill('SIGINT');
      const r = await run.done;
      expect(r.code, r.stderr).toBe(130);
      expect(r.stderr).toMatch(/error: Cancelled \(SIGINT\)/);
      expect(r.stderr).not.toMatch(/stayed locked/);
      expectNoInternals(r);
    } finally {
      lock.release();
    }
    expect(snapshot(file)).toBe(before);
  });

  it('migrate stopped that way stops after the step in progress (exit 130) instead of finishing as if not asked, and a rerun completes', async () => {
    const db = newSqliteDb();
    await fillAppDatabase(db, { version: 'v2.5.4', users: [{ username: 'admin', passwordHash: independentBcrypt('a good password', 10), isAdmin: true, fullName: 'Admin' }] });
    const file = fileOf(db);
    const lock = appWriteLock(file);
    const run = startCli(['migrate'], { cwd: db.cwd, env: db.env });
    let said = '';
    run.child.stdout!.on('data', (d: string) => (said += d));
    run.child.stderr!.on('data', (d: string) => (said += d));
    // The backup only reads; creating the history table then waits for the lock, inside SQLite.
    await until(() => /Backed up the database to/.test(said), 'the backup');
    await sleep(500);
    run.child.kill('SIGINT');
    await sleep(1000);
    lock.release();
    const r = await run.done;
    expect(r.code, `${said}${r.stderr}`).toBe(130);
    expect(r.stderr).toMatch(/Cancelled \(SIGINT\) after the step in progress/);
    expectNoInternals(r);
    const again = await cli(db, ['migrate']);
    expect(again.code, again.stderr).toBe(0);
    expect((await cli(db, ['migrate', 'status'])).code).toBe(0);
  });
});

describe('init-db on paths it cannot create', () => {
  it('makes an empty file it takes over mode 0600, as one it creates', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'gpustack_ui.db');
    fs.writeFileSync(file, '', { mode: 0o644 });
    fs.chmodSync(file, 0o644);
    const r = await cli(sqliteDbAt(file), ['init-db', '--generate-password'], { env: FAST });
    expect(r.code, r.stderr).toBe(0);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
  });

  it('refuses a dangling symbolic link in words, exit 5, before asking for a password, and creates nothing', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'gpustack_ui.db');
    fs.symlinkSync('nowhere.db', file);
    const r = await cli(sqliteDbAt(file), ['init-db', '--password-stdin'], { input: '' });
    expect(r.code, r.stderr).toBe(5);
    expect(r.stderr).toMatch(/is a symbolic link to nowhere\.db, which does not exist/);
    expect(r.stderr).not.toMatch(/EEXIST|password/i);
    expectNoInternals(r);
    expect(fs.readdirSync(dir)).toEqual(['gpustack_ui.db']);
    expect(fs.lstatSync(file).isSymbolicLink()).toBe(true);
  });

  it('the second of two init-db runs says another run created the file, and changes nothing', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'gpustack_ui.db');
    const db = sqliteDbAt(file);
    // The second run starts first: it finds no file and waits for its password.
    const second = await initDbAtItsPassword(db, dir);
    // Meanwhile the first run creates and initialises the database.
    const first = await cli(db, ['init-db', '--generate-password'], { env: FAST });
    expect(first.code, first.stderr).toBe(0);
    const created = fs.readFileSync(file);
    const r = await second.answer('a perfectly fine password\n');
    expect(r.code, r.stderr).toBe(75);
    expect(r.stderr).toMatch(/Another run created .*gpustack_ui\.db while this init-db was waiting/);
    expect(r.stderr).not.toMatch(/EEXIST/);
    expectNoInternals(r);
    expect(fs.readFileSync(file).equals(created)).toBe(true);
    const again = await cli(db, ['init-db', '--generate-password']);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/Already initialised/);
  });
});

describe('damaged and diverged databases', () => {
  it('a truncated database is reported as damaged with what to do next, exit 5', async () => {
    const db = newSqliteDb();
    expect((await cli(db, ['init-db', '--generate-password'], { env: FAST })).code).toBe(0);
    fs.truncateSync(fileOf(db), 20_000);
    for (const args of [['migrate'], ['migrate', 'status'], ['init-db', '--generate-password']]) {
      const r = await cli(db, args, { env: FAST });
      expect(r.code, args.join(' ')).toBe(5);
      expect(r.stderr).toMatch(/damaged/);
      expect(r.stderr).toMatch(/hint: .*restore the latest backup/);
      expectNoInternals(r);
    }
  });

  it('migrate status on a diverged history says what diverged and what to do, as migrate does, not to run migrate', async () => {
    const db = newSqliteDb();
    expect((await cli(db, ['init-db', '--generate-password'], { env: FAST })).code).toBe(0);
    await db.query(
      "INSERT INTO _prisma_migrations (id, checksum, migration_name, started_at, finished_at, applied_steps_count) VALUES ('x', 'abc', '29990101000000_from_the_future', ?, ?, 1)",
      '2999-01-01 00:00:00', '2999-01-01 00:00:00',
    );
    const s = await cli(db, ['migrate', 'status']);
    expect(s.code).toBe(8);
    expect(s.stderr).toMatch(/history has diverged \(applied migrations this authctl does not have: 29990101000000_from_the_future\)/);
    expect(s.stderr).toMatch(/hint: Use the authctl release that migrated this database, or restore it from a backup/);
    expect(s.stderr).not.toMatch(/Run `authctl migrate`/);
    const m = await cli(db, ['migrate']);
    expect(m.code).toBe(4);
    expect(m.stderr).toMatch(/hint: Use the authctl release that migrated this database, or restore it from a backup/);
  });
});

describeProviders('two init-db runs on one database', ({ provider, newDb }) => {
  it('the second, waiting for its password while the first initialises, exits 75 and changes nothing', async () => {
    const db = await newDb();
    // An existing database with nothing in it: an empty file on SQLite, a new database on PostgreSQL.
    if (provider === 'sqlite') fs.writeFileSync(fileOf(db), '');
    const second = await initDbAtItsPassword(db, db.cwd);
    const first = await cli(db, ['init-db', '--generate-password'], { env: FAST });
    expect(first.code, first.stderr).toBe(0);
    const rows = async () => JSON.stringify([await db.query('SELECT * FROM users ORDER BY id'), await db.query('SELECT id, command FROM authctl_audit ORDER BY id')]);
    const made = await rows();
    const r = await second.answer('a perfectly fine password\n');
    expect(r.code, r.stderr).toBe(75);
    expect(r.stderr).toMatch(/Another run initialised the database while this init-db was waiting for it \(active admin "admin"\); nothing was changed/);
    expect(r.stderr).not.toMatch(/already taken|duplicate key/);
    expectNoInternals(r);
    expect(await rows()).toBe(made);
    const again = await cli(db, ['init-db', '--generate-password']);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/Already initialised/);
  });

  if (provider === 'postgresql') it('started together on a database that does not exist yet: one creates it, the other exits 0 or 75', async () => {
    const base = await newDb();
    for (let round = 0; round < 3; round++) {
      const url = new URL(base.url);
      url.pathname = `/${url.pathname.slice(1)}_race_${round}`;
      const env = { ...base.env, DATABASE_URL: url.toString(), ...FAST };
      const runs = [0, 1].map(() => startCli(['init-db', '--password-stdin'], { cwd: base.cwd, env, input: 'a perfectly fine password\n', timeoutMs: 60_000 }).done);
      const results = await Promise.all(runs);
      const codes = results.map((r) => r.code).sort();
      expect(codes[0], results.map((r) => r.stderr).join('\n')).toBe(0);
      expect([0, 75], results.map((r) => r.stderr).join('\n')).toContain(codes[1]);
      for (const r of results) expectNoInternals(r);
      const client = new pg.Client({ connectionString: url.toString() });
      await client.connect();
      try {
        expect((await client.query("SELECT username FROM users WHERE is_admin AND is_active")).rows).toEqual([{ username: 'admin' }]);
        expect(Number((await client.query("SELECT count(*) AS n FROM authctl_audit WHERE command = 'init-db'")).rows[0].n)).toBe(1);
      } finally {
        await client.end();
      }
    }
  }, 120_000);
});
