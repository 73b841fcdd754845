import { beforeAll, describe, expect, it } from 'vitest';
import { hasStackTrace } from '../support/cli.js';
import { APP_DATETIME, appTimestamp, cli, describeProviders, fillAppDatabase, independentBcrypt, type TestDb, unparseable } from '../support/db.js';
import { CTRL_C, ptyMissing, runOnPty } from '../support/pty.js';

/**
 * `user set` and `user delete` on a database the newest app made and
 * authctl adopted: its chat history, its seeded admin, a GPUStack-linked user.
 */

const FAST = { AUTHCTL_BCRYPT_ROUNDS: '10' };

const CHAT_TABLES = ['conversations', 'messages'];

/** Every row of every table the app and authctl share, to prove nothing moved. */
async function snapshot(db: TestDb, tables = ['users', 'user_sessions', 'user_preferences', 'authctl_audit', ...CHAT_TABLES]): Promise<string> {
  const out: Record<string, unknown> = {};
  for (const t of tables) out[t] = await db.query(`SELECT * FROM ${t} ORDER BY ${CHAT_TABLES.includes(t) ? 'created_at, id' : 'id'}`);
  return JSON.stringify(out);
}

async function user(db: TestDb, username: string): Promise<Record<string, unknown> | undefined> {
  return (await db.query<Record<string, unknown>>('SELECT * FROM users WHERE username = ?', username))[0];
}

async function count(db: TestDb, query: string, ...params: unknown[]): Promise<number> {
  const [row] = await db.query<{ n: number }>(query, ...params);
  return Number(row!.n);
}

async function auditRows(db: TestDb, command: string): Promise<Array<{ target: string; summary: string; details: Record<string, unknown> }>> {
  const rows = await db.query<{ target: string; summary: string; details: string }>('SELECT target, summary, details FROM authctl_audit WHERE command = ? ORDER BY id', command);
  return rows.map((r) => ({ ...r, details: JSON.parse(r.details) }));
}

/** Rows that point at a user or conversation that is gone. */
async function dangling(db: TestDb): Promise<number> {
  return (
    (await count(db, 'SELECT count(*) AS n FROM user_sessions WHERE user_id NOT IN (SELECT id FROM users)')) +
    (await count(db, 'SELECT count(*) AS n FROM user_preferences WHERE user_id NOT IN (SELECT id FROM users)')) +
    (await count(db, 'SELECT count(*) AS n FROM conversations WHERE user_id NOT IN (SELECT id FROM users)')) +
    (await count(db, 'SELECT count(*) AS n FROM messages WHERE conversation_id NOT IN (SELECT id FROM conversations)'))
  );
}

describeProviders('user lifecycle', ({ provider, newDb, cloneDb }) => {
  let template: TestDb;

  /**
   * The newest app's database, adopted: admin (1) and alice (2) are active
   * admins, bob (3) owns chat history, dana (4) is linked to GPUStack, erin (5)
   * has an email and a preference.
   */
  beforeAll(async () => {
    template = await newDb();
    const later = appTimestamp(new Date(Date.now() + 20 * 60_000));
    const hash = independentBcrypt('a long enough passphrase', 10);
    await fillAppDatabase(template, {
      version: 'v2.5.4',
      users: [
        { username: 'admin', email: 'admin@localhost', passwordHash: hash, isAdmin: true, fullName: 'Default Admin' },
        { username: 'alice', email: 'alice@example.com', passwordHash: hash, isAdmin: true, fullName: 'Alice' },
        { username: 'bob', passwordHash: hash, fullName: 'Bob' },
        { username: 'dana', gpustackUserId: 12, fullName: 'Dana' },
        { username: 'erin', email: 'erin@example.com', passwordHash: hash, fullName: 'Erin' },
      ],
      sessions: [
        { userId: 2, expiresAt: later },
        { userId: 2, expiresAt: later, tokenType: 'refresh' },
        { userId: 3, expiresAt: later },
        { userId: 5, expiresAt: later },
      ],
      prefs: [
        { userId: 3, key: 'theme', value: 'dark' },
        { userId: 5, key: 'theme', value: 'light' },
      ],
      conversations: [
        { userId: 3, title: 'Cluster sizing', messages: ['How many GPUs?', 'Four would do.'] },
        { userId: 3, title: 'Hello', messages: ['hi'] },
        { userId: 4, title: 'Notes', messages: ['one'] },
      ],
    });
    const adopt = await cli(template, ['migrate']);
    expect(adopt.code, adopt.stderr).toBe(0);
  });

  const fresh = () => cloneDb(template);

  describe('user set', () => {
    it('changes full name, email and admin flag in the app\'s formats, with one audit row naming the fields', async () => {
      const db = await fresh();
      const r = await cli(db, ['user', 'set', 'erin', '--full-name', 'Erin Ode', '--email', 'erin@corp.example', '--admin', '--json']);
      expect(r.code, r.stderr).toBe(0);
      const out = JSON.parse(r.stdout);
      expect(out).toMatchObject({ dryRun: false, revokedSessions: 0, reservedAdmin: false, user: { username: 'erin', fullName: 'Erin Ode', email: 'erin@corp.example', isAdmin: true } });
      expect(out.changes).toEqual([
        { field: 'fullName', from: 'Erin', to: 'Erin Ode' },
        { field: 'email', from: 'erin@example.com', to: 'erin@corp.example' },
        { field: 'isAdmin', from: false, to: true },
      ]);
      const row = await user(db, 'erin');
      expect(row).toMatchObject({ full_name: 'Erin Ode', email: 'erin@corp.example', is_admin: 1, is_active: 1 });
      expect(row!.updated_at).toMatch(APP_DATETIME);
      expect(row!.updated_at).not.toBe(row!.created_at);
      // Promotion keeps the sessions.
      expect(await count(db, 'SELECT count(*) AS n FROM user_sessions WHERE user_id = 5')).toBe(1);
      expect(r.stdout).not.toContain(row!.password_hash as string);
      const audit = await auditRows(db, 'user set');
      expect(audit).toHaveLength(1);
      expect(audit[0]).toMatchObject({ target: 'erin', details: { changes: { fullName: { from: 'Erin', to: 'Erin Ode' }, isAdmin: { from: false, to: true } }, revokedSessions: 0 } });
      expect(JSON.stringify(audit)).not.toContain('$2');
      expect(await unparseable(db)).toEqual([]);

      const clear = await cli(db, ['user', 'set', 'erin', '--no-email']);
      expect(clear.code, clear.stderr).toBe(0);
      expect((await user(db, 'erin'))!.email).toBeNull();
      const same = await cli(db, ['user', 'set', 'erin', '--no-email', '--full-name', 'Erin Ode']);
      expect(same.code).toBe(0);
      expect(same.stdout).toMatch(/Nothing to do/);
      expect(await auditRows(db, 'user set')).toHaveLength(2);
    });

    it('demotion and rename revoke the user\'s sessions in the same change and say how many', async () => {
      const db = await fresh();
      const demote = await cli(db, ['user', 'set', 'alice', '--no-admin']);
      expect(demote.code, demote.stderr).toBe(0);
      expect(demote.stdout).toMatch(/Revoked 2 session\(s\)/);
      expect(await count(db, 'SELECT count(*) AS n FROM user_sessions WHERE user_id = 2')).toBe(0);
      expect((await user(db, 'alice'))!.is_admin).toBe(0);

      const rename = await cli(db, ['user', 'set', 'bob', '--rename', 'robert', '--json']);
      expect(rename.code, rename.stderr).toBe(0);
      expect(JSON.parse(rename.stdout)).toMatchObject({ revokedSessions: 1, user: { id: 3, username: 'robert' } });
      expect(await user(db, 'bob')).toBeUndefined();
      expect((await user(db, 'robert'))!.id).toBe(3);
      expect(await count(db, 'SELECT count(*) AS n FROM user_sessions WHERE user_id = 3')).toBe(0);
      // The rest of the user's rows stay with it.
      expect(await count(db, 'SELECT count(*) AS n FROM conversations WHERE user_id = 3')).toBe(2);
      expect(await count(db, 'SELECT count(*) AS n FROM user_preferences WHERE user_id = 3')).toBe(1);
      expect(await count(db, 'SELECT count(*) AS n FROM user_sessions')).toBe(1);
      const audit = await auditRows(db, 'user set');
      expect(audit.map((a) => a.details.revokedSessions)).toEqual([2, 1]);
      expect(audit[1]!.details.changes).toEqual({ username: { from: 'bob', to: 'robert' } });
      expect(await unparseable(db)).toEqual([]);
    });

    it('renaming the user named admin keeps a disabled placeholder under that name, in the same transaction', async () => {
      const db = await fresh();
      const r = await cli(db, ['user', 'set', 'admin', '--rename', 'root']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toMatch(/Kept a disabled user named "admin" with no password/);
      expect((await user(db, 'root'))!.is_admin).toBe(1);
      const placeholder = await user(db, 'admin');
      expect(placeholder).toMatchObject({ is_admin: 0, is_active: 0, password_hash: null, gpustack_user_id: null });
      expect(placeholder!.full_name).toBeTruthy();
      expect(placeholder!.created_at).toMatch(APP_DATETIME);
      expect((await auditRows(db, 'user set'))[0]!.details).toMatchObject({ reservedAdmin: true });
      // The placeholder holds the name: renaming someone to it is a conflict.
      const before = await snapshot(db);
      const taken = await cli(db, ['user', 'set', 'erin', '--rename', 'admin']);
      expect(taken.code).toBe(4);
      expect(await snapshot(db)).toBe(before);
      const doctor = JSON.parse((await cli(db, ['doctor', '--json'])).stdout) as { checks: Array<{ id: string; status: string }> };
      expect(doctor.checks.find((c) => c.id === 'admin-name')!.status).toBe('ok');
    });

    it('refuses to demote or rename the last active admin (exit 7) unless --force', async () => {
      const db = await fresh();
      expect((await cli(db, ['user', 'set', 'alice', '--no-admin'])).code).toBe(0);
      const before = await snapshot(db);
      for (const args of [['--no-admin'], ['--rename', 'root']]) {
        const r = await cli(db, ['user', 'set', 'admin', ...args, '--json']);
        expect(r.code, r.stderr).toBe(7);
        expect(JSON.parse(r.stderr).error).toMatchObject({ code: 'LAST_ADMIN', hint: expect.stringMatching(/--force/) });
        expect(await snapshot(db)).toBe(before);
      }
      const dry = await cli(db, ['user', 'set', 'admin', '--no-admin', '--dry-run']);
      expect(dry.code).toBe(7);
      const forced = await cli(db, ['user', 'set', 'admin', '--no-admin', '--force']);
      expect(forced.code, forced.stderr).toBe(0);
      expect((await user(db, 'admin'))!.is_admin).toBe(0);
      expect((await auditRows(db, 'user set')).at(-1)!.details).toMatchObject({ forced: ['last-admin'] });
    });

    it('refuses changes gpustack sync owns on a linked user (exit 7) unless --force; the email is always editable', async () => {
      const db = await fresh();
      const before = await snapshot(db);
      for (const args of [['--full-name', 'Dana X'], ['--admin'], ['--rename', 'dana2']]) {
        const r = await cli(db, ['user', 'set', 'dana', ...args]);
        expect(r.code, r.stderr).toBe(7);
        expect(r.stderr).toMatch(/next `gpustack sync` would undo/);
        expect(hasStackTrace(r.stderr)).toBe(false);
        expect(await snapshot(db)).toBe(before);
      }
      const email = await cli(db, ['user', 'set', 'dana', '--email', 'dana@example.com']);
      expect(email.code, email.stderr).toBe(0);
      expect((await user(db, 'dana'))!.email).toBe('dana@example.com');
      const forced = await cli(db, ['user', 'set', 'dana', '--full-name', 'Dana X', '--force']);
      expect(forced.code, forced.stderr).toBe(0);
      expect(forced.stderr).toMatch(/gpustack sync/);
      expect((await user(db, 'dana'))!.full_name).toBe('Dana X');
      expect((await auditRows(db, 'user set')).at(-1)!.details).toMatchObject({ forced: ['gpustack-linked'] });
    });

    it('--dry-run shows the changes and the sessions that would go, and changes nothing', async () => {
      const db = await fresh();
      const before = await snapshot(db);
      const r = await cli(db, ['user', 'set', 'alice', '--no-admin', '--rename', 'alicia', '--dry-run']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/Would change "alice"/);
      expect(r.stdout).toMatch(/username: "alice" → "alicia"/);
      expect(r.stdout).toMatch(/Would revoke 2 session\(s\)/);
      const json = await cli(db, ['user', 'set', 'admin', '--rename', 'root', '--dry-run', '--json']);
      expect(JSON.parse(json.stdout)).toMatchObject({ dryRun: true, reservedAdmin: true, user: { username: 'root' } });
      expect(await snapshot(db)).toBe(before);
    });

    it.each([
      ['a taken username', ['user', 'set', 'erin', '--rename', 'alice'], 4, /already taken/],
      ['a taken email', ['user', 'set', 'erin', '--email', 'alice@example.com'], 4, /already belongs/],
      ['a two-character username', ['user', 'set', 'erin', '--rename', 'er'], 2, /at least 3/],
      ['a 51-character username', ['user', 'set', 'erin', '--rename', 'e'.repeat(51)], 2, /at most 50/],
      ['a 101-character full name', ['user', 'set', 'erin', '--full-name', 'E'.repeat(101)], 2, /at most 100/],
      ['a control character in the full name', ['user', 'set', 'erin', '--full-name', 'Erin\u001b[2J'], 2, /control characters/],
      ['nothing to change', ['user', 'set', 'erin'], 2, /Nothing to change/],
      ['an unknown user', ['user', 'set', 'nobody', '--admin'], 3, /No user named "nobody"/],
    ])('refuses %s with its exit code and changes nothing', async (_name, args, code, message) => {
      const db = await fresh();
      const before = await snapshot(db);
      const r = await cli(db, args as string[]);
      expect(r.code, r.stderr).toBe(code);
      expect(r.stderr).toMatch(message as RegExp);
      expect(r.stderr).toMatch(/hint: /);
      expect(hasStackTrace(r.stderr)).toBe(false);
      expect(await snapshot(db)).toBe(before);
    });

    /** bob (active, not an admin) and alice (an admin) get a well-known password; alice is disabled. */
    async function weakPasswords(): Promise<TestDb> {
      const db = await fresh();
      await db.query('UPDATE users SET password_hash = ? WHERE username = ?', independentBcrypt('changeme', 4), 'bob');
      await db.query('UPDATE users SET password_hash = ? WHERE username = ?', independentBcrypt('alice', 4), 'alice');
      expect((await cli(db, ['user', 'disable', 'alice'])).code).toBe(0);
      return db;
    }

    it('refuses to make an admin of an active user whose password is a well-known one, in a dry run too, and never names it', async () => {
      const db = await weakPasswords();
      const before = await snapshot(db);
      for (const args of [['user', 'set', 'bob', '--admin'], ['user', 'set', 'bob', '--admin', '--dry-run'], ['user', 'set', 'bob', '--admin', '--full-name', 'Bob B', '--json']]) {
        const r = await cli(db, args);
        expect(r.code, r.stderr).toBe(7);
        expect(r.stderr + r.stdout).toMatch(/Making bob an admin would leave an active admin with a well-known password: its password is a well-known default/);
        expect(r.stderr + r.stdout).toMatch(/authctl user reset bob.*--allow-weak-password/);
        expect(r.stderr + r.stdout).not.toContain('changeme');
        expect(hasStackTrace(r.stderr)).toBe(false);
      }
      expect(await snapshot(db)).toBe(before);
      // The app's documented test password is well-known for any user, not only for its own account.
      await db.query('UPDATE users SET password_hash = ? WHERE username = ?', independentBcrypt('testpass', 4), 'bob');
      expect((await cli(db, ['user', 'set', 'bob', '--admin'])).code).toBe(7);
      // A disabled user made an admin is checked when it is enabled.
      await db.query('UPDATE users SET password_hash = ? WHERE username = ?', independentBcrypt('changeme', 4), 'erin');
      expect((await cli(db, ['user', 'disable', 'erin'])).code).toBe(0);
      expect((await cli(db, ['user', 'set', 'erin', '--admin'])).code).toBe(0);
      expect((await cli(db, ['user', 'enable', 'erin'])).code).toBe(7);
      // Renamed and made an admin in one step: its password must not be the new name either.
      await db.query('UPDATE users SET password_hash = ? WHERE username = ?', independentBcrypt('carol-the-admin', 4), 'bob');
      const renamed = await snapshot(db);
      const r = await cli(db, ['user', 'set', 'bob', '--rename', 'carol-the-admin', '--admin']);
      expect(r.code, r.stderr).toBe(7);
      expect(r.stderr).toMatch(/its password is its username/);
      expect(await snapshot(db)).toBe(renamed);
    });

    it('makes the admin with --allow-weak-password, warns, and records the override in the audit row', async () => {
      const db = await weakPasswords();
      const r = await cli(db, ['user', 'set', 'bob', '--admin', '--allow-weak-password']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toMatch(/warning: This admin's password is a well-known one/);
      expect((await user(db, 'bob'))!.is_admin).toBe(1);
      const [audit] = await auditRows(db, 'user set');
      expect(audit!.details).toMatchObject({ changes: { isAdmin: { from: false, to: true } }, weakPasswordAllowed: true });
      expect(JSON.stringify(audit)).not.toContain('changeme');
    });

    it('refuses to enable an admin whose password is a well-known one unless --allow-weak-password', async () => {
      const db = await weakPasswords();
      const before = await snapshot(db);
      const refusedRun = await cli(db, ['user', 'enable', 'alice']);
      expect(refusedRun.code, refusedRun.stderr).toBe(7);
      expect(refusedRun.stderr).toMatch(/Enabling admin alice would leave an active admin with a well-known password: its password is its username/);
      expect(await snapshot(db)).toBe(before);
      const allowed = await cli(db, ['user', 'enable', 'alice', '--allow-weak-password', '--json']);
      expect(allowed.code, allowed.stderr).toBe(0);
      expect(JSON.parse(allowed.stdout)).toMatchObject({ changed: true, weakPasswordAllowed: true });
      expect((await user(db, 'alice'))!.is_active).toBe(1);
      const enabled = (await auditRows(db, 'user enable')).at(-1);
      expect(enabled!.details).toMatchObject({ weakPasswordAllowed: true });
      // Which well-known password it is would tell every reader of the audit log.
      expect(JSON.stringify(enabled)).not.toMatch(/username|default|app-account/);
      // A user that is no admin is not held up, whatever its password.
      await db.query('UPDATE users SET password_hash = ? WHERE username = ?', independentBcrypt('changeme', 4), 'erin');
      for (const name of ['erin', 'bob']) {
        expect((await cli(db, ['user', 'disable', name])).code).toBe(0);
        expect((await cli(db, ['user', 'enable', name])).code).toBe(0);
      }
    });

    it("names the app's seeded credentials when the admin still has them", async () => {
      const db = await fresh();
      await db.query('UPDATE users SET password_hash = ? WHERE username = ?', independentBcrypt('admin', 4), 'admin');
      expect((await cli(db, ['user', 'disable', 'admin'])).code).toBe(0);
      const r = await cli(db, ['user', 'enable', 'admin']);
      expect(r.code, r.stderr).toBe(7);
      expect(r.stderr).toMatch(/it still has the app's default credentials admin\/admin/);
    });
  });

  describe('user disable and enable', () => {
    it('act at once on a user linked to GPUStack, and warn that the next sync sets the flag from GPUStack', async () => {
      const db = await fresh();
      const disabled = await cli(db, ['user', 'disable', 'dana']);
      expect(disabled.code, disabled.stderr).toBe(0);
      expect(disabled.stderr).toMatch(/warning: "dana" is linked to GPUStack user 12.*the next sync enables it again if it is active there\. Disable it in GPUStack too\./);
      expect((await user(db, 'dana'))!.is_active).toBe(0);
      const enabled = await cli(db, ['user', 'enable', 'dana']);
      expect(enabled.code, enabled.stderr).toBe(0);
      expect(enabled.stderr).toMatch(/the next sync disables it again if it is disabled there\. Enable it in GPUStack too\./);
      // No change, no warning; a user not linked gets none either.
      expect((await cli(db, ['user', 'enable', 'dana'])).stderr).not.toMatch(/warning/);
      expect((await cli(db, ['user', 'disable', 'erin'])).stderr).not.toMatch(/warning/);
    });
  });

  describe('user delete', () => {
    it('refuses a user who owns conversations (exit 7, with the counts); --delete-conversations takes everything in one go', async () => {
      const db = await fresh();
      const before = await snapshot(db);
      const refusedRun = await cli(db, ['user', 'delete', 'bob', '--yes', '--json']);
      expect(refusedRun.code, refusedRun.stderr).toBe(7);
      expect(JSON.parse(refusedRun.stderr).error).toMatchObject({ code: 'OWNS_CONVERSATIONS', message: expect.stringMatching(/2 conversation\(s\) with 3 message\(s\)/) });
      expect(await snapshot(db)).toBe(before);

      const noTty = await cli(db, ['user', 'delete', 'bob', '--delete-conversations']);
      expect(noTty.code).toBe(7);
      expect(noTty.stderr).toMatch(/needs confirmation.*\n.*--yes/);
      expect(noTty.stderr).toMatch(/1 session\(s\), 1 preference\(s\), 2 conversation\(s\), 3 message\(s\)/);
      expect(await snapshot(db)).toBe(before);

      const dry = await cli(db, ['user', 'delete', 'bob', '--delete-conversations', '--dry-run', '--json']);
      expect(dry.code, dry.stderr).toBe(0);
      expect(JSON.parse(dry.stdout)).toMatchObject({ dryRun: true, chatTables: true, deleted: { sessions: 1, preferences: 1, conversations: 2, messages: 3 } });
      expect(await snapshot(db)).toBe(before);

      const r = await cli(db, ['user', 'delete', 'bob', '--delete-conversations', '--yes']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/conversations: 2/);
      expect(r.stdout).toMatch(/messages: 3/);
      expect(await user(db, 'bob')).toBeUndefined();
      expect(await dangling(db)).toBe(0);
      // Nobody else lost anything.
      expect(await count(db, 'SELECT count(*) AS n FROM conversations')).toBe(1);
      expect(await count(db, 'SELECT count(*) AS n FROM messages')).toBe(1);
      expect(await count(db, 'SELECT count(*) AS n FROM user_sessions')).toBe(3);
      expect(await count(db, 'SELECT count(*) AS n FROM user_preferences')).toBe(1);
      const [audit] = await auditRows(db, 'user delete');
      expect(audit).toMatchObject({ target: 'bob', details: { username: 'bob', userId: 3, sessions: 1, preferences: 1, conversations: 2, messages: 3 } });
      expect(JSON.stringify(audit)).not.toContain('$2');
    });

    it('deletes a user without chat history with its sessions and preferences', async () => {
      const db = await fresh();
      const r = await cli(db, ['user', 'delete', 'erin', '--yes', '--json']);
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ dryRun: false, user: { username: 'erin' }, deleted: { sessions: 1, preferences: 1, conversations: 0, messages: 0 } });
      expect(await user(db, 'erin')).toBeUndefined();
      expect(await dangling(db)).toBe(0);
    });

    it.each([
      ['the user named admin', 'admin', [], 'ADMIN_NAME_RESERVED', /user disable admin/],
      ['a GPUStack-linked user', 'dana', ['--delete-conversations'], 'GPUSTACK_LINKED', /--force/],
    ])('refuses %s (exit 7) and changes nothing', async (_name, username, extra, code, hint) => {
      const db = await fresh();
      const before = await snapshot(db);
      for (const dryRun of [[], ['--dry-run']]) {
        const r = await cli(db, ['user', 'delete', username as string, '--yes', ...(extra as string[]), ...dryRun, '--json']);
        expect(r.code, r.stderr).toBe(7);
        expect(JSON.parse(r.stderr).error).toMatchObject({ code, hint: expect.stringMatching(hint as RegExp) });
      }
      expect(await snapshot(db)).toBe(before);
    });

    it('refuses the last active admin, suggesting user disable; --force deletes a linked user', async () => {
      const db = await fresh();
      expect((await cli(db, ['user', 'set', 'admin', '--no-admin'])).code).toBe(0);
      const before = await snapshot(db);
      const last = await cli(db, ['user', 'delete', 'alice', '--yes']);
      expect(last.code).toBe(7);
      expect(last.stderr).toMatch(/last active admin/);
      expect(last.stderr).toMatch(/user disable alice/);
      expect(await snapshot(db)).toBe(before);

      const missing = await cli(db, ['user', 'delete', 'nobody', '--yes']);
      expect(missing.code).toBe(3);
      expect(await snapshot(db)).toBe(before);

      const forced = await cli(db, ['user', 'delete', 'dana', '--force', '--delete-conversations', '--yes']);
      expect(forced.code, forced.stderr).toBe(0);
      expect(forced.stderr).toMatch(/gpustack sync/);
      expect(await user(db, 'dana')).toBeUndefined();
      expect(await dangling(db)).toBe(0);
      expect((await auditRows(db, 'user delete'))[0]!.details).toMatchObject({ forced: 'gpustack-linked', conversations: 1, messages: 1 });
    });

    it('works on a database without the app\'s chat tables (app v2.2)', async () => {
      const db = await newDb();
      expect((await cli(db, ['init-db', '--password-stdin'], { input: 'an admin passphrase', env: FAST })).code).toBe(0);
      expect((await cli(db, ['user', 'add', 'gus', '--generate-password'], { env: FAST })).code).toBe(0);
      const dry = await cli(db, ['user', 'delete', 'gus', '--dry-run']);
      expect(dry.code, dry.stderr).toBe(0);
      expect(dry.stdout).not.toMatch(/conversations/);
      const r = await cli(db, ['user', 'delete', 'gus', '--yes', '--json']);
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ chatTables: false, deleted: { conversations: 0, messages: 0 } });
      expect(await user(db, 'gus')).toBeUndefined();
    });

    const noPty = ptyMissing();
    it.skipIf(noPty !== null)('asks on a terminal; Ctrl+C at the question exits 130 and changes nothing', async () => {
      const db = await fresh();
      const before = await snapshot(db);
      const r = await runOnPty(['user', 'delete', 'erin'], {
        cwd: db.cwd,
        env: { ...db.env, NO_COLOR: '1' },
        steps: [{ waitFor: 'Delete user "erin" with 1 session(s)', send: CTRL_C }],
      });
      expect(r.timedOut, r.output).toBeNull();
      expect(r.code, r.output).toBe(130);
      expect(r.output).toMatch(/Cancelled/);
      expect(await snapshot(db)).toBe(before);

      const yes = await runOnPty(['user', 'delete', 'erin'], { cwd: db.cwd, env: { ...db.env, NO_COLOR: '1' }, steps: [{ waitFor: 'Delete user "erin"', send: 'y\r' }] });
      expect(yes.code, yes.output).toBe(0);
      expect(await user(db, 'erin')).toBeUndefined();
    });
  });

  it(`leaves rows the app can read [${provider}]`, async () => {
    const db = await fresh();
    expect((await cli(db, ['user', 'set', 'admin', '--rename', 'root'])).code).toBe(0);
    expect((await cli(db, ['user', 'set', 'alice', '--no-admin', '--email', 'a@x.example'])).code).toBe(0);
    expect((await cli(db, ['user', 'delete', 'bob', '--delete-conversations', '--yes'])).code).toBe(0);
    expect(await unparseable(db)).toEqual([]);
    for (const row of await db.query<{ full_name: string | null }>('SELECT full_name FROM users')) expect(row.full_name).toBeTruthy();
    const status = await cli(db, ['migrate', 'status', '--json']);
    expect(status.code, status.stderr).toBe(0);
  });
});
