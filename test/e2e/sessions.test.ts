import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import Database from 'better-sqlite3';
import { beforeEach, describe, expect, it } from 'vitest';
import { appTimestamp, createAppDatabase, fakeJwt, isoTimestamp, unparseableTimestamps } from '../support/app-db.js';
import { BIN, hasStackTrace, runCli, tempDir, type CliResult } from '../support/cli.js';

interface Fixture {
  cwd: string;
  file: string;
  tokens: string[];
  /** jti by label, e.g. 'admin-app-past'. */
  jti: Record<string, string>;
  /** id by label. */
  id: Record<string, number>;
  active: number[];
  expired: number[];
}

const MIN = 60_000;

/**
 * An app-made database, adopted by `authctl migrate`, whose sessions sit a
 * few minutes on both sides of now in both timestamp forms: the app's
 * `YYYY-MM-DD HH:MM:SS.ffffff` and Prisma's ISO text.
 */
async function fixture(): Promise<Fixture> {
  const cwd = tempDir('authctl-sessions-');
  const file = path.join(cwd, 'gpustack_ui.db');
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
  const db = createAppDatabase(file, {
    users: [{ username: 'admin', isAdmin: true }, { username: 'alice' }, { username: 'bob' }],
    sessions: specs.map((s, i) => {
      const at = new Date(now + s.offsetMin * MIN);
      return {
        userId: s.userId,
        tokenType: s.type,
        expiresAt: s.iso ? isoTimestamp(at) : appTimestamp(at),
        createdAt: appTimestamp(new Date(now - 60 * MIN)),
        token: tokens[i],
        jti: jtis[i],
      };
    }),
  });
  db.close();
  const m = await runCli(['migrate', '-q'], { cwd });
  expect(m.code, m.stderr).toBe(0);
  const jti: Record<string, string> = {};
  const id: Record<string, number> = {};
  specs.forEach((s, i) => {
    jti[s.label] = jtis[i]!;
    id[s.label] = i + 1;
  });
  return {
    cwd,
    file,
    tokens,
    jti,
    id,
    active: specs.flatMap((s, i) => (s.offsetMin > 0 ? [i + 1] : [])),
    expired: specs.flatMap((s, i) => (s.offsetMin < 0 ? [i + 1] : [])),
  };
}

function sessionIds(file: string): number[] {
  const db = new Database(file, { readonly: true });
  try {
    return db.prepare('SELECT id FROM user_sessions ORDER BY id').pluck().all() as number[];
  } finally {
    db.close();
  }
}

function sessionRows(file: string): unknown[] {
  const db = new Database(file, { readonly: true });
  try {
    return db.prepare('SELECT * FROM user_sessions ORDER BY id').all();
  } finally {
    db.close();
  }
}

function auditRows(file: string): Array<{ command: string; target: string | null; summary: string; details: string | null }> {
  const db = new Database(file, { readonly: true });
  try {
    return db.prepare('SELECT command, target, summary, details FROM authctl_audit WHERE command LIKE ? ORDER BY id').all('sessions %') as never;
  } finally {
    db.close();
  }
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

describe('sessions list', () => {
  let f: Fixture;
  beforeEach(async () => {
    f = await fixture();
  });

  it('shows only active sessions by default, in both timestamp forms, without tokens', async () => {
    const r = await runCli(['sessions', 'list', '--json'], { cwd: f.cwd });
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(sorted(out.sessions.map((s: { id: number }) => s.id))).toEqual(f.active);
    expect(out.sessions.every((s: { expired: boolean }) => !s.expired)).toBe(true);
    expect(out).toMatchObject({ state: 'active', total: f.active.length, more: false });
    expect(Object.keys(out.sessions[0]).sort()).toEqual(
      ['createdAt', 'expired', 'expiresAt', 'id', 'ipAddress', 'jti', 'lastAccessed', 'type', 'userAgent', 'userId', 'username'].sort(),
    );
    expectNoToken(r, f);

    const table = await runCli(['sessions', 'list'], { cwd: f.cwd });
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/│ id +│ user +│ type +│ created +│ last accessed +│ expires +│ ip +│ user agent +│ jti/);
    for (const label of ['admin-app-future', 'alice-iso-future', 'bob-app-future']) expect(table.stdout).toContain(f.jti[label]);
    for (const label of ['admin-app-past', 'admin-iso-past', 'alice-iso-past']) expect(table.stdout).not.toContain(f.jti[label]);
    expect(table.stdout).toMatch(/in \dm \(\d{4}-\d\d-\d\d \d\d:\d\dZ\)/);
    expect(table.stdout).toContain('Chrome 120 / Linux');
    expectNoToken(table, f);
  });

  it('--expired, --all, --user, --type and --limit', async () => {
    const expired = JSON.parse((await runCli(['sessions', 'list', '--expired', '--json'], { cwd: f.cwd })).stdout);
    expect(sorted(expired.sessions.map((s: { id: number }) => s.id))).toEqual(f.expired);

    const all = await runCli(['sessions', 'list', '--all', '--json'], { cwd: f.cwd });
    expect(sorted(JSON.parse(all.stdout).sessions.map((s: { id: number }) => s.id))).toEqual(sorted([...f.active, ...f.expired]));
    expectNoToken(all, f);

    const alice = JSON.parse((await runCli(['sessions', 'list', '--user', 'alice', '--json'], { cwd: f.cwd })).stdout);
    expect(sorted(alice.sessions.map((s: { id: number }) => s.id))).toEqual([f.id['alice-app-future']!, f.id['alice-iso-future']!]);

    const refresh = JSON.parse((await runCli(['sessions', 'list', '--all', '--type', 'refresh', '--json'], { cwd: f.cwd })).stdout);
    expect(refresh.sessions.every((s: { type: string }) => s.type === 'refresh')).toBe(true);
    expect(refresh.sessions).toHaveLength(4);

    const limited = await runCli(['sessions', 'list', '--all', '--limit', '2'], { cwd: f.cwd });
    expect(limited.code).toBe(0);
    expect(limited.stdout).toMatch(/Showing 2 of 9; pass --limit 9/);
    const limitedJson = JSON.parse((await runCli(['sessions', 'list', '--all', '--limit', '2', '--json'], { cwd: f.cwd })).stdout);
    expect(limitedJson).toMatchObject({ total: 9, more: true });
    expect(limitedJson.sessions).toHaveLength(2);
  });

  it('refuses bad input with exit 2 or 3 and a next step', async () => {
    const unknown = await runCli(['sessions', 'list', '--user', 'nobody'], { cwd: f.cwd });
    expect(unknown.code).toBe(3);
    expect(unknown.stderr).toMatch(/No user named "nobody"/);
    expect(unknown.stderr).toMatch(/hint:/);
    const type = await runCli(['sessions', 'list', '--type', 'id_token'], { cwd: f.cwd });
    expect(type.code).toBe(2);
    expect(type.stderr).toMatch(/--type must be access or refresh/);
    const both = await runCli(['sessions', 'list', '--all', '--expired', '--json'], { cwd: f.cwd });
    expect(both.code).toBe(2);
    expect(JSON.parse(both.stderr)).toMatchObject({ error: { code: 'USAGE', exitCode: 2 } });
    const limit = await runCli(['sessions', 'list', '--limit', '0'], { cwd: f.cwd });
    expect(limit.code).toBe(2);
  });

  it('refuses an app-made database that was not adopted yet (exit 5)', async () => {
    const cwd = tempDir();
    createAppDatabase(path.join(cwd, 'gpustack_ui.db'), { users: [{ username: 'admin' }] }).close();
    const r = await runCli(['sessions', 'list'], { cwd });
    expect(r.code).toBe(5);
    expect(r.stderr).toMatch(/authctl migrate/);
  });
});

describe('sessions purge', () => {
  let f: Fixture;
  beforeEach(async () => {
    f = await fixture();
  });

  it('deletes exactly the expired sessions, in both timestamp forms, with one audit entry', async () => {
    const before = sessionRows(f.file);
    const dry = await runCli(['sessions', 'purge', '--dry-run', '--json'], { cwd: f.cwd });
    expect(dry.code, dry.stderr).toBe(0);
    expect(JSON.parse(dry.stdout)).toMatchObject({ dryRun: true, wouldDelete: f.expired.length, deleted: 0 });
    expect(sessionRows(f.file)).toEqual(before);
    expect(auditRows(f.file)).toEqual([]);

    const r = await runCli(['sessions', 'purge', '--json'], { cwd: f.cwd });
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ deleted: f.expired.length, remaining: 0, batches: 1 });
    expect(typeof out.ms).toBe('number');
    expect(sessionIds(f.file)).toEqual(f.active);
    expectNoToken(r, f);

    const audit = auditRows(f.file);
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ command: 'sessions purge' });
    expect(JSON.parse(audit[0]!.details!)).toMatchObject({ deleted: f.expired.length, remaining: 0 });
    for (const token of f.tokens) expect(JSON.stringify(audit)).not.toContain(token);

    // The purge left the file in WAL mode, and everything still loads in the app.
    const db = new Database(f.file, { readonly: true });
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(unparseableTimestamps(db).filter((s) => !s.includes('expires_at'))).toEqual([]);
    db.close();

    const again = await runCli(['sessions', 'purge'], { cwd: f.cwd });
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/Nothing to do/);
    expect(auditRows(f.file)).toHaveLength(2);
  });

  it('--grace keeps sessions that expired more recently than the grace period', async () => {
    const r = await runCli(['sessions', 'purge', '--grace', '10m', '--json'], { cwd: f.cwd });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ deleted: 1, remaining: 0 });
    expect(sessionIds(f.file)).not.toContain(f.id['alice-app-past']);
    expect(sessionIds(f.file)).toEqual(sorted([...f.active, ...f.expired.filter((id) => id !== f.id['alice-app-past'])]));
  });

  it('prints one human line, and nothing at all with --quiet', async () => {
    const human = await runCli(['sessions', 'purge', '--dry-run'], { cwd: f.cwd });
    expect(human.stdout.trim().split('\n')).toHaveLength(1);
    expect(human.stdout).toMatch(/Would purge 4 session\(s\)/);
    const quiet = await runCli(['sessions', 'purge', '--quiet'], { cwd: f.cwd });
    expect(quiet.code).toBe(0);
    expect(quiet.stdout).toBe('');
    expect(quiet.stderr).toBe('');
    expect(sessionIds(f.file)).toEqual(f.active);
  });

  it('refuses bad options with exit 2 and changes nothing', async () => {
    const before = sessionRows(f.file);
    for (const args of [['--grace', 'soon'], ['--max-lock', '0'], ['--batch-size', '-5'], ['--batch-size', 'many']]) {
      const r = await runCli(['sessions', 'purge', ...args], { cwd: f.cwd });
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(/error:/);
      expect(hasStackTrace(r.stderr)).toBe(false);
    }
    expect(sessionRows(f.file)).toEqual(before);
  });
});

describe('sessions revoke', () => {
  let f: Fixture;
  beforeEach(async () => {
    f = await fixture();
  });

  it('revokes named ids and jtis, exactly those, with an audit entry', async () => {
    const r = await runCli(['sessions', 'revoke', String(f.id['bob-app-future']), '--jti', f.jti['admin-iso-past']!, '--json'], { cwd: f.cwd });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ dryRun: false, revoked: 2 });
    expectNoToken(r, f);
    const gone = [f.id['bob-app-future']!, f.id['admin-iso-past']!];
    expect(sessionIds(f.file)).toEqual(sorted([...f.active, ...f.expired]).filter((id) => !gone.includes(id)));
    const audit = auditRows(f.file);
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ command: 'sessions revoke', summary: 'revoked 2 session(s)' });
    for (const token of f.tokens) expect(JSON.stringify(audit)).not.toContain(token);
  });

  it('--user revokes all of a user\'s sessions, optionally narrowed by --type', async () => {
    const typed = await runCli(['sessions', 'revoke', '--user', 'alice', '--type', 'refresh'], { cwd: f.cwd });
    expect(typed.code, typed.stderr).toBe(0);
    expect(typed.stdout).toMatch(/Revoked 2 session\(s\)/);
    expectNoToken(typed, f);
    expect(sessionIds(f.file)).not.toContain(f.id['alice-app-past']);
    expect(sessionIds(f.file)).not.toContain(f.id['alice-app-future']);
    expect(sessionIds(f.file)).toContain(f.id['alice-iso-past']);

    const all = await runCli(['sessions', 'revoke', '--user', 'alice', '--json'], { cwd: f.cwd });
    expect(JSON.parse(all.stdout)).toMatchObject({ revoked: 2 });
    const db = new Database(f.file, { readonly: true });
    expect(db.prepare('SELECT count(*) FROM user_sessions WHERE user_id = 2').pluck().get()).toBe(0);
    expect(db.prepare('SELECT count(*) FROM user_sessions WHERE user_id <> 2').pluck().get()).toBe(5);
    db.close();
    expect(auditRows(f.file)).toHaveLength(2);
  });

  it('--dry-run reports what would go and changes nothing', async () => {
    const before = sessionRows(f.file);
    const r = await runCli(['sessions', 'revoke', '--all', '--dry-run'], { cwd: f.cwd });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/Would revoke 9 session\(s\)/);
    expectNoToken(r, f);
    expect(sessionRows(f.file)).toEqual(before);
    expect(auditRows(f.file)).toEqual([]);
  });

  it('--all needs --yes without a terminal (exit 7, nothing deleted), and then revokes everything', async () => {
    const before = sessionRows(f.file);
    const refused = await runCli(['sessions', 'revoke', '--all'], { cwd: f.cwd });
    expect(refused.code).toBe(7);
    expect(refused.stderr).toMatch(/needs confirmation/);
    expect(refused.stderr).toMatch(/--yes/);
    expect(sessionRows(f.file)).toEqual(before);

    const typed = await runCli(['sessions', 'revoke', '--all', '--type', 'access', '--yes', '--json'], { cwd: f.cwd });
    expect(JSON.parse(typed.stdout)).toMatchObject({ revoked: 5 });
    const r = await runCli(['sessions', 'revoke', '--all', '--yes'], { cwd: f.cwd });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/Revoked 4 session\(s\)/);
    expect(sessionIds(f.file)).toEqual([]);
    expect(auditRows(f.file)).toHaveLength(2);
  });

  it('an unknown id or jti exits 3 and deletes nothing, even mixed with valid ones', async () => {
    const before = sessionRows(f.file);
    const mixed = await runCli(['sessions', 'revoke', String(f.id['admin-app-future']), '999'], { cwd: f.cwd });
    expect(mixed.code).toBe(3);
    expect(mixed.stderr).toMatch(/No session with id 999; nothing was revoked/);
    expect(mixed.stderr).toMatch(/hint:/);
    const jti = await runCli(['sessions', 'revoke', '--jti', f.jti['alice-app-future']!, '--jti', 'f'.repeat(32), '--json'], { cwd: f.cwd });
    expect(jti.code).toBe(3);
    expect(JSON.parse(jti.stderr)).toMatchObject({ error: { code: 'SESSION_NOT_FOUND', exitCode: 3 } });
    const user = await runCli(['sessions', 'revoke', '--user', 'nobody'], { cwd: f.cwd });
    expect(user.code).toBe(3);
    expect(sessionRows(f.file)).toEqual(before);
    expect(auditRows(f.file)).toEqual([]);
  });

  it('refuses unclear targets with exit 2', async () => {
    const before = sessionRows(f.file);
    for (const args of [[], ['1', '--all'], ['--user', 'alice', '--all'], ['1', '--type', 'access'], ['abc'], ['0']]) {
      const r = await runCli(['sessions', 'revoke', ...args, '--yes'], { cwd: f.cwd });
      expect(r.code, args.join(' ')).toBe(2);
      expect(hasStackTrace(r.stderr)).toBe(false);
    }
    expect(sessionRows(f.file)).toEqual(before);
  });
});

describe('sessions stats', () => {
  it('counts by type and state, backlog, top users, per day and the oldest active session', async () => {
    const f = await fixture();
    const r = await runCli(['sessions', 'stats', '--json'], { cwd: f.cwd });
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

    const human = await runCli(['sessions', 'stats'], { cwd: f.cwd });
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/expired backlog +4 row\(s\)/);
    expect(human.stdout).toMatch(/Sessions created per day/);
    expectNoToken(human, f);
  });
});

/** A table large enough that a purge with a tiny --max-lock runs for seconds. */
async function largeFixture(rows: number): Promise<{ cwd: string; file: string }> {
  const cwd = tempDir('authctl-sessions-large-');
  const file = path.join(cwd, 'gpustack_ui.db');
  const db = createAppDatabase(file, { users: [{ username: 'admin', isAdmin: true }] });
  const insert = db.prepare(
    "INSERT INTO user_sessions (user_id, session_token, jti, token_type, expires_at, created_at, last_accessed) VALUES (1, ?, ?, 'access', ?, ?, ?)",
  );
  const past = appTimestamp(new Date(Date.now() - 60 * MIN));
  db.transaction(() => {
    for (let i = 0; i < rows; i++) insert.run(randomBytes(32).toString('hex'), randomBytes(16).toString('hex'), past, past, past);
  })();
  db.close();
  expect((await runCli(['migrate', '-q'], { cwd })).code).toBe(0);
  return { cwd, file };
}

function startPurge(cwd: string, args: string[]) {
  const env = { ...process.env, NO_COLOR: '1' } as NodeJS.ProcessEnv;
  delete env.DATABASE_URL;
  const child = spawn(process.execPath, [BIN, 'sessions', 'purge', ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const done = new Promise<CliResult>((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
  return { child, done };
}

/** Resolves once rows start disappearing: the purge then holds its lock. */
async function untilDeleting(file: string, total: number): Promise<void> {
  for (let i = 0; i < 400; i++) {
    const db = new Database(file, { readonly: true, timeout: 5000 });
    const n = db.prepare('SELECT count(*) FROM user_sessions').pluck().get() as number;
    db.close();
    if (n < total) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error('the purge never started deleting');
}

describe('purge on a large table', () => {
  const ROWS = 30_000;

  it('a second purge exits 75 while the first runs; --wait queues behind it', async () => {
    const { cwd, file } = await largeFixture(ROWS);
    const first = startPurge(cwd, ['--max-lock', '5', '--batch-size', '300', '--json']);
    await untilDeleting(file, ROWS);
    const second = await runCli(['sessions', 'purge'], { cwd });
    expect(second.code).toBe(75);
    expect(second.stderr).toMatch(/Another authctl purge is running/);
    expect(second.stderr).toMatch(/--wait/);
    const waiting = startPurge(cwd, ['--wait', '--json']);
    const r = await first.done;
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ deleted: ROWS, remaining: 0 });
    expect(JSON.parse(r.stdout).batches).toBeGreaterThan(1);
    const w = await waiting.done;
    expect(w.code, w.stderr).toBe(0);
    expect(JSON.parse(w.stdout)).toMatchObject({ deleted: 0, remaining: 0 });
    expect(sessionIds(file)).toEqual([]);
  }, 120_000);

  it('SIGINT stops after the current batch, keeps what was committed, releases the lock, exits 130', async () => {
    const { cwd, file } = await largeFixture(ROWS);
    const run = startPurge(cwd, ['--max-lock', '5', '--batch-size', '300', '--json']);
    await untilDeleting(file, ROWS);
    run.child.kill('SIGINT');
    const r = await run.done;
    expect(r.code).toBe(130);
    expect(r.stderr).toMatch(/Stopped by SIGINT/);
    expect(hasStackTrace(r.stderr)).toBe(false);
    const summary = JSON.parse(r.stdout);
    expect(summary.interrupted).toBe(true);
    expect(summary.deleted).toBeGreaterThan(0);
    expect(summary.deleted).toBeLessThan(ROWS);
    expect(sessionIds(file)).toHaveLength(ROWS - summary.deleted);
    const audit = auditRows(file);
    expect(audit).toHaveLength(1);
    expect(JSON.parse(audit[0]!.details!)).toMatchObject({ interrupted: true, deleted: summary.deleted });
    // The lock went with it: the next purge runs at once and finishes the job.
    const next = await runCli(['sessions', 'purge', '--json'], { cwd });
    expect(next.code, next.stderr).toBe(0);
    expect(JSON.parse(next.stdout)).toMatchObject({ deleted: ROWS - summary.deleted, remaining: 0 });
  }, 120_000);
});
