import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { hasStackTrace } from '../support/cli.js';
import { appTimestamp, cli, describeProviders, fakeJwt, independentVerify, insertSession, type TestDb } from '../support/db.js';
import { CTRL_C, CTRL_D, ptyMissing, runOnPty, type PtyStep } from '../support/pty.js';

const FAST = { AUTHCTL_BCRYPT_ROUNDS: '10' };
const ADMIN_PASSWORD = 'an admin passphrase';

/** What a terminal would act on rather than show: C0 but newline, DEL, C1, bidi overrides and isolates. */
const RAW_CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

/** The SGR colour codes authctl itself writes on a terminal, and nothing else. */
const OWN_COLOUR = /\x1b\[\d+m/g;

async function snapshot(db: TestDb): Promise<string> {
  const tables = [];
  for (const t of ['users', 'user_sessions', 'user_preferences', 'authctl_audit']) tables.push(await db.query(`SELECT * FROM ${t} ORDER BY id`));
  return JSON.stringify(tables);
}

async function tableNames(db: TestDb): Promise<string[]> {
  const rows = db.provider === 'sqlite'
    ? await db.query<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
    : await db.query<{ name: string }>("SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name");
  return rows.map((r) => r.name);
}

/** One live session with the given jti, IP and user agent. */
function addSession(db: TestDb, userId: number, fields: { jti: string; ip: string; userAgent: string }): Promise<void> {
  const now = new Date();
  return insertSession(db, {
    userId, token: fakeJwt().slice(0, 255), jti: fields.jti, ipAddress: fields.ip, userAgent: fields.userAgent,
    expiresAt: appTimestamp(new Date(now.getTime() + 3_600_000)), createdAt: appTimestamp(now),
  });
}

describeProviders('hardening: terminal', ({ provider, newDb }) => {
  /** A migrated database with an admin and nothing else. */
  async function freshDb(): Promise<TestDb> {
    const db = await newDb();
    const r = await cli(db, ['init-db', '--password-stdin'], { input: ADMIN_PASSWORD, env: FAST });
    expect(r.code, r.stderr).toBe(0);
    const [admin] = await db.query<{ id: number }>("SELECT id FROM users WHERE username = 'admin'");
    await addSession(db, admin!.id, { jti: 'jti-1', ip: '10.0.0.1', userAgent: 'Mozilla/5.0' });
    return db;
  }

  /**
   * One database for the tests below, which run one after another: each
   * either adds rows under its own names or checks that it changed nothing.
   */
  let shared: Promise<TestDb> | undefined;
  const sharedDb = () => (shared ??= freshDb());

  /**
   * Rows as the app or a GPUStack sync could have written them: every text
   * a login or an upstream server chooses carries terminal controls.
   */
  let hostile: Promise<{ db: TestDb; userId: number }> | undefined;
  const hostileDb = () => (hostile ??= makeHostileDb());
  async function makeHostileDb(): Promise<{ db: TestDb; userId: number }> {
    const db = await freshDb();
    const now = appTimestamp(new Date());
    const active = provider === 'sqlite' ? 1 : true;
    const inactive = provider === 'sqlite' ? 0 : false;
    await db.query(
      'INSERT INTO users (username, email, password_hash, full_name, is_admin, is_active, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      'mallory', 'mal\x1b]0;owned\x07@example.com', null, 'Mal\x1b[2J\x1b[Hlory \u202eevil\u202c \x9b31m', inactive, active, now, now,
    );
    await db.query(
      'INSERT INTO users (username, email, password_hash, full_name, is_admin, is_active, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      'eve\x1b[8m', null, null, 'Eve', inactive, active, now, now,
    );
    // A name that a terminal would draw exactly as "admin".
    await db.query(
      'INSERT INTO users (username, email, password_hash, full_name, is_admin, is_active, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      'admin\u200b', null, null, 'Ad\u00admin', inactive, active, now, now,
    );
    const [row] = await db.query<{ id: number }>("SELECT id FROM users WHERE username = 'mallory'");
    const userId = row!.id;
    await addSession(db, userId, { jti: 'jti-\x1b[1Ahidden', ip: '10.0.0.1\x1b[K', userAgent: '\x1b[2J\x1b[H Mozilla/5.0' });
    await db.query(
      'INSERT INTO user_preferences (user_id, preference_key, preference_value, created_at, updated_at) VALUES (?, ?, ?, ?, ?)',
      userId, 'theme\x1b[8m', 'dark\x1b[2J\x7f\u2066', now, now,
    );
    // An audit row whose target and summary carry the hostile username.
    const disable = await cli(db, ['user', 'disable', 'eve\x1b[8m']);
    expect(disable.code, disable.stderr).toBe(0);
    return { db, userId };
  }

  describe('hostile stored values', () => {
    it('are shown as visible escapes, never as raw control characters, in every human view', async () => {
      const { db } = await hostileDb();
      const views = [
        ['sessions', 'list'],
        ['sessions', 'list', '--all', '--user', 'mallory'],
        ['sessions', 'revoke', '--user', 'mallory', '--dry-run'],
        ['sessions', 'stats'],
        ['user', 'list', '--all'],
        ['user', 'show', 'mallory'],
        ['user', 'prefs', 'mallory', 'list'],
        ['user', 'prefs', 'mallory', 'get', 'theme\x1b[8m'],
        ['audit'],
      ];
      for (const args of views) {
        const r = await cli(db, args);
        expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
        expect(r.stdout, args.join(' ')).not.toMatch(RAW_CONTROL);
        expect(r.stderr, args.join(' ')).not.toMatch(RAW_CONTROL);
      }
      const list = await cli(db, ['sessions', 'list']);
      expect(list.stdout).toContain('\\x1b[2J\\x1b[H Mozilla/5.0');
      expect(list.stdout).toContain('jti-\\x1b[1Ahidden');
      const show = await cli(db, ['user', 'show', 'mallory']);
      expect(show.stdout).toContain('Mal\\x1b[2J\\x1b[Hlory \\u202eevil\\u202c \\x9b31m');
      expect(show.stdout).toContain('mal\\x1b]0;owned\\x07@example.com');
      expect(show.stdout).toContain('theme\\x1b[8m');
      const audit = await cli(db, ['audit']);
      expect(audit.stdout).toContain('eve\\x1b[8m');
      // Invisible characters show too, so no name passes for another.
      const users = await cli(db, ['user', 'list', '--all']);
      expect(users.stdout).toMatch(/^ *\d+ +admin\\u200b /m);
      expect(users.stdout).toContain('Ad\\xadmin');
    });

    it('keep their exact value in --json', async () => {
      const { db } = await hostileDb();
      const r = await cli(db, ['sessions', 'list', '--json']);
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout).sessions[0].userAgent).toBe('\x1b[2J\x1b[H Mozilla/5.0');
      const showRun = await cli(db, ['user', 'show', 'mallory', '--json']);
      const show = JSON.parse(showRun.stdout);
      expect(show.user.fullName).toBe('Mal\x1b[2J\x1b[Hlory \u202eevil\u202c \x9b31m');
      // ...written as escapes, so that the JSON itself shown on a terminal cannot act:
      // JSON.stringify alone would leave the C1 CSI and the bidi override raw.
      const users = await cli(db, ['user', 'list', '--all', '--json']);
      expect(users.code, users.stderr).toBe(0);
      expect(JSON.parse(users.stdout).users.map((u: { username: string }) => u.username)).toContain('admin\u200b');
      for (const [args, text] of [
        ['sessions list', r.stdout],
        ['user show', showRun.stdout],
        ['user list', users.stdout],
      ]) {
        expect(text, args).not.toMatch(RAW_CONTROL);
        expect(text, args).not.toMatch(/[\p{Cf}\u3164]/u);
      }
      expect(showRun.stdout).toContain('\\u202eevil\\u202c \\u009b31m');
      expect(users.stdout).toContain('"admin\\u200b"');
    });

    it('never reach the terminal raw when an error message quotes rejected input', async () => {
      const db = await sharedDb();
      const cases = [
        ['user', 'add', 'bad\x1b[2Jname', '--generate-password'],
        ['user', 'show', 'nobody\x1b[2J'],
        ['user', 'prefs', 'admin', 'get', 'key\x1b[2J'],
        ['user', 'prefs', 'admin', 'frobnicate\x1b[2J'],
        ['sessions', 'list', '--type', 'acc\x1b[2Jess'],
        ['user', 'list', '--no-such-option\x1b[2J'],
      ];
      for (const args of cases) {
        for (const json of [false, true]) {
          const r = await cli(db, json ? [...args, '--json'] : args);
          expect(r.code, args.join(' ')).not.toBe(0);
          expect(r.code, args.join(' ')).not.toBe(1);
          if (!json) {
            expect(r.stderr, args.join(' ')).not.toMatch(RAW_CONTROL);
            expect(r.stderr, args.join(' ')).toContain('\\x1b[2J');
          }
        }
      }
    });
  });

  describe('user add refuses control characters in stored text', () => {
    it.each([
      ['--full-name', 'x\x1b[31my', /full name contains control characters/],
      ['--full-name', 'line\nbreak', /full name contains control characters/],
      ['--full-name', 'right\u202eto-left', /full name contains control characters/],
      ['--email', 'a\x1b[2J@example.com', /email contains control characters/],
      ['--email', 'a\u009b@example.com', /email contains control characters/],
    ])('%s %j is a usage error that changes nothing', async (flag, value, message) => {
      const db = await sharedDb();
      const before = await snapshot(db);
      const r = await cli(db, ['user', 'add', 'dave', flag, value, '--generate-password']);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).not.toMatch(RAW_CONTROL);
      expect(await snapshot(db)).toBe(before);
    });
  });

  describe('piped and file passwords', () => {
    const password = 'a perfectly fine password';

    it('strip exactly one trailing \\n or \\r\\n', async () => {
      const db = await sharedDb();
      for (const [name, input] of [['lf', `${password}\n`], ['crlf', `${password}\r\n`], ['none', password]]) {
        const r = await cli(db, ['user', 'add', `u-${name}`, '--password-stdin'], { input, env: FAST });
        expect(r.code, r.stderr).toBe(0);
        const [row] = await db.query<{ password_hash: string }>('SELECT password_hash FROM users WHERE username = ?', `u-${name}`);
        expect(independentVerify(password, row!.password_hash)).toBe(true);
      }
      fs.writeFileSync(path.join(db.cwd, 'pw.txt'), `${password}\r\n`, { mode: 0o600 });
      const f = await cli(db, ['user', 'add', 'u-file', '--password-file', 'pw.txt'], { env: FAST });
      expect(f.code, f.stderr).toBe(0);
      const [row] = await db.query<{ password_hash: string }>("SELECT password_hash FROM users WHERE username = 'u-file'");
      expect(independentVerify(password, row!.password_hash)).toBe(true);
    });

    it.each([
      ['two trailing newlines on stdin', 'stdin', `${password}\n\n`],
      ['a trailing \\r\\n\\r\\n on stdin', 'stdin', `${password}\r\n\r\n`],
      ['an embedded newline on stdin', 'stdin', `${password}\nsecond line\n`],
      ['a tab on stdin', 'stdin', `a perfectly\tfine password\n`],
      ['an escape on stdin', 'stdin', `a perfectly fine\x1b password\n`],
      ['a two-line file', 'file', `${password}\nsecond line\n`],
      ['a file with two trailing newlines', 'file', `${password}\n\n`],
    ])('refuses %s with exit 2, never echoing the password', async (_name, source, input) => {
      const db = await sharedDb();
      const before = await snapshot(db);
      let r;
      if (source === 'stdin') {
        r = await cli(db, ['user', 'add', 'dave', '--password-stdin'], { input, env: FAST });
      } else {
        fs.writeFileSync(path.join(db.cwd, 'pw.txt'), input, { mode: 0o600 });
        r = await cli(db, ['user', 'add', 'dave', '--password-file', 'pw.txt'], { env: FAST });
      }
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(/control character/);
      expect(r.stdout + r.stderr).not.toContain('perfectly');
      expect(r.stdout + r.stderr).not.toContain('second line');
      expect(hasStackTrace(r.stderr)).toBe(false);
      expect(await snapshot(db)).toBe(before);
      const reset = source === 'stdin'
        ? await cli(db, ['user', 'reset', 'admin', '--password-stdin', '--json'], { input, env: FAST })
        : await cli(db, ['user', 'reset', 'admin', '--password-file', 'pw.txt', '--json'], { env: FAST });
      expect(reset.code).toBe(2);
      expect(JSON.parse(reset.stderr).error.message).toMatch(/control character/);
      expect(reset.stdout + reset.stderr).not.toContain('perfectly');
      expect(await snapshot(db)).toBe(before);
    });

    it('warns when the password file is readable by group or others, and not in --json', async () => {
      const db = await sharedDb();
      const file = path.join(db.cwd, 'pw.txt');
      fs.writeFileSync(file, `${password}\n`);
      for (const [i, mode] of [0o644, 0o640, 0o604].entries()) {
        fs.chmodSync(file, mode);
        const r = await cli(db, ['user', 'add', `open-${i}`, '--password-file', file], { env: FAST });
        expect(r.code, r.stderr).toBe(0);
        expect(r.stderr).toMatch(/warning: The password file .*pw\.txt is readable by other users \(mode 0\d{3}\); restrict it with chmod 600/);
        expect(r.stdout + r.stderr).not.toContain(password);
      }
      const json = await cli(db, ['user', 'add', 'open-json', '--password-file', file, '--json'], { env: FAST });
      expect(json.code, json.stderr).toBe(0);
      expect(JSON.parse(json.stdout).user.username).toBe('open-json');
      expect(json.stdout + json.stderr).not.toMatch(/readable/);

      fs.chmodSync(file, 0o600);
      const closed = await cli(db, ['user', 'add', 'closed', '--password-file', file], { env: FAST });
      expect(closed.code, closed.stderr).toBe(0);
      expect(closed.stderr).not.toMatch(/warning/);
    });

    it('says how to pipe a password when --password-stdin got none, without suggesting --password-stdin', async () => {
      const db = await sharedDb();
      for (const input of ['', '\n']) {
        const r = await cli(db, ['user', 'add', 'dave', '--password-stdin'], { input });
        expect(r.code).toBe(2);
        expect(r.stderr).toMatch(/No password arrived on standard input/);
        expect(r.stderr).not.toMatch(/--password-stdin/);
        expect(r.stderr).toMatch(/Pipe the password into authctl/);
      }
    });
  });

  describe('--json errors', () => {
    it('an internal error is one JSON document on stderr, with no plain-text line after it', async () => {
      const db = await freshDb();
      // A defect authctl cannot foresee, injected: formatting any instant throws a plain TypeError.
      const inject = path.join(db.cwd, 'inject.mjs');
      fs.writeFileSync(inject, "Date.prototype.toISOString = function () { throw new TypeError('injected defect'); };\n");
      const env = { NODE_OPTIONS: `--import ${pathToFileURL(inject).href}` };
      const r = await cli(db, ['audit', '--json'], { env });
      expect(r.code, r.stderr).toBe(1);
      expect(r.stdout).toBe('');
      const lines = r.stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      const doc = JSON.parse(lines[0]!);
      expect(doc.error).toMatchObject({ code: 'INTERNAL', exitCode: 1 });
      expect(doc.error.hint).toMatch(/--debug/);
      expect(doc.error.message).toMatch(/injected defect/);
      const human = await cli(db, ['audit'], { env });
      expect(human.code).toBe(1);
      expect(human.stderr).toMatch(/hint: This is a bug in authctl\. Run again with --debug/);
    });
  });

  const noPty = ptyMissing();
  describe.skipIf(noPty !== null)('Ctrl+C and Ctrl+D at a prompt', () => {
    const PW = 'another fine passphrase\r';
    const keys = [['Ctrl+C', CTRL_C], ['Ctrl+D', CTRL_D]] as const;
    const prompts: Array<[string, string[], PtyStep[]]> = [
      ['the first password of user add', ['user', 'add', 'dave'], [{ waitFor: 'New password for dave', send: '' }]],
      ['the confirmation of user add', ['user', 'add', 'dave'], [{ waitFor: 'New password for dave', send: PW }, { waitFor: 'Type it again', send: '' }]],
      ['the first password of user reset', ['user', 'reset', 'admin'], [{ waitFor: 'New password for admin', send: '' }]],
      ['the confirmation of user reset', ['user', 'reset', 'admin'], [{ waitFor: 'New password for admin', send: PW }, { waitFor: 'Type it again', send: '' }]],
      ['the confirmation of sessions revoke --all', ['sessions', 'revoke', '--all'], [{ waitFor: 'Revoke every session', send: '' }]],
    ];

    for (const [keyName, key] of keys) {
      it.each(prompts)(`${keyName} at %s exits 130 and changes nothing`, async (_name, args, steps) => {
        const db = await sharedDb();
        const before = await snapshot(db);
        const typed = steps.map((s, i) => (i === steps.length - 1 ? { ...s, send: key } : s));
        const r = await runOnPty(args, { cwd: db.cwd, env: { ...db.env, ...FAST, NO_COLOR: '1' }, steps: typed });
        expect(r.timedOut, r.output).toBeNull();
        expect(r.code, r.output).toBe(130);
        expect(r.output).toMatch(/error: Cancelled\./);
        expect(hasStackTrace(r.output)).toBe(false);
        expect(await snapshot(db)).toBe(before);
      });

      it(`${keyName} at the password prompt of init-db exits 130 and creates nothing`, async () => {
        const db = await newDb();
        // On SQLite, only looking would create the file.
        const tablesBefore = provider === 'sqlite' ? [] : await tableNames(db);
        const r = await runOnPty(['init-db'], { cwd: db.cwd, env: { ...db.env, ...FAST, NO_COLOR: '1' }, steps: [{ waitFor: 'New password for admin', send: key }] });
        expect(r.timedOut, r.output).toBeNull();
        expect(r.code, r.output).toBe(130);
        expect(r.output).toMatch(/error: Cancelled\./);
        if (provider === 'sqlite') expect(fs.readdirSync(db.cwd)).toEqual([]);
        else expect(await tableNames(db)).toEqual(tablesBefore);
      });
    }

    /** Prompts to stop at: what they are, the command line, and the text they show. */
    const PROMPTS: Array<[string, string[], string]> = [
      ['the first password of user add', ['user', 'add', 'dave'], 'New password for dave'],
      ['the password prompt of init-db', ['init-db'], 'New password for admin'],
      ['the confirmation of sessions revoke --all', ['sessions', 'revoke', '--all'], 'Revoke every session'],
    ];

    it.each(PROMPTS)('SIGTERM at %s exits 130 with Cancelled and changes nothing', async (name, args, waitFor) => {
      const db = name.includes('init-db') ? await newDb() : await sharedDb();
      const before = name.includes('init-db') ? '' : await snapshot(db);
      const r = await runOnPty(args, { cwd: db.cwd, env: { ...db.env, ...FAST, NO_COLOR: '1' }, steps: [{ waitFor, send: '', signal: 'SIGTERM' }] });
      expect(r.timedOut, r.output).toBeNull();
      expect(r.code, r.output).toBe(130);
      expect(r.output).toMatch(/Cancelled/);
      // The terminal is left as it was: a cursor the prompt hid is shown again, and the error has a line of its own.
      const hidden = r.output.lastIndexOf('\x1b[?25l');
      if (hidden >= 0) expect(r.output.indexOf('\x1b[?25h', hidden), JSON.stringify(r.output.slice(hidden))).toBeGreaterThan(hidden);
      expect(r.output).toMatch(/(^|\n)(\x1b\[[0-9;?]*[A-Za-z])*error: Cancelled/);
      if (!name.includes('init-db')) expect(await snapshot(db)).toBe(before);
      else if (provider === 'sqlite') expect(fs.readdirSync(db.cwd)).toEqual([]);
    });

    // A closed terminal (a dropped SSH session): Node aborts as it exits when
    // it cannot restore the terminal, so without care this ended in a crash.
    it.each(PROMPTS)('a terminal that hangs up at %s: authctl ends by SIGHUP, not a crash, and changes nothing', async (name, args, waitFor) => {
      const db = name.includes('init-db') ? await newDb() : await sharedDb();
      const before = name.includes('init-db') ? '' : await snapshot(db);
      const r = await runOnPty(args, { cwd: db.cwd, env: { ...db.env, ...FAST, NO_COLOR: '1' }, steps: [{ waitFor, send: '', hangup: true }] });
      expect(r.timedOut, r.output).toBeNull();
      expect(r.code, r.output).toBe(-1);
      if (!name.includes('init-db')) expect(await snapshot(db)).toBe(before);
      else if (provider === 'sqlite') expect(fs.readdirSync(db.cwd)).toEqual([]);
    });

    it('Ctrl+D after typing part of a password edits the line and does not cancel', async () => {
      const db = await sharedDb();
      const r = await runOnPty(['user', 'add', 'dora'], {
        cwd: db.cwd,
        env: { ...db.env, ...FAST, NO_COLOR: '1' },
        steps: [{ waitFor: 'New password for dora', send: `another fine${CTRL_D} passphrase\r` }, { waitFor: 'Type it again', send: PW }],
      });
      expect(r.code, r.output).toBe(0);
      const [row] = await db.query<{ password_hash: string }>("SELECT password_hash FROM users WHERE username = 'dora'");
      expect(independentVerify('another fine passphrase', row!.password_hash)).toBe(true);
    });

    it('a password the policy refuses at the prompt is asked for again, not fatal', async () => {
      const db = await sharedDb();
      const r = await runOnPty(['user', 'add', 'wendy'], {
        cwd: db.cwd,
        env: { ...db.env, ...FAST, NO_COLOR: '1' },
        steps: [
          { waitFor: 'New password for wendy', send: 'short\r' },
          { waitFor: 'Try another', send: 'password123\r' },
          { waitFor: 'common or default passwords. Try another', send: PW },
          { waitFor: 'Type it again', send: PW },
        ],
      });
      expect(r.timedOut, r.output).toBeNull();
      expect(r.code, r.output).toBe(0);
      expect(r.output).toMatch(/The password is refused: it has 5 characters; a user needs at least 8\. Try another \(2 tries left\)\./);
      const [row] = await db.query<{ password_hash: string }>("SELECT password_hash FROM users WHERE username = 'wendy'");
      expect(independentVerify('another fine passphrase', row!.password_hash)).toBe(true);
    });

    it('in colour, hostile values are escaped while authctl keeps its own colours', async () => {
      const { db } = await hostileDb();
      for (const args of [['user', 'show', 'mallory'], ['sessions', 'list'], ['user', 'add', 'x\x1b[2Jy', '--generate-password']]) {
        const r = await runOnPty(args, { cwd: db.cwd, env: { ...db.env, NO_COLOR: undefined }, steps: [] });
        expect(r.timedOut, r.output).toBeNull();
        expect(r.output, args.join(' ')).toMatch(OWN_COLOUR);
        // The terminal turns each \n into \r\n.
        expect(r.output.replace(OWN_COLOUR, '').replaceAll('\r\n', '\n'), args.join(' ')).not.toMatch(RAW_CONTROL);
        expect(r.output).toContain('\\x1b[2J');
      }
    });

    it('--no-color takes the colour out of the prompts too, as NO_COLOR does', async () => {
      const { db } = await hostileDb();
      const runs: Array<[string[], string]> = [
        [['user', 'reset', 'mallory', '--no-color'], 'New password for mallory'],
        [['--no-color', 'sessions', 'revoke', '--all'], 'log everyone out'],
      ];
      for (const [args, waitFor] of runs) {
        const r = await runOnPty(args, { cwd: db.cwd, env: { ...db.env, ...FAST, NO_COLOR: undefined, FORCE_COLOR: undefined }, steps: [{ waitFor, send: CTRL_C }] });
        expect(r.timedOut, r.output).toBeNull();
        expect(r.code, r.output).toBe(130);
        expect(r.output, args.join(' ')).toContain(waitFor);
        expect(r.output, args.join(' ')).not.toMatch(/\x1b\[[\d;]*m/);
      }
    });

    it('a prompt quoting a hostile username shows it escaped', async () => {
      const { db } = await hostileDb();
      const r = await runOnPty(['user', 'reset', 'eve\x1b[8m'], {
        cwd: db.cwd,
        env: { ...db.env, ...FAST, NO_COLOR: '1' },
        steps: [{ waitFor: 'New password for eve', send: CTRL_C }],
      });
      expect(r.code, r.output).toBe(130);
      expect(r.output).toContain('New password for eve\\x1b[8m');
      expect(r.output).not.toContain('eve\x1b[8m');
    });
  });
  if (noPty) console.warn(`NOTICE: terminal tests skipped: ${noPty}`);
});
