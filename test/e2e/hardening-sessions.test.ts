import { randomBytes } from 'node:crypto';
import Database from 'better-sqlite3';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { hasStackTrace, type CliResult } from '../support/cli.js';
import { appTimestamp, cli, describeProviders, fakeJwt, fillAppDatabase, newSqliteDb, type TestDb } from '../support/db.js';
import { countSessions, startPurge, untilDeleting } from '../support/sessions.js';

const MIN = 60_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const sqliteFile = (db: TestDb) => db.url.slice('sqlite:///'.length);

function purgeAudit(db: TestDb): Promise<Array<{ summary: string; details: string | null }>> {
  return db.query('SELECT summary, details FROM authctl_audit WHERE command = ? ORDER BY id', 'sessions purge');
}

/** An adopted app database with `rows` sessions that all expired an hour ago, ids in insertion order. */
async function expiredTable(db: TestDb, rows: number): Promise<void> {
  await fillAppDatabase(db, { users: [{ username: 'admin', isAdmin: true }] });
  const past = appTimestamp(new Date(Date.now() - 60 * MIN));
  if (db.provider === 'sqlite') {
    const file = new Database(sqliteFile(db));
    const insert = file.prepare(
      "INSERT INTO user_sessions (user_id, session_token, jti, token_type, expires_at, created_at, last_accessed) VALUES (1, ?, ?, 'access', ?, ?, ?)",
    );
    file.transaction(() => {
      for (let i = 0; i < rows; i++) insert.run(randomBytes(32).toString('hex'), randomBytes(16).toString('hex'), past, past, past);
    })();
    file.close();
  } else {
    await db.query(
      `INSERT INTO user_sessions (user_id, session_token, jti, token_type, expires_at, created_at, last_accessed)
       SELECT 1, md5(random()::text || g) || md5(g || random()::text), md5(random()::text || g || 'jti'), 'access', ?, ?, ?
         FROM generate_series(1, ?::int) g ORDER BY g`,
      past, past, past, rows,
    );
  }
  const m = await cli(db, ['migrate', '-q']);
  expect(m.code, m.stderr).toBe(0);
}

describeProviders('sessions purge stopped by another writer', ({ provider, newDb }) => {
  const ROWS = 5000;

  /**
   * Starts a purge in small batches and, once it has deleted some rows,
   * blocks it with another writer: on SQLite a transaction holding the
   * write lock (BEGIN IMMEDIATE) for longer than the purge waits for it; on
   * PostgreSQL a row lock on the last session, which the purge reaches last.
   */
  async function blockedPurge(db: TestDb, args: string[]): Promise<CliResult> {
    if (provider === 'sqlite') {
      const run = startPurge(db, ['--batch-size', '100', '--max-lock', '5', ...args]);
      await untilDeleting(db, ROWS);
      const holder = new Database(sqliteFile(db), { timeout: 10_000 });
      try {
        holder.exec('BEGIN IMMEDIATE');
        // Longer than the purge's 5 s wait for the lock, shorter than that
        // plus its second 5 s wait to write the audit row.
        await sleep(7000);
        holder.exec('ROLLBACK');
      } finally {
        holder.close();
      }
      return run.done;
    }
    const app = new pg.Client({ connectionString: db.url });
    await app.connect();
    try {
      await app.query('BEGIN');
      await app.query('SELECT id FROM user_sessions WHERE id = (SELECT max(id) FROM user_sessions) FOR UPDATE');
      return await startPurge(db, ['--batch-size', '100', ...args]).done;
    } finally {
      await app.query('ROLLBACK').catch(() => {});
      await app.end();
    }
  }

  it('exits 5 with its JSON summary on stdout and an audit row counting what it deleted', async () => {
    const db = await newDb();
    await expiredTable(db, ROWS);
    const r = await blockedPurge(db, ['--json']);
    expect(r.code, r.stderr).toBe(5);
    expect(hasStackTrace(r.stderr)).toBe(false);
    expect(JSON.parse(r.stderr)).toMatchObject({ error: { code: 'DATABASE_LOCKED', exitCode: 5 } });
    const summary = JSON.parse(r.stdout);
    expect(summary).toMatchObject({ interrupted: false, audited: true, error: { code: 'DATABASE_LOCKED', exitCode: 5 } });
    expect(summary.deleted).toBeGreaterThan(0);
    expect(summary.deleted).toBeLessThan(ROWS);
    expect(summary.batches).toBeGreaterThan(0);
    expect(typeof summary.ms).toBe('number');
    const left = await countSessions(db);
    expect(left).toBe(ROWS - summary.deleted);
    expect(summary.remaining).toBe(left);
    if (provider === 'postgresql') expect(summary.deleted).toBe(ROWS - 100);
    const audit = await purgeAudit(db);
    expect(audit).toHaveLength(1);
    expect(audit[0]!.summary).toMatch(/stopped by DATABASE_LOCKED/);
    expect(JSON.parse(audit[0]!.details!)).toMatchObject({ deleted: summary.deleted, remaining: left, error: 'DATABASE_LOCKED' });
    // Nothing was left half done: the next run finishes the job.
    const next = await cli(db, ['sessions', 'purge', '--json']);
    expect(next.code, next.stderr).toBe(0);
    expect(JSON.parse(next.stdout)).toMatchObject({ deleted: left, remaining: 0 });
  }, 120_000);

  it('prints its one-line summary in human mode, then the error', async () => {
    const db = await newDb();
    await expiredTable(db, ROWS);
    const r = await blockedPurge(db, []);
    expect(r.code, r.stderr).toBe(5);
    const line = /^Purged (\d+) expired session\(s\) in \d+ batch\(es\), [\d.]+ s; (\d+) expired remain\.$/m.exec(r.stdout);
    expect(line, r.stdout).not.toBeNull();
    const deleted = Number(line![1]);
    expect(deleted).toBeGreaterThan(0);
    expect(Number(line![2])).toBe(ROWS - deleted);
    expect(r.stderr).toMatch(/error: .*locked.*stopped after deleting \d+ expired session\(s\); those deletions are committed/i);
    expect(hasStackTrace(r.stderr)).toBe(false);
    const audit = await purgeAudit(db);
    expect(audit).toHaveLength(1);
    expect(JSON.parse(audit[0]!.details!)).toMatchObject({ deleted });
  }, 120_000);
});

describeProviders('sessions purge --grace bounds', ({ newDb }) => {
  it('refuses a grace period beyond 3650d with exit 2, naming the range, and changes nothing', async () => {
    const db = await newDb();
    await expiredTable(db, 10);
    for (const grace of ['99999999999999999999h', '100000001d', '3651d', '87601h']) {
      for (const extra of [[], ['--dry-run'], ['--json']]) {
        const r = await cli(db, ['sessions', 'purge', '--grace', grace, ...extra]);
        expect(r.code, `${grace} ${extra.join(' ')}: ${r.stderr}`).toBe(2);
        expect(r.stderr).toMatch(/3650d/);
        expect(r.stderr).not.toMatch(/Invalid date|This is a bug/i);
        expect(hasStackTrace(r.stderr)).toBe(false);
      }
    }
    expect(await countSessions(db)).toBe(10);
    expect(await purgeAudit(db)).toHaveLength(0);
    const max = await cli(db, ['sessions', 'purge', '--grace', '3650d', '--dry-run', '--json']);
    expect(max.code, max.stderr).toBe(0);
    const { cutoff } = JSON.parse(max.stdout);
    expect(Date.now() - Date.parse(cutoff)).toBeGreaterThan(3649 * 86_400_000);
  }, 120_000);
});

/** Runs the CLI and times it. */
async function runUtf8(db: TestDb, args: string[]): Promise<CliResult & { ms: number }> {
  const started = performance.now();
  const r = await cli(db, args, { timeoutMs: 60_000 });
  return { ...r, ms: performance.now() - started };
}


describe('sessions list on a long table [sqlite]', () => {
  it('draws 20,000 rows as a table within 3x the --json time, every line the same width (the old renderer was killed at 60 s)', async () => {
    const db = newSqliteDb();
    const file = sqliteFile(db);
    const ROWS = 20_000;
    await fillAppDatabase(db, { users: [{ username: 'admin', isAdmin: true }, { username: 'ユーザー' }] });
    const m = await cli(db, ['migrate', '-q']);
    expect(m.code, m.stderr).toBe(0);
    const d = new Database(file);
    const insert = d.prepare(
      'INSERT INTO user_sessions (user_id, session_token, jti, token_type, expires_at, created_at, last_accessed, ip_address, user_agent) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
    );
    const now = Date.now();
    d.transaction(() => {
      for (let i = 0; i < ROWS; i++) {
        insert.run(1 + (i % 2), randomBytes(32).toString('hex'), randomBytes(16).toString('hex'), i % 3 ? 'access' : 'refresh',
          appTimestamp(new Date(now + 3_600_000 + i * 1000)), appTimestamp(new Date(now - i * 1000)), appTimestamp(new Date(now)),
          '10.1.2.3', 'Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0');
      }
    })();
    d.close();
    const timed = async (args: string[]) => {
      const r = await runUtf8(db, args);
      return { r, ms: r.ms };
    };
    const json = await timed(['--json', 'sessions', 'list', '--limit', String(ROWS)]);
    expect(json.r.code, json.r.stderr).toBe(0);
    expect(JSON.parse(json.r.stdout).sessions).toHaveLength(ROWS);
    const table = await timed(['sessions', 'list', '--limit', String(ROWS)]);
    expect(table.r.code, table.r.stderr).toBe(0);
    const lines = table.r.stdout.trimEnd().split('\n');
    // A header and a line per row: no borders, no rules between rows.
    expect(lines).toHaveLength(1 + ROWS);
    // Columns aligned: every row's "type" cell starts at the header's, wide characters counted twice.
    const width = (s: string) => [...s].reduce((w, ch) => w + (/[\u3000-\u30ff]/.test(ch) ? 2 : 1), 0);
    const typeAt = (line: string) => width(line.slice(0, line.search(/ (access|refresh|type) /) + 1));
    expect(new Set(lines.map(typeAt))).toEqual(new Set([typeAt(lines[0]!)]));
    expect(table.r.stdout).toContain('ユーザー');
    expect(table.ms, `table ${Math.round(table.ms)} ms, json ${Math.round(json.ms)} ms`).toBeLessThan(3 * json.ms + 1000);
  }, 180_000);
});

/**
 * SQLite rows whose expires_at is written with every offset form SQLite's
 * date functions read, minutes on both sides of now, plus two in no
 * timestamp form at all. Text comparison gets the offset forms wrong: a
 * row at now+3m written as `-05:00` text sorts five hours earlier.
 */
describe('session timestamps with a UTC offset [sqlite]', () => {
  const newDb = async () => newSqliteDb();

  const pad = (n: number) => String(n).padStart(2, '0');
  /** The instant written as local time at `offsetMin` from UTC, with that offset. */
  function withOffset(at: Date, offsetMin: number, fraction: boolean): string {
    const local = new Date(at.getTime() + offsetMin * MIN);
    const iso = local.toISOString();
    const zone = offsetMin === 0 ? 'Z' : `${offsetMin < 0 ? '-' : '+'}${pad(Math.floor(Math.abs(offsetMin) / 60))}:${pad(Math.abs(offsetMin) % 60)}`;
    return `${iso.slice(0, fraction ? 23 : 19)}${fraction ? '456' : ''}${zone}`;
  }

  const FORMS: Array<{ name: string; write: (at: Date) => string | number }> = [
    { name: 'app', write: (at) => appTimestamp(at) },
    { name: 'prisma', write: (at) => at.toISOString().replace('Z', '+00:00') },
    { name: 'Z', write: (at) => withOffset(at, 0, false) },
    { name: 'Z.frac', write: (at) => withOffset(at, 0, true) },
    { name: '-05:00', write: (at) => withOffset(at, -300, false) },
    { name: '-05:00.frac', write: (at) => withOffset(at, -300, true) },
    { name: '+02:00', write: (at) => withOffset(at, 120, false) },
    { name: '+05:30.frac', write: (at) => withOffset(at, 330, true) },
    { name: '+14:00', write: (at) => withOffset(at, 840, false) },
  ];
  const OFFSETS_MIN = [-3, 3];
  const UNKNOWN: Array<string | number> = [1764000000, 'garbage', '2026-11-30T07:56:45+0200'];

  interface Fixture {
    db: TestDb;
    past: number[];
    future: number[];
    unknown: number[];
  }

  async function fixture(): Promise<Fixture> {
    const db = await newDb();
    await fillAppDatabase(db, { users: [{ username: 'admin', isAdmin: true, passwordHash: null }, { username: 'alice' }] });
    const m = await cli(db, ['migrate', '-q']);
    expect(m.code, m.stderr).toBe(0);
    const f: Fixture = { db, past: [], future: [], unknown: [] };
    const file = new Database(sqliteFile(db));
    const insert = file.prepare(
      "INSERT INTO user_sessions (user_id, session_token, jti, token_type, expires_at, created_at, last_accessed, ip_address, user_agent) VALUES (2, ?, ?, 'access', ?, ?, ?, '10.1.2.3', 'Mozilla/5.0 Firefox/121.0')",
    );
    const now = Date.now();
    const created = appTimestamp(new Date(now - 60 * MIN));
    for (const form of FORMS) {
      for (const offset of OFFSETS_MIN) {
        const id = Number(insert.run(fakeJwt(), randomBytes(16).toString('hex'), form.write(new Date(now + offset * MIN)), created, created).lastInsertRowid);
        (offset < 0 ? f.past : f.future).push(id);
      }
    }
    for (const value of UNKNOWN) {
      f.unknown.push(Number(insert.run(fakeJwt(), randomBytes(16).toString('hex'), value, created, created).lastInsertRowid));
    }
    file.close();
    return f;
  }

  const ids = (sessions: Array<{ id: number }>) => sessions.map((s) => s.id).sort((a, b) => a - b);

  it('lists active, expired and all sessions by instant, and shows unknown expiries without failing', async () => {
    const f = await fixture();
    const active = await cli(f.db, ['--json', 'sessions', 'list', '--limit', '1000']);
    expect(active.code, active.stderr).toBe(0);
    const a = JSON.parse(active.stdout);
    expect(ids(a.sessions)).toEqual(f.future);
    expect(a.sessions.every((s: { expired: boolean }) => s.expired === false)).toBe(true);
    expect(a.unknownExpiry).toBe(UNKNOWN.length);

    const expired = await cli(f.db, ['--json', 'sessions', 'list', '--expired', '--limit', '1000']);
    expect(expired.code, expired.stderr).toBe(0);
    const e = JSON.parse(expired.stdout);
    expect(ids(e.sessions)).toEqual(f.past);
    expect(e.sessions.every((s: { expired: boolean }) => s.expired === true)).toBe(true);

    const all = await cli(f.db, ['--json', 'sessions', 'list', '--all', '--limit', '1000']);
    expect(all.code, all.stderr).toBe(0);
    const every = JSON.parse(all.stdout).sessions as Array<{ id: number; expired: boolean | null; expiresAt: string }>;
    expect(ids(every)).toEqual([...f.past, ...f.future, ...f.unknown].sort((x, y) => x - y));
    const unknown = every.filter((s) => f.unknown.includes(s.id));
    expect(unknown.map((s) => s.expired)).toEqual(UNKNOWN.map(() => null));
    expect(unknown.map((s) => s.expiresAt).sort()).toEqual(UNKNOWN.map(String).sort());

    const human = await cli(f.db, ['sessions', 'list', '--all']);
    expect(human.code, human.stderr).toBe(0);
    expect(hasStackTrace(human.stderr)).toBe(false);
    expect(human.stdout).toContain('1764000000 (unknown form)');
    expect(human.stdout).toContain('garbage (unknown form)');
    const byDefault = await cli(f.db, ['sessions', 'list']);
    expect(byDefault.code, byDefault.stderr).toBe(0);
    expect(byDefault.stdout).toMatch(new RegExp(`${UNKNOWN.length} session\\(s\\) have an expiry stored in a form authctl cannot read`));

    // Revoking lists what it removes: an unreadable expiry must not stop it.
    const revoke = await cli(f.db, ['sessions', 'revoke', '--user', 'alice', '--dry-run']);
    expect(revoke.code, revoke.stderr).toBe(0);
    expect(revoke.stdout).toContain('garbage (unknown form)');
  }, 120_000);

  it('stats and doctor count by instant and report unknown expiries', async () => {
    const f = await fixture();
    const stats = await cli(f.db, ['--json', 'sessions', 'stats']);
    expect(stats.code, stats.stderr).toBe(0);
    const s = JSON.parse(stats.stdout);
    expect(s.totals).toMatchObject({ active: f.future.length, expired: f.past.length });
    expect(s.unknownExpiry).toBe(UNKNOWN.length);
    expect(s.backlog.expired).toBe(f.past.length);
    // The oldest expired row expired about three minutes ago, whichever form holds it.
    const age = Date.now() - Date.parse(s.backlog.oldestExpiredAt);
    expect(age).toBeGreaterThan(2.5 * MIN);
    expect(age).toBeLessThan(4 * MIN);
    const human = await cli(f.db, ['sessions', 'stats']);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toMatch(/unknown expiry\s+3 row\(s\)/);

    const doctor = await cli(f.db, ['--json', 'doctor']);
    expect([0, 8]).toContain(doctor.code);
    const checks = JSON.parse(doctor.stdout).checks as Array<{ id: string; status: string; detail: string }>;
    expect(checks.find((c) => c.id === 'session-expiry-forms')).toMatchObject({ status: 'warn', detail: expect.stringMatching(/^3 session\(s\)/) });
    expect(checks.find((c) => c.id === 'expired-sessions')).toMatchObject({ detail: `${f.past.length} expired session(s)` });
  }, 120_000);

  it('purges exactly the sessions that expired, in every offset form, and skips unknown ones', async () => {
    const f = await fixture();
    const dry = await cli(f.db, ['--json', 'sessions', 'purge', '--dry-run']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(JSON.parse(dry.stdout)).toMatchObject({ wouldDelete: f.past.length, skipped: UNKNOWN.length });
    const r = await cli(f.db, ['--json', 'sessions', 'purge']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ deleted: f.past.length, remaining: 0, skipped: UNKNOWN.length });
    const left = (await f.db.query<{ id: number }>('SELECT id FROM user_sessions ORDER BY id')).map((x) => Number(x.id));
    expect(left).toEqual([...f.future, ...f.unknown].sort((x, y) => x - y));
    const audit = await purgeAudit(f.db);
    expect(JSON.parse(audit[0]!.details!)).toMatchObject({ deleted: f.past.length, skipped: UNKNOWN.length });
    const human = await cli(f.db, ['sessions', 'purge']);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stderr).toMatch(/3 session\(s\) with an expires_at in no timestamp form/);
  }, 120_000);
});

/**
 * Whatever odd value a row's expires_at holds, `list --all` calls it expired,
 * active or unknown exactly as `list --expired`, `list`, `stats`, `purge`,
 * `user list`, `user show` and `doctor` count it. SQLite stores any value;
 * PostgreSQL stores real timestamps, of which infinity, -infinity, BC dates
 * and years past 9999 are in no form authctl reads (it shows them marked
 * unknown), so they are neither active nor expired there either.
 */
describeProviders('every listing, stats and purge agree on each expiry', ({ provider, newDb }) => {
  const past = (ms: number) => new Date(Date.now() - ms);
  const future = (ms: number) => new Date(Date.now() + ms);
  /** Values and what they must be counted as. */
  const VALUES: Array<{ value: unknown; state: 'expired' | 'active' | 'unknown' }> = provider === 'sqlite'
    ? [
        { value: appTimestamp(past(60 * MIN)), state: 'expired' },
        { value: appTimestamp(future(60 * MIN)), state: 'active' },
        { value: past(60 * MIN).toISOString().slice(0, 10), state: 'expired' },
        { value: future(3 * 86_400_000).toISOString().slice(0, 16).replace('T', ' '), state: 'active' },
        { value: `${past(2 * MIN).toISOString().slice(0, 19)}.123456789-00:00`, state: 'expired' },
        { value: ' 2020-01-01 00:00:00', state: 'unknown' },
        { value: '2020-01-01 00:00:00 ', state: 'unknown' },
        { value: '2020-01-01t00:00:00', state: 'unknown' },
        { value: '2020-01-01T00:00:00z', state: 'unknown' },
        { value: Buffer.from('2020-01-01 00:00:00'), state: 'unknown' },
        { value: 1577836800, state: 'unknown' },
        { value: 2458849.5, state: 'unknown' },
        { value: '', state: 'unknown' },
        { value: '2020-13-01 00:00:00', state: 'unknown' },
        { value: '2020-02-30 00:00:00', state: 'unknown' },
        { value: 'now', state: 'unknown' },
        { value: '2020-01-01T00:00:00+0100', state: 'unknown' },
        { value: '2020-01-01 00:00:00 +01:00', state: 'unknown' },
        { value: '2020-01-01  00:00:00', state: 'unknown' },
        { value: '2020-01-01T', state: 'unknown' },
        { value: '2020-01-01\u00002020', state: 'unknown' },
      ]
    : [
        { value: appTimestamp(past(60 * MIN)), state: 'expired' },
        { value: appTimestamp(future(60 * MIN)), state: 'active' },
        { value: '0001-01-01 00:00:00', state: 'expired' },
        { value: '9999-12-31 23:59:59.999', state: 'active' },
        { value: 'infinity', state: 'unknown' },
        { value: '-infinity', state: 'unknown' },
        { value: '10000-01-01 00:00:00', state: 'unknown' },
        { value: '0044-03-15 00:00:00 BC', state: 'unknown' },
      ];

  async function fixture(): Promise<{ db: TestDb; ids: Map<number, (typeof VALUES)[number]> }> {
    const db = await newDb();
    await fillAppDatabase(db, { users: [{ username: 'admin', isAdmin: true }] });
    expect((await cli(db, ['migrate', '-q'])).code).toBe(0);
    const ids = new Map<number, (typeof VALUES)[number]>();
    const created = appTimestamp(past(90 * MIN));
    if (provider === 'sqlite') {
      const file = new Database(sqliteFile(db));
      const insert = file.prepare(
        "INSERT INTO user_sessions (user_id, session_token, jti, token_type, expires_at, created_at, last_accessed) VALUES (1, ?, ?, 'access', ?, ?, ?)",
      );
      for (const v of VALUES) ids.set(Number(insert.run(fakeJwt(), randomBytes(16).toString('hex'), v.value, created, created).lastInsertRowid), v);
      file.close();
    } else {
      for (const v of VALUES) {
        const [row] = await db.query<{ id: number }>(
          "INSERT INTO user_sessions (user_id, session_token, jti, token_type, expires_at, created_at, last_accessed) VALUES (1, ?, ?, 'access', ?, ?, ?) RETURNING id",
          fakeJwt(), randomBytes(16).toString('hex'), v.value, created, created,
        );
        ids.set(Number(row!.id), v);
      }
    }
    return { db, ids };
  }

  it('list --all, list, list --expired, stats and purge count each row alike', async () => {
    const { db, ids } = await fixture();
    const want = (state: string) => [...ids].filter(([, v]) => v.state === state).map(([id]) => id).sort((a, b) => a - b);
    const listed = async (...args: string[]) => {
      const r = await cli(db, ['--json', 'sessions', 'list', '--limit', '1000', ...args]);
      expect(r.code, r.stderr).toBe(0);
      return JSON.parse(r.stdout) as { sessions: Array<{ id: number; expired: boolean | null; expiresAt: string }>; unknownExpiry: number };
    };
    const sorted = (sessions: Array<{ id: number }>) => sessions.map((s) => s.id).sort((a, b) => a - b);

    const all = await listed('--all');
    const by = (flag: boolean | null) => sorted(all.sessions.filter((s) => s.expired === flag));
    expect({ expired: by(true), active: by(false), unknown: by(null) }).toEqual({ expired: want('expired'), active: want('active'), unknown: want('unknown') });
    expect(sorted((await listed('--expired')).sessions)).toEqual(want('expired'));
    const active = await listed();
    expect(sorted(active.sessions)).toEqual(want('active'));
    expect(active.unknownExpiry).toBe(want('unknown').length);

    const human = await cli(db, ['sessions', 'list', '--all']);
    expect(human.code, human.stderr).toBe(0);
    if (provider === 'sqlite') {
      expect(human.stdout).toContain(' 2020-01-01 00:00:00 (unknown form)');
      expect(human.stdout).toContain('2020-01-01t00:00:00 (unknown form)');
      expect(human.stdout).not.toMatch(/\d{4}d ago/);
    }

    const stats = await cli(db, ['--json', 'sessions', 'stats']);
    expect(stats.code, stats.stderr).toBe(0);
    expect(JSON.parse(stats.stdout)).toMatchObject({
      totals: { active: want('active').length, expired: want('expired').length },
      unknownExpiry: want('unknown').length,
    });

    // Every row is admin's: the user views count the same active sessions.
    const users = await cli(db, ['--json', 'user', 'list']);
    expect(users.code, users.stderr).toBe(0);
    expect(JSON.parse(users.stdout).users.find((u: { username: string }) => u.username === 'admin').activeSessions).toBe(want('active').length);
    const show = await cli(db, ['--json', 'user', 'show', 'admin']);
    expect(show.code, show.stderr).toBe(0);
    expect(JSON.parse(show.stdout).user.sessions).toMatchObject({
      active: want('active').length,
      expired: want('expired').length,
      unknownExpiry: want('unknown').length,
    });
    const doctor = await cli(db, ['--json', 'doctor']);
    const expiryCheck = (JSON.parse(doctor.stdout).checks as Array<{ id: string; status: string; detail: string }>).find((c) => c.id === 'session-expiry-forms')!;
    expect(expiryCheck.status).toBe('warn');
    expect(expiryCheck.detail).toMatch(new RegExp(`^${want('unknown').length} session\\(s\\)`));

    const dry = await cli(db, ['--json', 'sessions', 'purge', '--dry-run']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(JSON.parse(dry.stdout)).toMatchObject({ wouldDelete: want('expired').length, skipped: want('unknown').length });
    const purge = await cli(db, ['--json', 'sessions', 'purge']);
    expect(purge.code, purge.stderr).toBe(0);
    expect(JSON.parse(purge.stdout)).toMatchObject({ deleted: want('expired').length, skipped: want('unknown').length });
    const left = await db.query<{ id: number }>('SELECT id FROM user_sessions ORDER BY id');
    expect(left.map((r) => Number(r.id))).toEqual([...want('active'), ...want('unknown')].sort((a, b) => a - b));
  }, 120_000);
});

describeProviders('sessions revoke with many ids', ({ newDb }) => {
  // Past both SQLite's 32,766 and PostgreSQL's 65,535 parameters in one statement.
  const ROWS = 70_000;

  it('revokes 70,000 named ids in one transaction with one audit row, or none when one is missing', async () => {
    const db = await newDb();
    await expiredTable(db, ROWS);
    const ids = (await db.query<{ id: number }>('SELECT id FROM user_sessions ORDER BY id')).map((r) => String(r.id));
    expect(ids).toHaveLength(ROWS);

    const dry = await cli(db, ['--json', 'sessions', 'revoke', '--dry-run', ...ids]);
    expect(dry.code, dry.stderr).toBe(0);
    expect(JSON.parse(dry.stdout)).toMatchObject({ dryRun: true, revoked: ROWS, more: true });
    const human = await cli(db, ['sessions', 'revoke', '--dry-run', ...ids]);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toContain(`Would revoke ${ROWS} session(s)`);
    expect(human.stdout).toContain(`and ${ROWS - 100} more`);

    // One id that names no session: nothing goes, and the message stays short.
    const missing = await cli(db, ['--json', 'sessions', 'revoke', ...ids, '999999999', '999999998']);
    expect(missing.code, missing.stderr).toBe(3);
    expect(JSON.parse(missing.stderr).error.message).toMatch(/^No session with id 999999999, id 999999998; nothing was revoked\.$/);
    expect(Number((await db.query<{ n: number }>('SELECT count(*) AS n FROM user_sessions'))[0]!.n)).toBe(ROWS);

    const r = await cli(db, ['--json', 'sessions', 'revoke', ...ids]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ dryRun: false, revoked: ROWS });
    expect(Number((await db.query<{ n: number }>('SELECT count(*) AS n FROM user_sessions'))[0]!.n)).toBe(0);
    const audit = await db.query<{ target: string; summary: string; details: string }>(
      'SELECT target, summary, details FROM authctl_audit WHERE command = ? ORDER BY id', 'sessions revoke',
    );
    expect(audit).toHaveLength(1);
    expect(audit[0]!.summary).toBe(`revoked ${ROWS} session(s)`);
    expect(audit[0]!.target).toMatch(new RegExp(`^id 1, id 2, .* and ${ROWS - 20} more$`));
    expect(JSON.parse(audit[0]!.details)).toMatchObject({ revoked: ROWS, more: true });
  }, 180_000);

  it('names at most 20 missing sessions, and counts the rest', async () => {
    const db = await newDb();
    await expiredTable(db, 1);
    const absent = Array.from({ length: 25 }, (_, i) => String(1_000_000 + i));
    const r = await cli(db, ['--json', 'sessions', 'revoke', '1', ...absent]);
    expect(r.code, r.stderr).toBe(3);
    expect(JSON.parse(r.stderr).error.message).toMatch(/^No session with id 1000000, .*id 1000019 and 5 more; nothing was revoked\.$/);
    expect(await countRows(db)).toBe(1);
  }, 60_000);

  async function countRows(db: TestDb): Promise<number> {
    return Number((await db.query<{ n: number }>('SELECT count(*) AS n FROM user_sessions'))[0]!.n);
  }
});
