import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { hasStackTrace } from '../support/cli.js';
import { cli, describeProviders, type TestDb } from '../support/db.js';

/**
 * Rows another tool wrote: a timestamp in no known form, a boolean that is
 * not 0/1. The user commands show such a value as stored, keep working on
 * that user, and refuse (exit 5, naming user, column and value) only where
 * the value decides a safety check. They never exit 1.
 */

const FAST = { AUTHCTL_BCRYPT_ROUNDS: '10' };
const ADMIN_PASSWORD = 'an admin passphrase';

describeProviders('users with unreadable stored values', ({ provider, newDb, cloneDb }) => {
  let template: TestDb | null = null;
  /** An admin `admin`, a user `bob` and a second admin `carol`. */
  async function seeded(): Promise<TestDb> {
    if (!template) {
      const db = await newDb();
      expect((await cli(db, ['init-db', '--password-stdin'], { input: ADMIN_PASSWORD, env: FAST })).code).toBe(0);
      expect((await cli(db, ['user', 'add', 'bob', '--generate-password'], { env: FAST })).code).toBe(0);
      expect((await cli(db, ['user', 'add', 'carol', '--admin', '--generate-password'], { env: FAST })).code).toBe(0);
      template = db;
    }
    return cloneDb(template);
  }

  /** Odd values each provider can hold: SQLite stores any text or number; PostgreSQL's typed columns take only `infinity`. */
  const oddTimestamp = provider === 'sqlite' ? "''" : "'infinity'";
  const shownTimestamp = provider === 'sqlite' ? '' : 'infinity';

  function expectClean(r: { code: number | null; stdout: string; stderr: string }): void {
    expect(r.code, r.stderr).not.toBe(1);
    expect(r.stderr).not.toMatch(/Unexpected error|This is a bug|Unrecognised timestamp|not a boolean\b(?! \()/);
    expect(hasStackTrace(r.stderr)).toBe(false);
  }

  it('audit lists an entry whose time or details were changed by hand, as stored, instead of failing', async () => {
    const db = await seeded();
    // bob's entry: an unreadable time; carol's: details that are not JSON.
    await db.exec(`UPDATE authctl_audit SET at = ${oddTimestamp} WHERE target = 'bob'`);
    await db.exec(`UPDATE authctl_audit SET details = '{not json' WHERE target = 'carol'`);
    const r = await cli(db, ['audit']);
    expectClean(r);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^"?${shownTimestamp}"? \\(unknown form\\) +\\S+ +user add +bob `, 'm'));
    expect(r.stdout).toMatch(/ user add +carol /);
    expect(r.stdout).toMatch(/ init-db +admin /);
    const json = await cli(db, ['audit', '--json']);
    expect(json.code, json.stderr).toBe(0);
    const entries = JSON.parse(json.stdout).entries as Array<{ target: string; at: string; details: unknown }>;
    expect(entries.find((e) => e.target === 'bob')!.at).toBe(shownTimestamp);
    expect(entries.find((e) => e.target === 'carol')!.details).toBe('{not json');
    expect(entries.find((e) => e.target === 'admin')!.at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    if (provider === 'sqlite') {
      // A number is no timestamp here, as in the app's tables: not 1970.
      await db.exec(`UPDATE authctl_audit SET at = 12345 WHERE target = 'bob'`);
      const n = await cli(db, ['audit']);
      expect(n.code, n.stderr).toBe(0);
      expect(n.stdout).toMatch(/^12345 \(unknown form\) +\S+ +user add +bob /m);
      expect(n.stdout).not.toContain('1970');
    }
  });

  if (provider === 'sqlite') it('a BLOB in a text column is exported and listed as x\'hex\' text, never as a Buffer\'s JSON', async () => {
    const db = await seeded();
    await db.exec("UPDATE users SET full_name = x'4142' WHERE username = 'bob'");
    await db.exec(
      "INSERT INTO user_sessions (user_id, session_token, jti, token_type, expires_at, created_at, last_accessed, ip_address, user_agent) " +
        "SELECT id, 'tok', x'6a31', 'access', '2099-01-01 00:00:00', '2026-01-01 00:00:00', '2026-01-01 00:00:00', x'3130', x'1b5b324a' FROM users WHERE username = 'bob'",
    );
    const csv = await cli(db, ['user', 'export']);
    expect(csv.code, csv.stderr).toBe(0);
    expect(csv.stdout).toMatch(/^bob,,x'4142',false,true$/m);
    const json = await cli(db, ['user', 'export', '--format', 'json']);
    expect(JSON.parse(json.stdout).find((u: { username: string }) => u.username === 'bob').full_name).toBe("x'4142'");
    const sessions = await cli(db, ['--json', 'sessions', 'list', '--user', 'bob']);
    expect(sessions.code, sessions.stderr).toBe(0);
    expect(JSON.parse(sessions.stdout).sessions[0]).toMatchObject({ ipAddress: "x'3130'", userAgent: "x'1b5b324a'", jti: "x'6a31'" });
    expect(csv.stdout + json.stdout + sessions.stdout).not.toContain('Buffer');
  });

  it('user list and user show display an unreadable timestamp as stored, marked, in text and JSON', async () => {
    const db = await seeded();
    const created = provider === 'sqlite' ? "'garbage\u001b[31m'" : "'-infinity'";
    await db.exec(`UPDATE users SET last_login = ${oddTimestamp}, created_at = ${created} WHERE username = 'bob'`);
    const list = await cli(db, ['user', 'list']);
    expectClean(list);
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toMatch(/bob/);
    expect(list.stderr).toMatch(/cannot read/);

    const show = await cli(db, ['user', 'show', 'bob']);
    expectClean(show);
    expect(show.code, show.stderr).toBe(0);
    expect(show.stdout).toMatch(new RegExp(`last login\\s+"${shownTimestamp}" \\(unknown form\\)`));
    // An escape sequence is shown, never sent to the terminal.
    expect(show.stdout).toMatch(provider === 'sqlite' ? /created\s+"garbage\\u001b\[31m" \(unknown form\)/ : /created\s+"-infinity" \(unknown form\)/);
    expect(show.stdout).not.toContain('\u001b[31m');

    const json = await cli(db, ['user', 'show', 'bob', '--json']);
    expect(json.code, json.stderr).toBe(0);
    const user = JSON.parse(json.stdout).user;
    expect(user.lastLogin).toBe(shownTimestamp);
    expect(user.unreadable).toMatchObject({ last_login: shownTimestamp });
    const listJson = JSON.parse((await cli(db, ['user', 'list', '--json'])).stdout);
    expect(listJson.users.find((u: { username: string }) => u.username === 'bob').unreadable).toHaveProperty('created_at');
    expect(listJson.users.find((u: { username: string }) => u.username === 'admin').unreadable).toBeUndefined();
  });

  it('disable, enable, reset, set, prefs, sessions and delete still work on that user', async () => {
    const db = await seeded();
    await db.exec(`UPDATE users SET last_login = ${oddTimestamp}, updated_at = ${oddTimestamp} WHERE username = 'bob'`);
    for (const args of [
      ['user', 'disable', 'bob'],
      ['user', 'enable', 'bob'],
      ['user', 'reset', 'bob', '--generate-password'],
      ['user', 'set', 'bob', '--full-name', 'Bob B'],
      ['user', 'prefs', 'bob'],
      ['user', 'prefs', 'bob', 'set', 'theme', 'dark'],
      ['sessions', 'list', '--user', 'bob'],
      ['user', 'delete', 'bob', '--yes'],
    ]) {
      const r = await cli(db, args, { env: FAST });
      expectClean(r);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
    }
    expect(await db.query("SELECT id FROM users WHERE username = 'bob'")).toEqual([]);
  });

  it('an unreadable preference timestamp is shown as stored', async () => {
    const db = await seeded();
    expect((await cli(db, ['user', 'prefs', 'bob', 'set', 'theme', 'dark'])).code).toBe(0);
    await db.exec(`UPDATE user_preferences SET updated_at = ${oddTimestamp}`);
    for (const args of [['user', 'prefs', 'bob', '--json'], ['user', 'show', 'bob'], ['user', 'prefs', 'bob', 'get', 'theme']]) {
      const r = await cli(db, args);
      expectClean(r);
      expect(r.code, r.stderr).toBe(0);
    }
    const prefs = JSON.parse((await cli(db, ['user', 'prefs', 'bob', '--json'])).stdout);
    expect(prefs.preferences[0]).toMatchObject({ key: 'theme', value: 'dark', updatedAt: shownTimestamp });
  });

  if (provider === 'sqlite') {
    describe('a boolean column that is not 0 or 1', () => {
      it.each([["'true'", '"true"'], ['2', '"2"']])('is_admin = %s is shown as stored, and set --admin stores a readable flag', async (value, shown) => {
        const db = await seeded();
        await db.exec(`UPDATE users SET is_admin = ${value} WHERE username = 'bob'`);
        const list = await cli(db, ['user', 'list']);
        expectClean(list);
        expect(list.code, list.stderr).toBe(0);
        expect(list.stdout).toContain(`${shown} (unknown form)`);
        const json = JSON.parse((await cli(db, ['user', 'show', 'bob', '--json'])).stdout).user;
        expect(json.isAdmin).toBeNull();
        expect(json.unreadable).toEqual({ is_admin: JSON.parse(shown) });

        // Another readable active admin exists: the guard is decided without bob's flag.
        for (const args of [['user', 'disable', 'bob'], ['user', 'enable', 'bob'], ['user', 'reset', 'bob', '--generate-password'], ['user', 'prefs', 'bob', 'set', 'theme', 'x']]) {
          const r = await cli(db, args, { env: FAST });
          expectClean(r);
          expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
        }
        const set = await cli(db, ['user', 'set', 'bob', '--admin']);
        expect(set.code, set.stderr).toBe(0);
        expect(set.stdout).toMatch(/admin: \(unreadable\) → yes/);
        expect((await db.query<{ is_admin: unknown }>("SELECT is_admin FROM users WHERE username = 'bob'"))[0]!.is_admin).toBe(1);
      });

      it('refuses with exit 5, naming user, column and value, where the flag decides the last-admin check', async () => {
        const db = await seeded();
        // bob may be an admin; no other readable active admin is left.
        await db.exec("UPDATE users SET is_admin = 'yes\u001b[2J' WHERE username = 'bob'; UPDATE users SET is_active = 0 WHERE username <> 'bob'");
        const before = JSON.stringify(await db.query('SELECT * FROM users ORDER BY id'));
        for (const args of [['user', 'disable', 'bob'], ['user', 'delete', 'bob', '--yes'], ['user', 'set', 'bob', '--no-admin'], ['user', 'set', 'bob', '--rename', 'robert']]) {
          const r = await cli(db, args);
          expectClean(r);
          expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(5);
          expect(r.stderr).toContain('The is_admin column of user "bob" holds "yes\\u001b[2J"');
          expect(r.stderr).not.toContain('\u001b[2J');
          expect(r.stderr).toMatch(/hint: `authctl user set bob --admin`/);
        }
        expect(JSON.stringify(await db.query('SELECT * FROM users ORDER BY id'))).toBe(before);
        const forced = await cli(db, ['user', 'disable', 'bob', '--force']);
        expect(forced.code, forced.stderr).toBe(0);
      });

      it('user export refuses (exit 5, no file) a flag it would write as false, so an import cannot demote that user', async () => {
        const db = await seeded();
        await db.exec("UPDATE users SET is_admin = 'true' WHERE username = 'carol'");
        const r = await cli(db, ['user', 'export', '--all', '-o', 'users.csv']);
        expectClean(r);
        expect(r.code, r.stderr).toBe(5);
        expect(r.stderr).toContain('The is_admin column of user "carol" holds "true", not a boolean (0 or 1)');
        expect(r.stderr).toMatch(/hint: Store a readable flag first with `authctl user set carol --admin` \(or --no-admin\)/);
        expect(fs.existsSync(path.join(db.cwd, 'users.csv'))).toBe(false);
        expect((await cli(db, ['user', 'set', 'carol', '--admin'])).code).toBe(0);
        const again = await cli(db, ['user', 'export', '--all', '-o', 'users.csv']);
        expect(again.code, again.stderr).toBe(0);
        expect(fs.readFileSync(path.join(db.cwd, 'users.csv'), 'utf8')).toMatch(/^carol,.*,true,true$/m);
      });

      it('doctor names the users whose unreadable flags may hide the only admins, instead of only "no active admin"', async () => {
        const db = await seeded();
        await db.exec("UPDATE users SET is_admin = 'true' WHERE username IN ('admin', 'carol')");
        const r = await cli(db, ['doctor', '-q']);
        expect(r.code).toBe(8);
        expect(r.stdout + r.stderr).toMatch(/no active admin that authctl can read; is_admin or is_active holds a value that is not 0 or 1 for "admin", "carol"/);
        expect(r.stdout + r.stderr).toMatch(/authctl user set admin --admin/);
      });

      it('user export of active or disabled users stops on an unreadable is_active too (exit 5), rather than leave that user out', async () => {
        const db = await seeded();
        await db.exec("UPDATE users SET is_active = 2 WHERE username = 'bob'");
        for (const scope of [[], ['--inactive']]) {
          const r = await cli(db, ['user', 'export', ...scope, '-o', 'users.csv']);
          expectClean(r);
          expect(r.code, r.stderr).toBe(5);
          expect(r.stderr).toContain('The is_active column of user "bob" holds "2"');
          expect(fs.existsSync(path.join(db.cwd, 'users.csv'))).toBe(false);
        }
      });

      it('is_active = 2 is neither active nor disabled: user list says so, enable stores a readable flag', async () => {
        const db = await seeded();
        await db.exec("UPDATE users SET is_active = 2 WHERE username = 'bob'");
        const list = await cli(db, ['user', 'list']);
        expect(list.code, list.stderr).toBe(0);
        expect(list.stderr).toMatch(/1 user\(s\) have an active flag .* --all/);
        // Counted under the listing's own filters: bob is no admin, and does not match "carol".
        for (const args of [['--admins'], ['--search', 'carol']]) {
          const filtered = await cli(db, ['user', 'list', ...args]);
          expect(filtered.code, filtered.stderr).toBe(0);
          expect(filtered.stderr, args.join(' ')).not.toMatch(/active flag/);
        }
        expect((await cli(db, ['user', 'list', '--search', 'bo'])).stderr).toMatch(/1 user\(s\) have an active flag/);
        const all = await cli(db, ['user', 'list', '--all']);
        expect(all.stdout).toContain('"2" (unknown form)');
        const enable = await cli(db, ['user', 'enable', 'bob']);
        expect(enable.code, enable.stderr).toBe(0);
        expect((await db.query<{ is_active: unknown }>("SELECT is_active FROM users WHERE username = 'bob'"))[0]!.is_active).toBe(1);
      });
    });
  }
});
