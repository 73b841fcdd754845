import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import Database from 'better-sqlite3';
import pg from 'pg';
import { beforeEach, describe, expect, it } from 'vitest';
import { hasStackTrace, type CliResult } from '../support/cli.js';
import { runOnPty } from '../support/pty.js';
import { appLogins, type AppSession, appTimestamp, cli, describeProviders, fakeJwt, fillAppDatabase, holdJobLock, insertSession, isoTimestamp, type TestDb, unparseable } from '../support/db.js';
import { countSessions, startPurge, untilDeleting, watchLockTries } from '../support/sessions.js';

interface Fixture {
  db: TestDb;
  tokens: string[];
  /** jti by label, e.g. 'admin-app-past'. */
  jti: Record<string, string>;
  /** id by label. */
  id: Record<string, number>;
  active: number[];
  expired: number[];
}

const MIN = 60_000;


async function sessionIds(db: TestDb): Promise<number[]> {
  return (await db.query<{ id: number }>('SELECT id FROM user_sessions ORDER BY id')).map((r) => Number(r.id));
}

/** Every session row, as the database holds it, to prove a refusal changed nothing. */
async function sessionRows(db: TestDb): Promise<string> {
  return JSON.stringify(await db.query('SELECT * FROM user_sessions ORDER BY id'));
}

function auditRows(db: TestDb): Promise<Array<{ command: string; target: string | null; summary: string; details: string | null }>> {
  return db.query('SELECT command, target, summary, details FROM authctl_audit WHERE command LIKE ? ORDER BY id', 'sessions %');
}

/** Every output, in every mode, is checked against the real token values. */
function expectNoToken(r: CliResult, f: Fixture): void {
  for (const token of f.tokens) {
    expect(r.stdout).not.toContain(token);
    expect(r.stderr).not.toContain(token);
    // Not even the signature part on its own.
    expect(r.stdout).not.toContain(token.split('.')[2]!);
  }
  expect(hasStackTrace(r.stderr)).toBe(false);
}

const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);

/** Resolves once a statement on this PostgreSQL database waits for a row lock. */
async function untilBlocked(db: TestDb): Promise<void> {
  for (let i = 0; i < 400; i++) {
    const [row] = await db.query<{ n: number }>("SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'");
    if (Number(row!.n) > 0) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error('nothing ever waited for the row lock');
}

/** An open PostgreSQL transaction, as the app's would be, for row-lock tests. */
async function openTransaction(db: TestDb): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  await client.query('BEGIN');
  return client;
}

describeProviders('sessions', ({ provider, newDb, cloneDb }) => {
/**
 * An app-made database, adopted by `authctl migrate`, whose sessions sit a
 * few minutes on both sides of now. On SQLite they are in both timestamp
 * forms: the app's `YYYY-MM-DD HH:MM:SS.ffffff` and Prisma's ISO text.
 * PostgreSQL stores real timestamps, so there is only one form there.
 */
async function fixture(): Promise<Fixture> {
  const db = await newDb();
  const now = Date.now();
  const specs: Array<{ label: string; userId: number; type: 'access' | 'refresh'; offsetMin: number; iso: boolean }> = [
    { label: 'admin-app-past', userId: 1, type: 'access', offsetMin: -3, iso: false },
    { label: 'admin-iso-past', userId: 1, type: 'refresh', offsetMin: -4, iso: true },
    { label: 'admin-app-future', userId: 1, type: 'access', offsetMin: 3, iso: false },
    { label: 'admin-iso-future', userId: 1, type: 'refresh', offsetMin: 4, iso: true },
    { label: 'alice-app-past', userId: 2, type: 'refresh', offsetMin: -30, iso: false },
    { label: 'alice-iso-past', userId: 2, type: 'access', offsetMin: -2, iso: true },
    { label: 'alice-app-future', userId: 2, type: 'refresh', offsetMin: 2, iso: false },
    { label: 'alice-iso-future', userId: 2, type: 'access', offsetMin: 5, iso: true },
    { label: 'bob-app-future', userId: 3, type: 'access', offsetMin: 6, iso: false },
  ];
  const tokens = specs.map(() => fakeJwt());
  const jtis = specs.map(() => randomBytes(16).toString('hex'));
  const sessions: AppSession[] = specs.map((s, i) => {
    const at = new Date(now + s.offsetMin * MIN);
    return {
      userId: s.userId,
      tokenType: s.type,
      expiresAt: s.iso && provider === 'sqlite' ? isoTimestamp(at) : appTimestamp(at),
      // Created a minute apart, in the order listed: the oldest active one is admin-app-future.
      createdAt: appTimestamp(new Date(now - (60 - i) * MIN)),
      token: tokens[i],
      jti: jtis[i],
    };
  });
  // The app's VARCHAR(255) session_token cannot hold its own JWTs on
  // PostgreSQL; adoption widens it. There, the sessions arrive after
  // `migrate`, as they do once the database is adopted.
  const before = provider === 'sqlite' ? sessions : [];
  await fillAppDatabase(db, { users: [{ username: 'admin', isAdmin: true }, { username: 'alice' }, { username: 'bob' }] });
  for (const s of before) await insertSession(db, s);
  const m = await cli(db, ['migrate', '-q']);
  expect(m.code, m.stderr).toBe(0);
  if (provider !== 'sqlite') for (const s of sessions) await insertSession(db, s);
  const jti: Record<string, string> = {};
  const id: Record<string, number> = {};
  specs.forEach((s, i) => {
    jti[s.label] = jtis[i]!;
    id[s.label] = i + 1;
  });
  expect(await sessionIds(db)).toEqual(specs.map((_, i) => i + 1));
  return {
    db,
    tokens,
    jti,
    id,
    active: specs.flatMap((s, i) => (s.offsetMin > 0 ? [i + 1] : [])),
    expired: specs.flatMap((s, i) => (s.offsetMin < 0 ? [i + 1] : [])),
  };
}

describe('sessions list', () => {
  let f: Fixture;
  let db: TestDb;
  beforeEach(async () => {
    f = await fixture();
    db = f.db;
  });

  it('shows only active sessions by default, in both timestamp forms, without tokens', async () => {
    const r = await cli(db, ['sessions', 'list', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(sorted(out.sessions.map((s: { id: number }) => s.id))).toEqual(f.active);
    expect(out.sessions.every((s: { expired: boolean }) => !s.expired)).toBe(true);
    expect(out).toMatchObject({ state: 'active', total: f.active.length, more: false });
    expect(Object.keys(out.sessions[0]).sort()).toEqual(
      ['createdAt', 'expired', 'expiresAt', 'id', 'ipAddress', 'jti', 'lastAccessed', 'type', 'userAgent', 'userId', 'username'].sort(),
    );
    expectNoToken(r, f);

    const table = await cli(db, ['sessions', 'list']);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^id +user +type +created \(UTC\) +last seen +expires +expires \(UTC\) +ip +user agent +jti$/m);
    for (const label of ['admin-app-future', 'alice-iso-future', 'bob-app-future']) expect(table.stdout).toContain(f.jti[label]);
    for (const label of ['admin-app-past', 'admin-iso-past', 'alice-iso-past']) expect(table.stdout).not.toContain(f.jti[label]);
    expect(table.stdout).toMatch(/ in \dm +\d{4}-\d\d-\d\d \d\d:\d\d /);
    // On a pipe the user agent is whole, as stored (a terminal shows "Chrome 120 / Linux").
    expect(table.stdout).toContain('Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120');
    expectNoToken(table, f);
  });

  it('--expired, --all, --user, --type and --limit', async () => {
    const expired = JSON.parse((await cli(db, ['sessions', 'list', '--expired', '--json'])).stdout);
    expect(sorted(expired.sessions.map((s: { id: number }) => s.id))).toEqual(f.expired);

    const all = await cli(db, ['sessions', 'list', '--all', '--json']);
    expect(sorted(JSON.parse(all.stdout).sessions.map((s: { id: number }) => s.id))).toEqual(sorted([...f.active, ...f.expired]));
    expectNoToken(all, f);

    const alice = JSON.parse((await cli(db, ['sessions', 'list', '--user', 'alice', '--json'])).stdout);
    expect(sorted(alice.sessions.map((s: { id: number }) => s.id))).toEqual([f.id['alice-app-future']!, f.id['alice-iso-future']!]);

    const refresh = JSON.parse((await cli(db, ['sessions', 'list', '--all', '--type', 'refresh', '--json'])).stdout);
    expect(refresh.sessions.every((s: { type: string }) => s.type === 'refresh')).toBe(true);
    expect(refresh.sessions).toHaveLength(4);

    const limited = await cli(db, ['sessions', 'list', '--all', '--limit', '2']);
    expect(limited.code).toBe(0);
    expect(limited.stdout).toMatch(/Showing 2 of 9; pass --limit 9/);
    const limitedJson = JSON.parse((await cli(db, ['sessions', 'list', '--all', '--limit', '2', '--json'])).stdout);
    expect(limitedJson).toMatchObject({ total: 9, more: true });
    expect(limitedJson.sessions).toHaveLength(2);
  });

  it('refuses bad input with exit 2 or 3 and a next step', async () => {
    const unknown = await cli(db, ['sessions', 'list', '--user', 'nobody']);
    expect(unknown.code).toBe(3);
    expect(unknown.stderr).toMatch(/No user named "nobody"/);
    expect(unknown.stderr).toMatch(/hint:/);
    const type = await cli(db, ['sessions', 'list', '--type', 'id_token']);
    expect(type.code).toBe(2);
    expect(type.stderr).toMatch(/Allowed choices are access, refresh/);
    const both = await cli(db, ['sessions', 'list', '--all', '--expired', '--json']);
    expect(both.code).toBe(2);
    expect(JSON.parse(both.stderr)).toMatchObject({ error: { code: 'USAGE', exitCode: 2 } });
    const limit = await cli(db, ['sessions', 'list', '--limit', '0']);
    expect(limit.code).toBe(2);
  });

  it('refuses an app-made database that was not adopted yet (exit 5)', async () => {
    const appMade = await newDb();
    await fillAppDatabase(appMade, { users: [{ username: 'admin' }] });
    const r = await cli(appMade, ['sessions', 'list']);
    expect(r.code).toBe(5);
    expect(r.stderr).toMatch(/authctl migrate/);
  });
});

describe('sessions purge', () => {
  let f: Fixture;
  let db: TestDb;
  beforeEach(async () => {
    f = await fixture();
    db = f.db;
  });

  it('deletes exactly the expired sessions, in both timestamp forms, with one audit entry', async () => {
    const before = await sessionRows(db);
    const dry = await cli(db, ['sessions', 'purge', '--dry-run', '--json']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(JSON.parse(dry.stdout)).toMatchObject({ dryRun: true, wouldDelete: f.expired.length, deleted: 0 });
    expect(await sessionRows(db)).toEqual(before);
    expect(await auditRows(db)).toEqual([]);

    const r = await cli(db, ['sessions', 'purge', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ deleted: f.expired.length, remaining: 0, batches: 1 });
    expect(typeof out.ms).toBe('number');
    // Only a SQLite file has a journal mode to switch, and only the first purge switches it.
    expect(out.switchedToWal).toBe(provider === 'sqlite');
    expect(await sessionIds(db)).toEqual(f.active);
    expectNoToken(r, f);

    const audit = await auditRows(db);
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ command: 'sessions purge' });
    expect(JSON.parse(audit[0]!.details!)).toMatchObject({ deleted: f.expired.length, remaining: 0 });
    for (const token of f.tokens) expect(JSON.stringify(audit)).not.toContain(token);

    // The purge left a SQLite file in WAL mode, and everything still loads in the app.
    if (provider === 'sqlite') {
      const file = new Database(db.url.slice('sqlite:///'.length), { readonly: true });
      expect(file.pragma('journal_mode', { simple: true })).toBe('wal');
      file.close();
    }
    expect((await unparseable(db)).filter((s) => !s.includes('expires_at'))).toEqual([]);

    const again = await cli(db, ['sessions', 'purge']);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/Nothing to do/);
    expect(again.stderr).not.toMatch(/Switched the database to WAL/);
    expect(await auditRows(db)).toHaveLength(2);
  });

  it('--grace keeps sessions that expired more recently than the grace period, and says which ones it counted', async () => {
    const r = await cli(db, ['sessions', 'purge', '--grace', '10m']);
    expect(r.code, r.stderr).toBe(0);
    // The expired sessions it kept are not "0 expired remain": the count is of those before the cutoff.
    expect(r.stdout).toMatch(/Purged 1 expired session\(s\) in 1 batch\(es\), [\d.]+ s; 0 expired before \d{4}-\d\d-\d\d \d\d:\d\d.* remain\./);
    expect(await sessionIds(db)).not.toContain(f.id['alice-app-past']);
    expect(await sessionIds(db)).toEqual(sorted([...f.active, ...f.expired.filter((id) => id !== f.id['alice-app-past'])]));
    const again = await cli(db, ['sessions', 'purge', '--grace', '10m']);
    expect(again.stdout).toMatch(/No sessions expired before \d{4}-.*\. Nothing to do\./);
    expect(JSON.parse((await cli(db, ['sessions', 'purge', '--grace', '10m', '--json'])).stdout)).toMatchObject({ deleted: 0, remaining: 0 });
  });

  it('prints one human line, and nothing at all with --quiet', async () => {
    const human = await cli(db, ['sessions', 'purge', '--dry-run']);
    expect(human.stdout.trim().split('\n')).toEqual([expect.stringMatching(/^Would purge/), 'Nothing changed.']);
    expect(human.stdout).toMatch(/Would purge 4 session\(s\)/);
    const quiet = await cli(db, ['sessions', 'purge', '--quiet']);
    expect(quiet.code).toBe(0);
    expect(quiet.stdout).toBe('');
    expect(quiet.stderr).toBe('');
    expect(await sessionIds(db)).toEqual(f.active);
  });

  it('--batch-size bounds the rows deleted in one transaction, however small', async () => {
    const r = await cli(db, ['sessions', 'purge', '--batch-size', '1', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ deleted: f.expired.length, remaining: 0 });
    expect(out.batches).toBeGreaterThanOrEqual(f.expired.length);
    expect(await sessionIds(db)).toEqual(f.active);
  });

  it('refuses bad options with exit 2 and changes nothing', async () => {
    const before = await sessionRows(db);
    for (const args of [['--grace', 'soon'], ['--max-lock', '0'], ['--batch-size', '-5'], ['--batch-size', 'many']]) {
      const r = await cli(db, ['sessions', 'purge', ...args]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(/error:/);
      expect(hasStackTrace(r.stderr)).toBe(false);
    }
    expect(await sessionRows(db)).toEqual(before);
  });

  it('exits 75 at once while another authctl holds the purge lock, and --wait queues behind it', async () => {
    const before = await sessionRows(db);
    const release = await holdJobLock(db, 'purge');
    let waiting: ReturnType<typeof startPurge> | undefined;
    try {
      const started = Date.now();
      const busy = await cli(db, ['sessions', 'purge', '--json']);
      expect(busy.code).toBe(75);
      expect(Date.now() - started).toBeLessThan(15_000);
      expect(JSON.parse(busy.stderr)).toMatchObject({ error: { exitCode: 75 } });
      expect(await sessionRows(db)).toEqual(before);
      const lock = await watchLockTries(db, 'purge');
      try {
        waiting = startPurge(db, ['--wait', '--json']);
        // A second try at the lock: the run queues rather than failing busy.
        await lock.tries(2);
      } finally {
        lock.stop();
      }
      expect(waiting.child.exitCode).toBeNull();
      expect(await sessionRows(db)).toEqual(before);
    } finally {
      await release();
    }
    const w = await waiting!.done;
    expect(w.code, w.stderr).toBe(0);
    expect(JSON.parse(w.stdout)).toMatchObject({ deleted: f.expired.length, remaining: 0 });
    expect(await sessionIds(db)).toEqual(f.active);
  });

  it('Ctrl+C while --wait queues behind another purge exits 130 at once and deletes nothing', async () => {
    const before = await sessionRows(db);
    const release = await holdJobLock(db, 'purge');
    try {
      const lock = await watchLockTries(db, 'purge');
      let waiting: ReturnType<typeof startPurge>;
      try {
        waiting = startPurge(db, ['--wait']);
        await lock.tries(2);
      } finally {
        lock.stop();
      }
      expect(waiting.child.exitCode).toBeNull();
      const signalled = Date.now();
      waiting.child.kill('SIGINT');
      const r = await waiting.done;
      expect(Date.now() - signalled).toBeLessThan(3000);
      expect(r.code).toBe(130);
      expect(r.stderr).toMatch(/Cancelled/);
      expect(await sessionRows(db)).toEqual(before);
    } finally {
      await release();
    }
  });

  // PostgreSQL lets the app change a row between the purge picking it and
  // deleting it (SQLite serialises writers, so this cannot happen there).
  if (provider === 'postgresql') {
    it('keeps an expired session whose expiry the app extends while the purge waits for it', async () => {
      const target = f.id['admin-app-past']!;
      const app = await openTransaction(db);
      let purge: ReturnType<typeof startPurge>;
      try {
        await app.query("UPDATE user_sessions SET expires_at = (now() AT TIME ZONE 'UTC') + interval '1 hour' WHERE id = $1", [target]);
        purge = startPurge(db, ['--json']);
        await untilBlocked(db);
        await app.query('COMMIT');
      } finally {
        await app.end();
      }
      const r = await purge!.done;
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ deleted: f.expired.length - 1, remaining: 0 });
      expect(await sessionIds(db)).toEqual(sorted([...f.active, target]));
    });

    it('does not stop early when the app deletes a session the purge had picked', async () => {
      // Two rows per batch: the first batch picks the two oldest expired rows, one of which the app is logging out.
      const target = f.id['admin-app-past']!;
      const app = await openTransaction(db);
      let purge: ReturnType<typeof startPurge>;
      try {
        await app.query('DELETE FROM user_sessions WHERE id = $1', [target]);
        purge = startPurge(db, ['--batch-size', '2', '--json']);
        await untilBlocked(db);
        await app.query('COMMIT');
      } finally {
        await app.end();
      }
      const r = await purge!.done;
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ deleted: f.expired.length - 1, remaining: 0 });
      expect(await sessionIds(db)).toEqual(f.active);
    });
  }
});

describe('sessions revoke', () => {
  let f: Fixture;
  let db: TestDb;
  beforeEach(async () => {
    f = await fixture();
    db = f.db;
  });

  it('revokes named ids and jtis, exactly those, with an audit entry', async () => {
    const r = await cli(db, ['sessions', 'revoke', String(f.id['bob-app-future']), '--jti', f.jti['admin-iso-past']!, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ dryRun: false, revoked: 2 });
    expectNoToken(r, f);
    const gone = [f.id['bob-app-future']!, f.id['admin-iso-past']!];
    expect(await sessionIds(db)).toEqual(sorted([...f.active, ...f.expired]).filter((id) => !gone.includes(id)));
    const audit = await auditRows(db);
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ command: 'sessions revoke', summary: 'revoked 2 session(s)' });
    for (const token of f.tokens) expect(JSON.stringify(audit)).not.toContain(token);
  });

  it('--user revokes all of a user\'s sessions, optionally narrowed by --type', async () => {
    const typed = await cli(db, ['sessions', 'revoke', '--user', 'alice', '--type', 'refresh']);
    expect(typed.code, typed.stderr).toBe(0);
    expect(typed.stdout).toMatch(/Revoked 2 session\(s\)/);
    expectNoToken(typed, f);
    expect(await sessionIds(db)).not.toContain(f.id['alice-app-past']);
    expect(await sessionIds(db)).not.toContain(f.id['alice-app-future']);
    expect(await sessionIds(db)).toContain(f.id['alice-iso-past']);

    const all = await cli(db, ['sessions', 'revoke', '--user', 'alice', '--json']);
    expect(JSON.parse(all.stdout)).toMatchObject({ revoked: 2 });
    expect(await countSessions(db, 'user_id = 2')).toBe(0);
    expect(await countSessions(db, 'user_id <> 2')).toBe(5);
    expect(await auditRows(db)).toHaveLength(2);
  });

  it('--dry-run reports what would go and changes nothing', async () => {
    const before = await sessionRows(db);
    const r = await cli(db, ['sessions', 'revoke', '--all', '--dry-run']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/Would revoke 9 session\(s\)/);
    expectNoToken(r, f);
    expect(await sessionRows(db)).toEqual(before);
    expect(await auditRows(db)).toEqual([]);
  });

  it('--all needs --yes without a terminal (exit 7, nothing deleted), and then revokes everything', async () => {
    const before = await sessionRows(db);
    const refused = await cli(db, ['sessions', 'revoke', '--all']);
    expect(refused.code).toBe(7);
    expect(refused.stderr).toMatch(/needs confirmation/);
    expect(refused.stderr).toMatch(/--yes/);
    expect(await sessionRows(db)).toEqual(before);

    const typed = await cli(db, ['sessions', 'revoke', '--all', '--type', 'access', '--yes', '--json']);
    expect(JSON.parse(typed.stdout)).toMatchObject({ revoked: 5 });
    const r = await cli(db, ['sessions', 'revoke', '--all', '--yes']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/Revoked 4 session\(s\)/);
    expect(await sessionIds(db)).toEqual([]);
    expect(await auditRows(db)).toHaveLength(2);
  });

  it('an unknown id or jti exits 3 and deletes nothing, even mixed with valid ones', async () => {
    const before = await sessionRows(db);
    const mixed = await cli(db, ['sessions', 'revoke', String(f.id['admin-app-future']), '999']);
    expect(mixed.code).toBe(3);
    expect(mixed.stderr).toMatch(/No session with id 999; nothing was revoked/);
    expect(mixed.stderr).toMatch(/hint:/);
    const jti = await cli(db, ['sessions', 'revoke', '--jti', f.jti['alice-app-future']!, '--jti', 'f'.repeat(32), '--json']);
    expect(jti.code).toBe(3);
    expect(JSON.parse(jti.stderr)).toMatchObject({ error: { code: 'SESSION_NOT_FOUND', exitCode: 3 } });
    const user = await cli(db, ['sessions', 'revoke', '--user', 'nobody']);
    expect(user.code).toBe(3);
    expect(await sessionRows(db)).toEqual(before);
    expect(await auditRows(db)).toEqual([]);
  });

  it('refuses unclear targets with exit 2', async () => {
    const before = await sessionRows(db);
    for (const args of [[], ['1', '--all'], ['--user', 'alice', '--all'], ['1', '--type', 'access'], ['abc'], ['0']]) {
      const r = await cli(db, ['sessions', 'revoke', ...args, '--yes']);
      expect(r.code, args.join(' ')).toBe(2);
      expect(hasStackTrace(r.stderr)).toBe(false);
    }
    expect(await sessionRows(db)).toEqual(before);
  });
});

describe('sessions stats', () => {
  it('counts by type and state, backlog, top users, per day and the oldest active session', async () => {
    const f = await fixture();
    const r = await cli(f.db, ['sessions', 'stats', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expectNoToken(r, f);
    const s = JSON.parse(r.stdout);
    expect(s.byType).toEqual([
      { type: 'access', active: 3, expired: 2 },
      { type: 'refresh', active: 2, expired: 2 },
    ]);
    expect(s.totals).toEqual({ active: 5, expired: 4, all: 9 });
    expect(s.backlog.expired).toBe(4);
    const oldestExpired = Date.parse(s.backlog.oldestExpiredAt);
    expect(Date.now() - oldestExpired).toBeGreaterThan(29 * MIN);
    expect(Date.now() - oldestExpired).toBeLessThan(32 * MIN);
    expect(s.topUsers).toEqual([
      { userId: 1, username: 'admin', activeSessions: 2 },
      { userId: 2, username: 'alice', activeSessions: 2 },
      { userId: 3, username: 'bob', activeSessions: 1 },
    ]);
    expect(s.perDay).toHaveLength(14);
    expect(s.perDay.reduce((a: number, d: { total: number }) => a + d.total, 0)).toBe(9);
    expect(s.oldestActive).toMatchObject({ id: f.id['admin-app-future'], username: 'admin' });

    const human = await cli(f.db, ['sessions', 'stats']);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/expired backlog +4 row\(s\)/);
    expect(human.stdout).toMatch(/Logins per day/);
    expectNoToken(human, f);
  });
});

describe('purge on a large table', () => {
  const ROWS = 30_000;
  let template: Promise<TestDb> | undefined;

  /** An adopted app database with ROWS sessions, all expired an hour ago; built once, cloned per test. */
  async function buildLarge(): Promise<TestDb> {
    const db = await newDb();
    await fillAppDatabase(db, { users: [{ username: 'admin', isAdmin: true }] });
    const past = appTimestamp(new Date(Date.now() - 60 * MIN));
    if (provider === 'sqlite') {
      const file = new Database(db.url.slice('sqlite:///'.length));
      const insert = file.prepare(
        "INSERT INTO user_sessions (user_id, session_token, jti, token_type, expires_at, created_at, last_accessed) VALUES (1, ?, ?, 'access', ?, ?, ?)",
      );
      file.transaction(() => {
        for (let i = 0; i < ROWS; i++) insert.run(randomBytes(32).toString('hex'), randomBytes(16).toString('hex'), past, past, past);
      })();
      file.close();
    } else {
      await db.query(
        `INSERT INTO user_sessions (user_id, session_token, jti, token_type, expires_at, created_at, last_accessed)
         SELECT 1, md5(random()::text || g) || md5(g || random()::text), md5(random()::text || g || 'jti'), 'access', ?, ?, ? FROM generate_series(1, ?::int) g`,
        past, past, past, ROWS,
      );
    }
    const m = await cli(db, ['migrate', '-q']);
    expect(m.code, m.stderr).toBe(0);
    return db;
  }

  async function largeFixture(): Promise<TestDb> {
    template ??= buildLarge();
    return cloneDb(await template);
  }

  /**
   * On PostgreSQL, purging this table takes less time than a CLI takes to
   * start, so a second purge could never meet the first. There, an app
   * transaction holds one row in the middle of the table: the purge deletes
   * the rows before it, then waits for that row with its lock held, until
   * released. SQLite's purge pauses between batches and runs for seconds on
   * its own.
   */
  async function holdMiddleRow(db: TestDb): Promise<() => Promise<void>> {
    if (provider === 'sqlite') return async () => {};
    const app = await openTransaction(db);
    await app.query('SELECT id FROM user_sessions WHERE id = (SELECT min(id) + $1 FROM user_sessions) FOR UPDATE', [ROWS / 2]);
    return async () => {
      await app.query('COMMIT');
      await app.end();
    };
  }

  it('a second purge exits 75 while the first runs; --wait queues behind it', async () => {
    const db = await largeFixture();
    const release = await holdMiddleRow(db);
    let first: ReturnType<typeof startPurge>;
    let waiting: ReturnType<typeof startPurge>;
    try {
      first = startPurge(db, ['--max-lock', '5', '--batch-size', '300', '--json']);
      await untilDeleting(db, ROWS);
      const second = await cli(db, ['sessions', 'purge']);
      expect(second.code).toBe(75);
      expect(second.stderr).toMatch(/Another authctl purge is running/);
      expect(second.stderr).toMatch(/--wait/);
      waiting = startPurge(db, ['--wait', '--json']);
    } finally {
      await release();
    }
    const r = await first.done;
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ deleted: ROWS, remaining: 0 });
    expect(JSON.parse(r.stdout).batches).toBeGreaterThan(1);
    const w = await waiting.done;
    expect(w.code, w.stderr).toBe(0);
    expect(JSON.parse(w.stdout)).toMatchObject({ deleted: 0, remaining: 0 });
    expect(await sessionIds(db)).toEqual([]);
  }, 120_000);

  // SIGHUP is what a closed terminal or SSH session sends.
  it.each(['SIGINT', 'SIGHUP'] as const)('%s stops after the current batch, keeps what was committed, releases the lock, exits 130', async (signal) => {
    const db = await largeFixture();
    const release = await holdMiddleRow(db);
    let run: ReturnType<typeof startPurge>;
    try {
      run = startPurge(db, ['--max-lock', '5', '--batch-size', '300', '--json']);
      await untilDeleting(db, ROWS);
      run.child.kill(signal);
      // Let the signal land while the batch is still in progress.
      await new Promise((r) => setTimeout(r, 300));
    } finally {
      await release();
    }
    const r = await run.done;
    expect(r.code).toBe(130);
    expect(r.stderr).toContain(`Stopped by ${signal}`);
    expect(hasStackTrace(r.stderr)).toBe(false);
    const summary = JSON.parse(r.stdout);
    expect(summary.interrupted).toBe(true);
    expect(summary.deleted).toBeGreaterThan(0);
    expect(summary.deleted).toBeLessThan(ROWS);
    expect(await sessionIds(db)).toHaveLength(ROWS - summary.deleted);
    const audit = await auditRows(db);
    expect(audit).toHaveLength(1);
    expect(JSON.parse(audit[0]!.details!)).toMatchObject({ interrupted: true, deleted: summary.deleted });
    // The lock went with it: the next purge runs at once and finishes the job.
    const next = await cli(db, ['sessions', 'purge', '--json']);
    expect(next.code, next.stderr).toBe(0);
    expect(JSON.parse(next.stdout)).toMatchObject({ deleted: ROWS - summary.deleted, remaining: 0 });
  }, 120_000);

  // A closed terminal (a dropped SSH session) sends SIGHUP, and every later
  // write to it fails; Node would also abort as it exits. SQLite only: on
  // PostgreSQL this table is purged faster than the terminal can close.
  if (provider === 'sqlite') it('a terminal that hangs up mid-purge: the batch finishes, the audit row is written, the lock goes, and it ends by SIGHUP', async () => {
    const db = await largeFixture();
    const file = db.url.slice('sqlite:///'.length);
    const r = await runOnPty(['sessions', 'purge', '--max-lock', '5', '--batch-size', '300'], {
      cwd: db.cwd,
      env: { ...db.env, NO_COLOR: '1' },
      steps: [{ waitFor: 'expired sessions purged', send: '', hangup: true }],
    });
    expect(r.timedOut, r.output).toBeNull();
    expect(r.code, r.output).toBe(-1);
    const audit = await auditRows(db);
    expect(audit).toHaveLength(1);
    const details = JSON.parse(audit[0]!.details!);
    expect(details).toMatchObject({ interrupted: true });
    expect(details.deleted).toBeGreaterThan(0);
    expect(await countSessions(db)).toBe(ROWS - details.deleted);
    expect(fs.existsSync(`${file}.authctl-purge.lock`)).toBe(false);
  }, 120_000);

  /** A purge while the app logs in every `everyMs`, and the -wal file's size as the purge ends (0: no file at all, the smallest it can be). */
  async function purgeWhileAppLogsIn(db: TestDb, args: string[], everyMs: number) {
    const file = db.url.slice('sqlite:///'.length);
    const app = appLogins(file, { everyMs });
    try {
      const r = await startPurge(db, args).done;
      const walBytes = fs.existsSync(`${file}-wal`) ? fs.statSync(`${file}-wal`).size : 0;
      return { r, walBytes, app };
    } finally {
      app.stop();
    }
  }

  // While the app writes between batches, SQLite's log only starts over when
  // everything in it has been copied back at the moment a writer begins.
  if (provider === 'sqlite') it('leaves the -wal file small while the app logs in during the purge, and keeps every app row', async () => {
    const db = await largeFixture();
    const { r, walBytes, app } = await purgeWhileAppLogsIn(db, ['--batch-size', '500', '--json'], 5);
    expect(r.code, r.stderr).toBe(0);
    const summary = JSON.parse(r.stdout);
    expect(summary).toMatchObject({ deleted: ROWS, remaining: 0 });
    expect(summary.batches).toBeGreaterThan(10);
    expect(app.counts.logins).toBeGreaterThan(10);
    expect(app.counts.failures).toBe(0);
    expect(await countSessions(db)).toBe(app.counts.logins);
    // The purge truncated the log; since then it holds only the audit row and
    // the logins of the last moments (about 30 KB each).
    expect(walBytes).toBeLessThan(1024 * 1024);
  }, 120_000);

  // With a short --max-lock the log left at the end is freed in steps, each a
  // write that rewrites the database's header page as it was.
  if (provider === 'sqlite') it('frees the log in steps under a short --max-lock, and keeps the header as it was', async () => {
    const db = await largeFixture();
    const file = db.url.slice('sqlite:///'.length);
    const before = new Database(file);
    before.pragma('user_version = 7');
    before.close();
    const { r, walBytes, app } = await purgeWhileAppLogsIn(db, ['--max-lock', '5', '--json'], 20);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ deleted: ROWS, remaining: 0 });
    expect(app.counts.failures).toBe(0);
    expect(walBytes).toBeLessThan(1024 * 1024);
    // The steps rewrite the header page with what it held.
    const check = new Database(file, { readonly: true });
    try {
      expect(check.pragma('user_version', { simple: true })).toBe(7);
      expect(check.pragma('integrity_check', { simple: true })).toBe('ok');
    } finally {
      check.close();
    }
  }, 120_000);
});
});
