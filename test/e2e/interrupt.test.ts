import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { expect, it } from 'vitest';
import { startCli, type CliResult } from '../support/cli.js';
import { appTimestamp, cli, describeProviders, fillAppDatabase, independentBcrypt, type TestDb } from '../support/db.js';

/**
 * migrate and init-db stopped at many points of a run, by Ctrl+C, SIGTERM
 * or a kill nothing can catch: the database is left before or after each
 * step, and running the command again finishes the job with every row kept.
 */

const FAST = { AUTHCTL_BCRYPT_ROUNDS: '10' };

/** Starts the real CLI on this database; a run still going after two minutes is killed. */
const start = (db: TestDb, args: string[], input = '') => startCli(args, { cwd: db.cwd, env: { ...db.env, ...FAST }, input, timeoutMs: 120_000 });

/** Starts the real CLI and sends `signal` after `afterMs`. */
async function runAndStop(db: TestDb, args: string[], signal: NodeJS.Signals, afterMs: number, input = ''): Promise<CliResult> {
  const { child, done } = start(db, args, input);
  const timer = setTimeout(() => child.kill(signal), afterMs);
  try {
    return await done;
  } finally {
    clearTimeout(timer);
  }
}

async function appRows(db: TestDb): Promise<string> {
  const out = [];
  for (const t of ['users', 'user_sessions', 'user_preferences', 'conversations', 'messages']) out.push(await db.query(`SELECT * FROM ${t} ORDER BY created_at, id`));
  return JSON.stringify(out);
}

/** How long an uninterrupted run takes here, so the stops spread over the whole of it. */
async function timeRun(run: () => Promise<unknown>): Promise<number> {
  const start = Date.now();
  await run();
  return Date.now() - start;
}

/** `count` stop times spread from the start of a run to just past its end. */
const stopPoints = (runMs: number, count: number) => Array.from({ length: count }, (_, i) => Math.round(((i + 0.5) / count) * runMs * 1.1));

describeProviders('interrupted setup', ({ provider, newDb, cloneDb }) => {
  async function appMadeDb(): Promise<TestDb> {
    const db = await newDb();
    const now = Date.now();
    await fillAppDatabase(db, {
      version: 'v2.5.4',
      users: [
        { username: 'admin', passwordHash: independentBcrypt('admin', 10), isAdmin: true, fullName: 'Default Admin' },
        { username: 'alice', passwordHash: independentBcrypt('alice-password', 10), fullName: 'Alice' },
      ],
      sessions: [{ userId: 2, expiresAt: appTimestamp(new Date(now + 60_000)) }],
      prefs: [{ userId: 2, key: 'theme', value: 'dark' }],
      conversations: [{ userId: 2, title: 'Plans', messages: ['one', 'two'] }],
    });
    return db;
  }

  it('migrate stopped at many points of an adoption: every rerun finishes it, every row kept', async () => {
    const template = await appMadeDb();
    const before = await appRows(template);
    const runMs = await timeRun(async () => {
      const probe = await cloneDb(template);
      expect((await cli(probe, ['migrate'])).code).toBe(0);
    });
    const signals: NodeJS.Signals[] = ['SIGKILL', 'SIGINT', 'SIGTERM'];
    const outcomes: string[] = [];
    for (const [i, at] of stopPoints(runMs, 12).entries()) {
      const db = await cloneDb(template);
      const signal = signals[i % signals.length]!;
      const stopped = await runAndStop(db, ['migrate'], signal, at);
      if (signal === 'SIGKILL') {
        expect(stopped.code === 0 || stopped.signal === 'SIGKILL', stopped.stderr).toBe(true);
      } else {
        // Caught: it finished first, stopped cleanly after a step, or was
        // stopped by the signal's default action before authctl had started.
        expect(stopped.code === 0 || stopped.code === 130 || stopped.signal === signal, stopped.stderr).toBe(true);
        if (stopped.code === 130) expect(stopped.stderr).toMatch(/Cancelled/);
        expect(stopped.stderr).not.toMatch(/\n\s+at /);
      }
      outcomes.push(`${signal}@${at}ms:${stopped.code ?? stopped.signal}`);
      const rerun = await cli(db, ['migrate']);
      expect(rerun.code, `${outcomes.at(-1)} then: ${rerun.stderr}`).toBe(0);
      const status = await cli(db, ['migrate', 'status', '--json']);
      expect(status.code, `${outcomes.at(-1)}: ${status.stdout}`).toBe(0);
      expect(await appRows(db)).toBe(before);
    }
    // The stops really did land inside runs, not only before or after them.
    expect(outcomes.some((o) => /:(SIGKILL|130)$/.test(o)), outcomes.join(' ')).toBe(true);
  }, 300_000);

  // A deterministic stop inside one migration: its ALTER TABLE waits for a
  // lock the test holds, and authctl is killed while it waits.
  if (provider === 'postgresql') it('a kill while a migration waits for a lock leaves no half-recorded migration', async () => {
    const db = await appMadeDb();
    const before = await appRows(db);
    const holder = new pg.Client({ connectionString: db.url });
    // A second session: within the holder's transaction pg_stat_activity is a frozen snapshot.
    const monitor = new pg.Client({ connectionString: db.url });
    await holder.connect();
    await monitor.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('LOCK TABLE user_sessions IN ACCESS SHARE MODE');
      const run = start(db, ['migrate']);
      const database = new URL(db.url).pathname.slice(1);
      let waiting: number[] = [];
      for (let i = 0; i < 600 && waiting.length === 0; i++) {
        await new Promise((r) => setTimeout(r, 100));
        waiting = (
          await monitor.query<{ pid: number }>(
            "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock' AND query ILIKE '%ALTER TABLE%user_sessions%'",
            [database],
          )
        ).rows.map((r) => r.pid);
      }
      expect(waiting.length, 'the migration never reached its ALTER TABLE').toBeGreaterThan(0);
      const history = await monitor.query<{ n: string }>("SELECT count(*) AS n FROM _prisma_migrations WHERE migration_name LIKE '%session_token_text'");
      // Kill authctl, then its server session, before the lock is released.
      run.child.kill('SIGKILL');
      await run.done;
      await monitor.query('SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid', [waiting]);
      expect(Number(history.rows[0]!.n)).toBe(0);
    } finally {
      await holder.query('ROLLBACK').catch(() => {});
      await holder.end();
      await monitor.end();
    }
    expect(await db.query("SELECT count(*) AS n FROM _prisma_migrations WHERE finished_at IS NULL")).toEqual([{ n: 0 }]);
    const rerun = await cli(db, ['migrate']);
    expect(rerun.code, rerun.stderr).toBe(0);
    expect((await cli(db, ['migrate', 'status'])).code).toBe(0);
    expect(await appRows(db)).toBe(before);
  }, 120_000);

  it('a migration left started and unfinished by an older run is settled by what the schema shows', async () => {
    const db = await appMadeDb();
    expect((await cli(db, ['migrate'])).code).toBe(0);
    const before = await appRows(db);
    const last = (await db.query<{ migration_name: string }>('SELECT migration_name FROM _prisma_migrations ORDER BY migration_name DESC LIMIT 1'))[0]!.migration_name;

    // Applied whole, never marked finished.
    await db.exec(`UPDATE _prisma_migrations SET finished_at = NULL WHERE migration_name = '${last}'`);
    const refused = await cli(db, ['user', 'list']);
    expect(refused.code).toBe(5);
    const r = await cli(db, ['migrate']);
    expect(r.code, r.stderr).toBe(0);
    expect((await cli(db, ['migrate', 'status'])).code).toBe(0);

    // Marked started, but its table (the last migration creates authctl_checked_hashes) never made it.
    await db.exec(`UPDATE _prisma_migrations SET finished_at = NULL WHERE migration_name = '${last}'`);
    await db.exec('DROP TABLE authctl_checked_hashes');
    const again = await cli(db, ['migrate']);
    expect(again.code, again.stderr).toBe(0);
    expect((await cli(db, ['migrate', 'status'])).code).toBe(0);
    expect(await appRows(db)).toBe(before);
  });

  if (provider === 'sqlite') it('init-db stopped by Ctrl+C or SIGTERM removes the file it created; after a kill, a rerun completes', async () => {
    const probe = await newDb();
    const runMs = await timeRun(async () => {
      expect((await cli(probe, ['init-db', '--password-stdin'], { input: 'a-long-admin-passphrase\n', env: FAST })).code).toBe(0);
    });
    const outcomes: string[] = [];
    for (const [i, at] of stopPoints(runMs, 9).entries()) {
      const db = await newDb();
      const file = db.url.slice('sqlite:///'.length);
      const signal = (['SIGINT', 'SIGTERM', 'SIGKILL'] as const)[i % 3];
      const stopped = await runAndStop(db, ['init-db', '--password-stdin'], signal, at, 'a-long-admin-passphrase\n');
      outcomes.push(`${signal}@${at}ms:${stopped.code ?? stopped.signal}`);
      if (stopped.code === 130 || (stopped.signal && stopped.signal !== 'SIGKILL')) {
        // Cancelled, or stopped by the signal's default action before authctl had even started.
        if (stopped.code === 130) expect(stopped.stderr).toMatch(/Cancelled/);
        expect(fs.readdirSync(path.dirname(file)), outcomes.at(-1)).toEqual([]);
      } else if (stopped.code !== 0) {
        expect(stopped.signal).toBe('SIGKILL');
      }
      const rerun = await cli(db, ['init-db', '--password-stdin'], { input: 'a-long-admin-passphrase\n', env: FAST });
      expect(rerun.code, `${outcomes.at(-1)} then: ${rerun.stderr}`).toBe(0);
      expect((await cli(db, ['migrate', 'status'])).code, outcomes.at(-1)).toBe(0);
      expect(await db.query("SELECT username, is_admin, is_active FROM users WHERE username = 'admin'")).toEqual([{ username: 'admin', is_admin: 1, is_active: 1 }]);
    }
    expect(outcomes.some((o) => /:(SIGKILL|130)$/.test(o)), outcomes.join(' ')).toBe(true);
  }, 300_000);

  // The server ends authctl's session while authctl computes a bcrypt hash:
  // its next statement finds the connection gone.
  if (provider === 'postgresql') it('a connection the server ends mid-command is exit 5 with what to do, not an internal error', async () => {
    const db = await appMadeDb();
    expect((await cli(db, ['migrate', '-q'])).code).toBe(0);
    const before = await appRows(db);
    const monitor = new pg.Client({ connectionString: db.url });
    await monitor.connect();
    try {
      const run = startCli(['user', 'add', 'carol', '--password-stdin', '--rounds', '15'], {
        cwd: db.cwd, env: { ...db.env }, input: 'a long enough passphrase\n', timeoutMs: 120_000,
      });
      let ended = 0;
      for (let i = 0; i < 300 && ended === 0; i++) {
        await new Promise((r) => setTimeout(r, 20));
        ended = (await monitor.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'authctl' AND pid <> pg_backend_pid()")).rowCount ?? 0;
      }
      expect(ended, 'authctl never connected').toBeGreaterThan(0);
      const r = await run.done;
      expect(r.code, r.stderr).toBe(5);
      expect(r.stderr).toMatch(/error: The (connection to the database server was lost|PostgreSQL server closed or refused the connection)/);
      expect(r.stderr).toMatch(/^hint: /m);
      expect(r.stderr).not.toMatch(/Unexpected error|This is a bug/);
    } finally {
      await monitor.end();
    }
    expect(await appRows(db)).toBe(before);
  }, 120_000);
});
