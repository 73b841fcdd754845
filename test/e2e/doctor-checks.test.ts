import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { runCli, tempDir } from '../support/cli.js';

const FAST = { AUTHCTL_BCRYPT_ROUNDS: '10' };

type Check = { id: string; status: string; detail: string; hint?: string };

async function doctor(cwd: string): Promise<{ code: number | null; checks: Record<string, Check> }> {
  const r = await runCli(['doctor', '--json'], { cwd });
  return { code: r.code, checks: Object.fromEntries(JSON.parse(r.stdout).checks.map((c: Check) => [c.id, c])) };
}

async function initialised(): Promise<{ cwd: string; file: string }> {
  const cwd = tempDir();
  const r = await runCli(['init-db', '--generate-password'], { cwd, env: FAST });
  expect(r.code, r.stderr).toBe(0);
  return { cwd, file: path.join(cwd, 'gpustack_ui.db') };
}

describe('doctor: is the database private', () => {
  it('counts the -wal file: the app made it while the file was 0644, and it holds live session tokens', async () => {
    const { cwd, file } = await initialised();
    fs.chmodSync(file, 0o644);
    // The app, running: WAL mode, a connection kept open, a login written to the log.
    const app = new Database(file);
    try {
      app.pragma('journal_mode = WAL');
      app.pragma('wal_autocheckpoint = 0');
      app.exec("INSERT INTO user_sessions (user_id, session_token, jti, token_type, expires_at, created_at, last_accessed) VALUES (1, 'live-token', 'j1', 'access', '2999-01-01 00:00:00', '2026-01-01 00:00:00', '2026-01-01 00:00:00')");
      expect(fs.statSync(`${file}-wal`).mode & 0o777).toBe(0o644);
      // What doctor advised until now: the file alone.
      fs.chmodSync(file, 0o600);
      const { code, checks } = await doctor(cwd);
      expect(code).toBe(0);
      expect(checks['file-mode']).toMatchObject({ status: 'warn', detail: expect.stringMatching(/^mode 0600, -wal 0644: -wal is world-readable/) });
      expect(checks['file-mode']!.hint).toContain(`chmod 600 ${file}-wal`);
      expect(checks['file-mode']!.hint).not.toContain(`chmod 600 ${file} `);
      fs.chmodSync(`${file}-wal`, 0o600);
      expect((await doctor(cwd)).checks['file-mode']).toMatchObject({ status: 'ok', detail: 'mode 0600, -wal 0600' });
    } finally {
      app.close();
    }
  });
});

describe('doctor: can the app seed admin/admin', () => {
  it('fails on an empty users table, which the app fills with admin/admin at its next start', async () => {
    const { cwd, file } = await initialised();
    const db = new Database(file);
    db.exec('DELETE FROM user_preferences; DELETE FROM user_sessions; DELETE FROM users');
    db.close();
    const { code, checks } = await doctor(cwd);
    expect(code).toBe(8);
    expect(checks['admin-name']).toMatchObject({ status: 'fail', detail: expect.stringMatching(/^there are no users: the app creates admin\/admin/) });
    // What the hint says to run is what fixes it.
    expect((await runCli(['user', 'add', 'alice', '--admin', '--generate-password'], { cwd, env: FAST })).code).toBe(0);
    expect((await runCli(['migrate', '-q'], { cwd })).code).toBe(0);
    const after = await doctor(cwd);
    expect(after.checks['admin-name']).toMatchObject({ status: 'ok' });
    expect(after.code).toBe(0);
  });
});

describe('doctor --token-file', () => {
  it('warns about a key file other users can read, as gpustack check and sync do, without printing the key', async () => {
    const { cwd } = await initialised();
    const key = path.join(cwd, 'key');
    fs.writeFileSync(key, 'gpustack_0123456789abcdef\n', { mode: 0o644 });
    fs.chmodSync(key, 0o644);
    const env = { AUTHCTL_GPUSTACK_RETRY_BASE_MS: '5', AUTHCTL_GPUSTACK_CONNECT_TIMEOUT_MS: '500', AUTHCTL_GPUSTACK_TIMEOUT_MS: '500' };
    const r = await runCli(['doctor', '--url', 'http://127.0.0.1:9', '--token-file', key], { cwd, env });
    expect(r.code).toBe(8);
    expect(r.stderr).toContain(`The token file ${key} is readable by other users (mode 0644)`);
    expect(r.stdout + r.stderr).not.toContain('0123456789abcdef');
  });
});

describe('doctor -q', () => {
  it('prints a failed row as one sentence and its hint, however the detail ends', async () => {
    const cwd = tempDir();
    fs.writeFileSync(path.join(cwd, 'gpustack_ui.db'), 'this is not a database file, only text long enough to have a header '.repeat(4));
    const r = await runCli(['doctor', '-q'], { cwd });
    expect(r.code).toBe(8);
    expect(r.stdout + r.stderr).toMatch(/database opens: .*gpustack_ui\.db is not a SQLite database\. Check DATABASE_URL/);
    expect(r.stdout + r.stderr).not.toMatch(/\.\. /);
  });
});
