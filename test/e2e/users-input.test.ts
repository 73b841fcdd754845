import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { BIN, hasStackTrace } from '../support/cli.js';
import { cli, describeProviders, independentVerify, type TestDb } from '../support/db.js';
import { ptyMissing, runOnPty } from '../support/pty.js';

/**
 * What the user commands take from outside: password bytes, files, emails
 * and names as the app itself accepts them, and option combinations.
 */

const FAST = { AUTHCTL_BCRYPT_ROUNDS: '10' };
const ADMIN_PASSWORD = 'an admin passphrase';
const BOM = Buffer.from([0xef, 0xbb, 0xbf]);

async function users(db: TestDb): Promise<string> {
  return JSON.stringify(await db.query('SELECT * FROM users ORDER BY id'));
}

async function hashOf(db: TestDb, username: string): Promise<string> {
  return (await db.query<{ password_hash: string }>('SELECT password_hash FROM users WHERE username = ?', username))[0]!.password_hash;
}

describeProviders('user input', ({ provider, newDb, cloneDb }) => {
  let template: TestDb | null = null;
  async function fresh(): Promise<TestDb> {
    if (!template) {
      const db = await newDb();
      expect((await cli(db, ['init-db', '--password-stdin'], { input: ADMIN_PASSWORD, env: FAST })).code).toBe(0);
      template = db;
    }
    return cloneDb(template);
  }

  describe('passwords that are not UTF-8, and byte order marks', () => {
    it('refuses a password with non-UTF-8 bytes on stdin or in a file (exit 2), never echoing it', async () => {
      const db = await fresh();
      const before = await users(db);
      const bytes = Buffer.concat([Buffer.from('GoodPass'), Buffer.from([0xff, 0xfe]), Buffer.from('word1\n')]);
      const stdin = await cli(db, ['user', 'add', 'u5', '--password-stdin'], { input: bytes, env: FAST });
      expect(stdin.code, stdin.stderr).toBe(2);
      expect(stdin.stderr).toMatch(/The password from standard input is not valid UTF-8 text\./);
      expect(stdin.stderr).toMatch(/hint: .*UTF-8/);
      fs.writeFileSync(path.join(db.cwd, 'latin1.txt'), Buffer.from('Caf\xe9Password1\n', 'latin1'), { mode: 0o600 });
      const file = await cli(db, ['user', 'reset', 'admin', '--password-file', 'latin1.txt'], { env: FAST });
      expect(file.code, file.stderr).toBe(2);
      expect(file.stderr).toMatch(/The password from the password file latin1\.txt is not valid UTF-8 text/);
      for (const r of [stdin, file]) {
        expect(r.stdout + r.stderr).not.toMatch(/GoodPass|word1|Caf|\ufffd/);
        expect(hasStackTrace(r.stderr)).toBe(false);
      }
      expect(await users(db)).toBe(before);
    });

    it('drops a leading UTF-8 byte order mark from a password file and from stdin', async () => {
      const db = await fresh();
      fs.writeFileSync(path.join(db.cwd, 'pw.txt'), Buffer.concat([BOM, Buffer.from('GoodPassword1\n')]), { mode: 0o600 });
      const f = await cli(db, ['user', 'add', 'u6', '--password-file', 'pw.txt'], { env: FAST });
      expect(f.code, f.stderr).toBe(0);
      expect(independentVerify('GoodPassword1', await hashOf(db, 'u6'))).toBe(true);
      const s = await cli(db, ['user', 'add', 'u7', '--password-stdin'], { input: Buffer.concat([BOM, Buffer.from('Another goodpass\n')]), env: FAST });
      expect(s.code, s.stderr).toBe(0);
      expect(independentVerify('Another goodpass', await hashOf(db, 'u7'))).toBe(true);
    });

    it('refuses an import file that is not UTF-8 (a Latin-1 password), naming the line, and writes nothing', async () => {
      const db = await fresh();
      const before = await users(db);
      const csv = Buffer.concat([Buffer.from('username,password\nok,GoodPassword1\n'), Buffer.from('lat,Caf\xe9Password1\n', 'latin1')]);
      fs.writeFileSync(path.join(db.cwd, 'users.csv'), csv, { mode: 0o600 });
      for (const r of [await cli(db, ['user', 'import', 'users.csv'], { env: FAST }), await cli(db, ['user', 'import', '-'], { input: csv, env: FAST })]) {
        expect(r.code, r.stderr).toBe(2);
        expect(r.stderr).toMatch(/is not valid UTF-8 text \(line 3\)/);
        expect(r.stdout + r.stderr).not.toMatch(/Caf|\ufffd/);
      }
      expect(await users(db)).toBe(before);
      // A byte order mark at the start is still fine.
      fs.writeFileSync(path.join(db.cwd, 'bom.csv'), Buffer.concat([BOM, Buffer.from('username,password\nbom,GoodPassword1\n')]), { mode: 0o600 });
      const ok = await cli(db, ['user', 'import', 'bom.csv'], { env: FAST });
      expect(ok.code, ok.stderr).toBe(0);
      expect(independentVerify('GoodPassword1', await hashOf(db, 'bom'))).toBe(true);
    });
  });

  describe('an empty value is never taken for a missing one', () => {
    it('refuses (exit 2, nothing written, no secret on stdout) an empty file, URL or username, as `"$UNSET"` gives', async () => {
      const db = await fresh();
      fs.writeFileSync(path.join(db.cwd, 'few.csv'), 'username\nimp1\nimp2\n');
      const before = await users(db);
      const cases: Array<[string[], RegExp]> = [
        // Without the check, these two printed generated passwords and every hash to stdout.
        [['user', 'import', 'few.csv', '--generate-passwords', '--passwords-out', ''], /--passwords-out needs a file path, not an empty value/],
        [['user', 'export', '--include-hashes', '-o', ''], /--output needs a file path, not an empty value/],
        [['user', 'import', ''], /user import needs a file path/],
        [['user', 'add', 'x', '--password-file', ''], /--password-file needs a file path/],
        [['gpustack', 'check', '--url', ''], /--url needs the GPUStack server URL/],
        [['gpustack', 'sync', '--token-file', ' '], /--token-file needs a file path/],
        [['doctor', '--url', ''], /--url needs the GPUStack server URL/],
        [['sessions', 'list', '--user', ''], /--user needs a username/],
        [['sessions', 'revoke', '--user', ''], /--user needs a username/],
        ...(['show', 'disable', 'enable', 'delete'] as const).map((verb): [string[], RegExp] => [['user', verb, ''], /The username is empty\./]),
        [['user', 'reset', '', '--generate-password'], /The username is empty\./],
        [['user', 'set', '', '--admin'], /The username is empty\./],
        [['user', 'prefs', '', 'list'], /The username is empty\./],
      ];
      for (const [args, message] of cases) {
        const r = await cli(db, args, { env: { ...FAST, GPUSTACK_API_BASE: 'http://127.0.0.1:9', GPUSTACK_API_TOKEN: 'token-from-env-1234' } });
        expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
        expect(r.stderr, args.join(' ')).toMatch(message);
        expect(r.stderr, args.join(' ')).toMatch(/^hint: /m);
        expect(r.stdout, args.join(' ')).toBe('');
        expect(hasStackTrace(r.stderr)).toBe(false);
      }
      expect(await users(db)).toBe(before);
      expect(fs.readdirSync(db.cwd).filter((f) => !/\.db|few\.csv/.test(f))).toEqual([]);
    });
  });

  it('refuses a new preference key with control or invisible characters (exit 2, nothing stored)', async () => {
    const db = await fresh();
    for (const key of ['weird\x1b[31m', 'the\u200bme', 'tab\tkey']) {
      const r = await cli(db, ['user', 'prefs', 'admin', 'set', key, 'v']);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(/is not a preference key/);
      expect(r.stderr).not.toMatch(/\x1b\[31m/);
    }
    expect(await db.query('SELECT * FROM user_preferences')).toEqual([]);
  });

  it('names the range when a whole number is too large to be exact', async () => {
    const db = await fresh();
    const r = await cli(db, ['sessions', 'revoke', '9007199254740993']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/A session id must be a whole number from 1 to 9007199254740991, not "9007199254740993"/);
    expect(r.stderr).toMatch(/^hint: Session ids are the numbers in the id column/m);
  });

  // Once is enough: files and stdin are read the same way for either database.
  if (provider === 'sqlite') describe('secrets from pipes and oversized sources', () => {
    it('a FIFO is read once its writer comes; one nobody writes fails after 30 s instead of hanging (exit 2)', async () => {
      const db = await fresh();
      const fifo = path.join(db.cwd, 'pw.fifo');
      expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
      const writer = spawn('sh', ['-c', `sleep 1; printf 'A fine pipe password\\n' > '${fifo}'`]);
      const written = new Promise((resolve) => writer.once('close', resolve));
      const r = await cli(db, ['user', 'add', 'piped', '--password-file', fifo], { env: FAST });
      expect(r.code, r.stderr).toBe(0);
      expect(await written).toBe(0);
      expect(independentVerify('A fine pipe password', await hashOf(db, 'piped'))).toBe(true);

      const started = Date.now();
      const none = await cli(db, ['gpustack', 'check', '--token-file', fifo, '--url', 'http://127.0.0.1:9'], { timeoutMs: 45_000 });
      expect(none.signal, 'hung on the FIFO').toBeNull();
      expect(none.code, none.stderr).toBe(2);
      expect(none.stderr).toMatch(/Nobody wrote into the token file .*pw\.fifo \(a FIFO\) within 30 s\./);
      expect(Date.now() - started).toBeLessThan(40_000);

      // `<(...)`: an anonymous pipe, whose writer is there from the start. A slow one is waited for; an empty one is empty at once.
      const viaBash = (substitution: string) =>
        spawnSync('bash', ['-c', `"$NODE" "$BIN" user add "$NAME" --password-file ${substitution}`], {
          cwd: db.cwd,
          env: { ...process.env, ...db.env, ...FAST, NODE: process.execPath, BIN, NAME: 'subst' },
          encoding: 'utf8',
          timeout: 20_000,
        });
      const empty = viaBash('<(true)');
      expect(empty.status, empty.stderr).toBe(2);
      expect(empty.stderr).toMatch(/The password file \/dev\/fd\/\d+ is empty\./);
      const slow = viaBash("<(sleep 2; printf 'A slow pipe password')");
      expect(slow.status, slow.stderr).toBe(0);
      expect(independentVerify('A slow pipe password', await hashOf(db, 'subst'))).toBe(true);
    }, 60_000);

    it('refuses more than 64 KiB on stdin or in a secret\'s file without reading it all (exit 2)', async () => {
      const db = await fresh();
      const before = await users(db);
      const endless = spawn('sh', ['-c', `exec ${JSON.stringify(process.execPath)} ${JSON.stringify(BIN)} user add zero --password-stdin < /dev/zero`], {
        cwd: db.cwd,
        env: { ...process.env, ...db.env, ...FAST },
      });
      let stderr = '';
      endless.stderr.on('data', (d) => (stderr += d));
      const code = await new Promise((resolve) => endless.once('close', resolve));
      expect(code, stderr).toBe(2);
      expect(stderr).toMatch(/Standard input holds more than 64 KiB, far more than a password\./);
      fs.writeFileSync(path.join(db.cwd, 'big.txt'), Buffer.alloc(100_000, 0x61), { mode: 0o600 });
      for (const args of [['user', 'add', 'big', '--password-file', 'big.txt'], ['gpustack', 'check', '--token-file', 'big.txt', '--url', 'http://127.0.0.1:9']]) {
        const r = await cli(db, args, { env: FAST });
        expect(r.code, r.stderr).toBe(2);
        expect(r.stderr).toMatch(/big\.txt holds more than 64 KiB, far more than a secret\./);
      }
      expect(await users(db)).toBe(before);
    });
  });

  describe('--password-file that cannot be read', () => {
    it.each([
      ['a folder', (dir: string) => (fs.mkdirSync(path.join(dir, 'secrets')), 'secrets'), /The password file secrets is a folder, not a file\./],
      ['a missing file', () => 'nope.txt', /The password file nope\.txt does not exist\./],
    ])('says in words what is wrong with %s (exit 2)', async (_name, make, message) => {
      const db = await fresh();
      const r = await cli(db, ['user', 'add', 'dave', '--password-file', make(db.cwd)], { env: FAST });
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).toMatch(/hint: /);
      expect(r.stderr).not.toMatch(/EISDIR|ENOENT/);
    });

    // Once is enough: the file is read the same way for either database.
    if (provider === 'sqlite') it.skipIf(process.getuid?.() !== 0)('says in words that an unreadable file cannot be read (exit 2)', async () => {
      const db = await fresh();
      const file = db.url.slice('sqlite:///'.length);
      // The database writable for that user too: user add checks it before it reads a password.
      fs.chmodSync(path.dirname(file), 0o777);
      fs.chmodSync(file, 0o666);
      const pw = path.join(db.cwd, 'root-only.txt');
      fs.writeFileSync(pw, 'GoodPassword1\n', { mode: 0o600 });
      const r = await cli(db, ['user', 'add', 'dave', '--password-file', pw], { env: FAST, user: { uid: 65534, gid: 65534 } });
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toContain(`The password file ${pw} cannot be read: permission denied.`);
      expect(r.stderr).not.toMatch(/EACCES/);
    });
  });

  describe('emails as the app accepts them', () => {
    it('export -> import round-trips the app\'s seeded admin@localhost', async () => {
      const db = await fresh();
      await db.exec("UPDATE users SET email = 'admin@localhost' WHERE username = 'admin'");
      expect((await cli(db, ['user', 'add', 'eve', '--email', 'eve@intranet', '--generate-password'], { env: FAST })).code).toBe(0);
      const exported = await cli(db, ['user', 'export', '--all', '-o', 'users.csv']);
      expect(exported.code, exported.stderr).toBe(0);
      const back = await cli(db, ['user', 'import', 'users.csv', '--on-conflict', 'update', '--no-password']);
      expect(back.code, back.stderr).toBe(0);
      const set = await cli(db, ['user', 'set', 'eve', '--email', 'eve@localhost']);
      expect(set.code, set.stderr).toBe(0);
      expect((await db.query<{ email: string }>("SELECT email FROM users WHERE username = 'eve'"))[0]!.email).toBe('eve@localhost');
    });

    it.each(['a@', '@host', 'a@b..c', 'a@.b', 'a@b.', 'a b@c', 'a@b@c', 'plain'])('still refuses the malformed %j', async (email) => {
      const db = await fresh();
      const r = await cli(db, ['user', 'set', 'admin', '--email', email]);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toContain(`${JSON.stringify(email)} is not an email address.`);
    });
  });

  describe('usernames counted as the app counts them', () => {
    it('takes a 27-letter name in mathematical bold letters (54 UTF-16 units, 27 characters)', async () => {
      const db = await fresh();
      const name = '\u{1d41a}'.repeat(27);
      const r = await cli(db, ['user', 'add', name, '--generate-password'], { env: FAST });
      expect(r.code, r.stderr).toBe(0);
      const long = await cli(db, ['user', 'add', '\u{1d41a}'.repeat(51), '--generate-password'], { env: FAST });
      expect(long.code).toBe(2);
      expect(long.stderr).toMatch(/51 characters long/);
    });

    it('names the character refused in a decomposed name, and offers the composed one', async () => {
      const db = await fresh();
      const r = await cli(db, ['user', 'add', 'Jose\u0301', '--generate-password'], { env: FAST });
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toContain('"Jose\\u0301" has U+0301, a combining mark');
      expect(r.stderr).toContain('Use "José"');
      const slash = await cli(db, ['user', 'add', 'a/b', '--generate-password'], { env: FAST });
      expect(slash.stderr).toContain('"a/b" has "/" (U+002F), which a username may not hold');
    });
  });

  it('stores preference numbers as Python writes them, so the app reads them back', async () => {
    const db = await fresh();
    for (const [key, raw] of [['default_temperature', '1e21'], ['default_max_tokens', '9999999999999999999999'], ['max_file_size_mb', '99999999999999999999']]) {
      const r = await cli(db, ['user', 'prefs', 'admin', 'set', key!, raw!]);
      expect(r.code, r.stderr).toBe(0);
    }
    const rows = await db.query<{ preference_key: string; preference_value: string }>('SELECT preference_key, preference_value FROM user_preferences ORDER BY preference_key');
    expect(Object.fromEntries(rows.map((r) => [r.preference_key, r.preference_value]))).toEqual({
      default_max_tokens: '9999999999999999999999',
      default_temperature: '1e+21',
      max_file_size_mb: '99999999999999999999',
    });
  });

  describe('checks before the password prompt, and contradictory options', () => {
    it('reports a taken --email before asking for a password', async () => {
      const db = await fresh();
      await db.exec("UPDATE users SET email = 'admin@localhost' WHERE username = 'admin'");
      const before = await users(db);
      // Without a terminal, the old order failed on the missing password source first.
      const r = await cli(db, ['user', 'add', 'frank', '--email', 'admin@localhost']);
      expect(r.code, r.stderr).toBe(4);
      expect(r.stderr).toMatch(/The email admin@localhost already belongs to another user/);
      expect(await users(db)).toBe(before);
    });

    it.skipIf(Boolean(ptyMissing()))('at a terminal, a taken --email fails with no password prompt', async () => {
      const db = await fresh();
      await db.exec("UPDATE users SET email = 'admin@localhost' WHERE username = 'admin'");
      const r = await runOnPty(['user', 'add', 'frank', '--email', 'admin@localhost'], { cwd: db.cwd, env: { ...db.env, NO_COLOR: '1' }, steps: [] });
      expect(r.code, r.output).toBe(4);
      expect(r.output).not.toMatch(/password/i);
    });

    it.each([
      [['--no-email', '--email', 'a@b.c'], '--email and --no-email contradict each other'],
      [['--email', 'a@b.c', '--no-email'], '--email and --no-email contradict each other'],
      [['--admin', '--no-admin'], '--admin and --no-admin contradict each other'],
    ])('user set %j is refused (exit 2)', async (opts, message) => {
      const db = await fresh();
      const before = await users(db);
      const r = await cli(db, ['user', 'set', 'admin', ...opts]);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toContain(message);
      expect(await users(db)).toBe(before);
    });
  });
});
