import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { CAN_MOUNT, hasStackTrace, runCli, smallDisk, tempDir } from '../support/cli.js';
import { appTimestamp, cli, describeProviders, fillAppDatabase, independentBcrypt, isoTimestamp, type TestDb } from '../support/db.js';

const FAST = { AUTHCTL_BCRYPT_ROUNDS: '10' };


async function appRows(db: TestDb): Promise<string> {
  const out = [];
  for (const t of ['users', 'user_sessions', 'user_preferences']) out.push(await db.query(`SELECT * FROM ${t} ORDER BY id`));
  return JSON.stringify(out);
}

async function tableNames(db: TestDb): Promise<string[]> {
  const rows =
    db.provider === 'sqlite'
      ? await db.query<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
      : await db.query<{ name: string }>("SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename");
  return rows.map((r) => r.name);
}

describeProviders('migrations', ({ provider, newDb }) => {
  async function appMadeDb(): Promise<TestDb> {
    const db = await newDb();
    const now = Date.now();
    await fillAppDatabase(db, {
      users: [
        { username: 'admin', passwordHash: independentBcrypt('admin', 10), isAdmin: true, fullName: 'Default Admin' },
        { username: 'alice', email: 'alice@example.com', passwordHash: independentBcrypt('alice-password', 10), fullName: 'Alice' },
        { username: 'gs-bob', gpustackUserId: 7, fullName: 'Bob' },
      ],
      sessions: [
        { userId: 1, expiresAt: appTimestamp(new Date(now - 5 * 60_000)) },
        { userId: 1, expiresAt: provider === 'sqlite' ? isoTimestamp(new Date(now + 5 * 60_000)) : appTimestamp(new Date(now + 5 * 60_000)), tokenType: 'refresh' },
        { userId: 2, expiresAt: appTimestamp(new Date(now + 30 * 60_000)) },
      ],
      prefs: [{ userId: 2, key: 'theme', value: 'dark' }],
    });
    return db;
  }

  it('an empty database: doctor and migrate point at init-db, since migrate alone leaves the app to seed admin/admin', async () => {
    const db = await newDb();
    if (provider === 'sqlite') fs.writeFileSync(db.url.replace(/^sqlite:\/\/\//, ''), '', { mode: 0o600 });
    const doctor = await cli(db, ['doctor', '--json']);
    expect(doctor.code, doctor.stderr).toBe(8);
    const migrations = JSON.parse(doctor.stdout).checks.find((c: { id: string }) => c.id === 'migrations');
    expect(migrations).toMatchObject({ status: 'fail', hint: 'Run `authctl init-db`: it creates the tables and the first admin.' });
    const dry = await cli(db, ['migrate', '--dry-run', '--json']);
    expect(JSON.parse(dry.stdout)).toMatchObject({ dryRun: true, noUsers: true });
    const r = await cli(db, ['migrate']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/warning: The database has no users: the app seeds admin\/admin, an active admin, at its next start\. Run `authctl init-db` now to create the first admin\./);
    expect((await cli(db, ['init-db', '--generate-password', '-q'], { env: FAST })).code).toBe(0);
    const after = await cli(db, ['migrate', '--json']);
    expect(JSON.parse(after.stdout)).toMatchObject({ noUsers: false });
    expect(after.stderr).not.toMatch(/warning/);
  });

  it('init-db creates a database that does not exist yet, then reports it up to date', async () => {
    const db = await newDb();
    const url = provider === 'sqlite' ? db.url : db.url.replace(/\/([^/]+)$/, '/$1_created');
    const r = await runCli(['init-db', '--generate-password', '--json'], { cwd: db.cwd, env: { ...FAST, DATABASE_URL: url } });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ status: 'initialised', created: true, admin: 'admin' });
    const status = await runCli(['migrate', 'status', '--json'], { cwd: db.cwd, env: { DATABASE_URL: url } });
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ upToDate: true, drift: [] });
  });

  it('adopts an app-made database: status 8, a dry run that changes nothing, every row kept, then up to date', async () => {
    const db = await appMadeDb();
    const before = await appRows(db);

    const status = await cli(db, ['migrate', 'status']);
    expect(status.code).toBe(8);
    expect(status.stdout).toMatch(/created by the app/);

    const dry = await cli(db, ['migrate', '--dry-run', '--json']);
    expect(dry.code, dry.stderr).toBe(0);
    const plan = JSON.parse(dry.stdout);
    expect(plan).toMatchObject({ dryRun: true, adopt: true });
    expect(plan.apply).toContain('20261126000100_authctl_audit');
    expect(plan.apply).toContain('20261130000000_authctl_checked_hashes');
    expect(await tableNames(db)).not.toContain('_prisma_migrations');

    const r = await cli(db, ['migrate']);
    expect(r.code, r.stderr).toBe(0);
    expect(await appRows(db)).toBe(before);
    const applied = (await db.query<{ migration_name: string }>('SELECT migration_name FROM _prisma_migrations ORDER BY migration_name')).map((m) => m.migration_name);
    expect(applied[0]).toBe('20261126000000_app_baseline');
    expect(applied).toEqual([...plan.apply, '20261126000000_app_baseline'].sort());
    expect(await db.query('SELECT command FROM authctl_audit')).toEqual([{ command: 'migrate' }]);

    expect((await cli(db, ['migrate', 'status'])).code).toBe(0);
    const again = await cli(db, ['migrate']);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/Nothing to do/);
    expect(await db.query('SELECT count(*) AS n FROM authctl_audit')).toEqual([{ n: 1 }]);
  });

  if (provider === 'sqlite') {
    it('makes its backup 0600 from the start, never through a link planted at its predictable name', async () => {
      const db = await appMadeDb();
      const file = db.url.replace(/^sqlite:\/\/\//, '');
      const elsewhere = tempDir();
      // The backup is named after the second it is taken: links for the next half minute, and one at a -journal.
      for (let s = 0; s < 30; s++) {
        const stamp = new Date(Date.now() + s * 1000).toISOString().replace(/[-:]/g, '').replace(/\..*$/, '').replace('T', '-');
        fs.symlinkSync(path.join(elsewhere, `planted-${stamp}`), `${file}.bak-${stamp}`);
        fs.symlinkSync(path.join(elsewhere, `journal-${stamp}`), `${file}.bak-${stamp}-1-journal`);
      }
      const r = await cli(db, ['migrate', '--json']);
      expect(r.code, r.stderr).toBe(0);
      const { backup } = JSON.parse(r.stdout);
      expect(backup).toMatch(/\.bak-\d{8}-\d{6}-2$/);
      expect(fs.lstatSync(backup).isFile()).toBe(true);
      expect(fs.statSync(backup).mode & 0o777).toBe(0o600);
      expect(fs.readdirSync(elsewhere)).toEqual([]);
    });

    it.skipIf(!CAN_MOUNT)('a backup the disk cannot hold is removed: exit 5, and no empty .bak file is left to be taken for one', async () => {
      const source = await appMadeDb();
      const disk = smallDisk(512);
      expect(disk, 'mount a tmpfs').not.toBeNull();
      const file = path.join(disk!, 'gpustack_ui.db');
      fs.copyFileSync(source.url.replace(/^sqlite:\/\/\//, ''), file);
      // Less room left than the database takes, so its copy cannot be made.
      const free = () => Number(spawnSync('df', ['--output=avail', '-B1', disk!], { encoding: 'utf8' }).stdout.split('\n')[1]);
      fs.writeFileSync(path.join(disk!, 'filler'), Buffer.alloc(Math.max(0, free() - fs.statSync(file).size / 2)));
      const before = fs.readdirSync(disk!).sort();
      const r = await runCli(['--json', 'migrate'], { cwd: disk!, env: { DATABASE_URL: `sqlite:///${file}` } });
      expect(r.code, r.stderr).toBe(5);
      expect(fs.readdirSync(disk!).sort()).toEqual(before);
    });
  }

  it('after adoption the app can store its 280-character JWTs', async () => {
    const db = await appMadeDb();
    expect((await cli(db, ['migrate'])).code).toBe(0);
    const token = `eyJ${randomBytes(210).toString('base64url')}`.slice(0, 280);
    expect(token).toHaveLength(280);
    const at = appTimestamp(new Date(Date.now() + 60_000));
    await db.query(
      'INSERT INTO user_sessions (user_id, session_token, jti, token_type, expires_at, created_at, last_accessed) VALUES (2, ?, ?, ?, ?, ?, ?)',
      token, 'long-jti', 'access', at, at, at,
    );
    expect(await db.query("SELECT length(session_token) AS n FROM user_sessions WHERE jti = 'long-jti'")).toEqual([{ n: 280 }]);
  });

  it('init-db on an app-made database with an admin changes nothing and points at migrate', async () => {
    const db = await appMadeDb();
    const before = await appRows(db);
    const r = await cli(db, ['init-db', '--password-stdin'], { input: 'a perfectly fine password' });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/authctl migrate/);
    expect(await appRows(db)).toBe(before);
    expect(await tableNames(db)).not.toContain('_prisma_migrations');
  });

  it('refuses unknown tables or a different shape with exit 5 and changes nothing', async () => {
    const other = await newDb();
    await other.exec('CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)');
    const a = await cli(other, ['migrate']);
    expect(a.code).toBe(5);
    expect(a.stderr).toMatch(/not the GPUStack UI app's schema/);
    expect(hasStackTrace(a.stderr)).toBe(false);
    expect(await tableNames(other)).toEqual(['notes']);

    const db = await appMadeDb();
    await db.exec('DROP INDEX idx_email_active');
    const tablesBefore = await tableNames(db);
    const b = await cli(db, ['migrate']);
    expect(b.code).toBe(5);
    expect(b.stderr).toMatch(/idx_email_active/);
    // migrate status gives the same reason, and does not send the operator to the migrate that refuses.
    const status = await cli(db, ['migrate', 'status']);
    expect(status.code).toBe(8);
    expect(status.stdout).toMatch(/drift +.*idx_email_active/);
    expect(status.stderr).toMatch(/not the GPUStack UI app's schema .*`authctl migrate` would refuse it/);
    expect(status.stderr).not.toMatch(/Run `authctl migrate`/);
    expect(await tableNames(db)).toEqual(tablesBefore);
    if (provider === 'sqlite') expect(fs.readdirSync(db.cwd).filter((f) => f.includes('.bak-'))).toEqual([]);
  });

  it('reports drift (exit 8) and refuses a diverged history (exit 4)', async () => {
    const db = await newDb();
    expect((await cli(db, ['init-db', '--generate-password'], { env: FAST })).code).toBe(0);
    await db.exec('DROP INDEX idx_expires_at');
    const s = await cli(db, ['migrate', 'status', '--json']);
    expect(s.code).toBe(8);
    expect(JSON.parse(s.stdout).drift.join('\n')).toMatch(/idx_expires_at/);

    await db.query(
      "INSERT INTO _prisma_migrations (id, checksum, migration_name, started_at, finished_at, applied_steps_count) VALUES ('x', 'abc', '29990101000000_from_the_future', ?, ?, 1)",
      '2999-01-01 00:00:00', '2999-01-01 00:00:00',
    );
    const m = await cli(db, ['migrate']);
    expect(m.code).toBe(4);
    expect(m.stderr).toMatch(/diverged/);
  });

  it('a second migrate waits briefly, then exits 75 while another holds the lock', async () => {
    const db = await newDb();
    expect((await cli(db, ['init-db', '--generate-password'], { env: FAST })).code).toBe(0);
    let release: () => Promise<void>;
    if (provider === 'sqlite') {
      const holder = new Database(`${db.url.replace('sqlite:///', '')}.authctl-migrate.lock`);
      holder.exec('BEGIN EXCLUSIVE');
      release = async () => {
        holder.exec('ROLLBACK');
        holder.close();
      };
    } else {
      const holder = new pg.Client({ connectionString: db.url });
      await holder.connect();
      await holder.query("SELECT pg_advisory_lock(1635087464, hashtext('migrate'))");
      release = () => holder.end();
    }
    try {
      const r = await cli(db, ['migrate']);
      expect(r.code).toBe(75);
      expect(r.stderr).toMatch(/Another authctl migrate is running/);
    } finally {
      await release();
    }
    expect((await cli(db, ['migrate'])).code).toBe(0);
  });
});

describe('PostgreSQL connections', () => {
  it('exits 5 naming host, port and database, never the password', async () => {
    const r = await runCli(['user', 'list', '-d', 'postgresql+asyncpg://gpustack:hunter2secret@127.0.0.1:1/gpustack_ui'], { cwd: tempDir() });
    expect(r.code).toBe(5);
    expect(r.stderr).toMatch(/127\.0\.0\.1:1, database "gpustack_ui"/);
    expect(r.stderr).not.toContain('hunter2secret');
    expect(r.stderr).toContain('gpustack:***@');
    expect(hasStackTrace(r.stderr)).toBe(false);
  });
});
