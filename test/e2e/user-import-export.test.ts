import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { expect, it } from 'vitest';
import { CAN_MOUNT, hasStackTrace, smallDisk } from '../support/cli.js';
import { ptyMissing, runOnPty } from '../support/pty.js';
import { APP_DATETIME, cli, describeProviders, independentBcrypt, independentVerify, insertSession, appTimestamp, type TestDb, unparseable } from '../support/db.js';

const FAST = { AUTHCTL_BCRYPT_ROUNDS: '10' };
const ADMIN_PASSWORD = 'an admin passphrase';
const HASH_A = independentBcrypt('alice password 1', 10);
const HASH_Y = independentBcrypt('yolanda password', 10).replace(/^\$2b\$/, '$2y$');

async function snapshot(db: TestDb): Promise<string> {
  const tables = [];
  for (const t of ['users', 'user_sessions', 'user_preferences', 'authctl_audit']) tables.push(await db.query(`SELECT * FROM ${t} ORDER BY id`));
  return JSON.stringify(tables);
}

/** What import and export carry of each user, in a stable order. */
function carried(db: TestDb) {
  return db.query('SELECT username, email, full_name, is_admin, is_active, password_hash FROM users ORDER BY username');
}

function write(db: TestDb, name: string, text: string, mode = 0o600): string {
  const file = path.join(db.cwd, name);
  fs.writeFileSync(file, text, { mode });
  fs.chmodSync(file, mode);
  return file;
}

describeProviders('user import and export', ({ newDb }) => {
  async function freshDb(): Promise<TestDb> {
    const db = await newDb();
    const r = await cli(db, ['init-db', '--password-stdin'], { input: ADMIN_PASSWORD, env: FAST });
    expect(r.code, r.stderr).toBe(0);
    return db;
  }

  /** Fails with `code`, says why without a stack trace, and changes nothing. */
  async function refusedUnchanged(db: TestDb, args: string[], code: number, message: RegExp, input?: string) {
    const before = await snapshot(db);
    const r = await cli(db, args, { env: FAST, input });
    expect(r.code, r.stderr).toBe(code);
    expect(r.stderr).toMatch(message);
    expect(hasStackTrace(r.stderr)).toBe(false);
    expect(await snapshot(db)).toBe(before);
    return r;
  }

  it('export --include-hashes into import on a fresh database reproduces every user exactly', async () => {
    const source = await freshDb();
    const file = [
      'username,email,full_name,is_admin,is_active,password_hash,password',
      `alice,alice@example.com,"Chen, ""Al"" Zoë",no,yes,${HASH_A},`,
      `yolanda,,=SUM(A1),1,0,${HASH_Y},`,
      'gpu-only,g@example.com,,false,true,,',
      'carol,,Carol,yes,true,,carol has a long password',
    ].join('\n');
    const imported = await cli(source, ['user', 'import', '-', '--no-password', '--json'], { input: file, env: FAST });
    expect(imported.code, imported.stderr).toBe(0);
    expect(JSON.parse(imported.stdout)).toMatchObject({ created: 4, updated: 0, skipped: 0, createdUsers: ['alice', 'yolanda', 'gpu-only', 'carol'] });
    const [carol] = await source.query<{ password_hash: string }>("SELECT password_hash FROM users WHERE username = 'carol'");
    expect(independentVerify('carol has a long password', carol!.password_hash)).toBe(true);
    expect(await unparseable(source)).toEqual([]);
    const [gpu] = await source.query("SELECT full_name, password_hash FROM users WHERE username = 'gpu-only'");
    expect(gpu).toEqual({ full_name: 'gpu-only', password_hash: null });

    const exported = await cli(source, ['user', 'export', '--all', '--include-hashes', '-o', 'users.csv']);
    expect(exported.code, exported.stderr).toBe(0);
    expect(exported.stderr).toMatch(/warning: The export holds password hashes/);
    const out = path.join(source.cwd, 'users.csv');
    expect(fs.statSync(out).mode & 0o777).toBe(0o600);
    const ndjson = await cli(source, ['user', 'export', '--all', '--include-hashes', '--format', 'ndjson']);
    expect(ndjson.code, ndjson.stderr).toBe(0);

    for (const [args, input] of [
      [['user', 'import', out, '--on-conflict', 'update', '--no-password'], undefined],
      [['user', 'import', '-', '--format', 'ndjson', '--on-conflict', 'update', '--no-password'], ndjson.stdout],
    ] as const) {
      const target = await freshDb();
      const r = await cli(target, [...args], { input, env: FAST });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/4 created, 1 updated, 0 skipped/);
      expect(await carried(target)).toEqual(await carried(source));
      expect(await unparseable(target)).toEqual([]);
      // The same hashes, so the same passwords log in.
      const [admin] = await target.query<{ password_hash: string }>("SELECT password_hash FROM users WHERE username = 'admin'");
      expect(independentVerify(ADMIN_PASSWORD, admin!.password_hash)).toBe(true);
      const audit = await target.query<{ details: string; summary: string }>("SELECT summary, details FROM authctl_audit WHERE command = 'user import'");
      expect(audit).toHaveLength(1);
      expect(JSON.parse(audit[0]!.details)).toMatchObject({ created: 4, updated: 1, skipped: 0, givenHashes: 4 });
      expect(audit[0]!.details).not.toContain('$2');
    }
  });

  it('exports active users by default, never hashes without --include-hashes, and hostile values exactly', async () => {
    const db = await freshDb();
    const now = appTimestamp(new Date());
    const hostile = 'Evil\x1b[31m "Name",\r\nnext\u202e';
    await db.query(
      'INSERT INTO users (username, email, full_name, password_hash, is_admin, is_active, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      'mallory', null, hostile, HASH_A, db.provider === 'sqlite' ? 0 : false, db.provider === 'sqlite' ? 1 : true, now, now,
    );
    await db.query(
      'INSERT INTO users (username, email, full_name, password_hash, is_admin, is_active, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      'olga', 'o@example.com', 'Olga', HASH_A, db.provider === 'sqlite' ? 0 : false, db.provider === 'sqlite' ? 0 : false, now, now,
    );
    const r = await cli(db, ['user', 'export']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).not.toContain('$2b$');
    const rows = parse(r.stdout, { columns: true }) as Array<Record<string, string>>;
    expect(rows.map((u) => u.username)).toEqual(['admin', 'mallory']);
    expect(rows[1]!.full_name).toBe(hostile);
    expect(Object.keys(rows[0]!)).toEqual(['username', 'email', 'full_name', 'is_admin', 'is_active']);

    const inactive = await cli(db, ['user', 'export', '--inactive', '--format', 'json']);
    expect(JSON.parse(inactive.stdout)).toEqual([{ username: 'olga', email: 'o@example.com', full_name: 'Olga', is_admin: false, is_active: false }]);
    const json = await cli(db, ['user', 'export', '--all', '--json']);
    expect(JSON.parse(json.stdout)).toMatchObject({ count: 3, format: 'csv', includeHashes: false, file: null });
    expect(JSON.parse(json.stdout).users[1].full_name).toBe(hostile);

    // On a terminal the same data shows its control characters as escapes instead of acting on them.
    if (!ptyMissing()) {
      const tty = await runOnPty(['user', 'export'], { cwd: db.cwd, env: { ...db.env, NO_COLOR: '1' }, steps: [] });
      expect(tty.code, tty.output).toBe(0);
      expect(tty.output).toContain('Evil\\x1b[31m');
      expect(tty.output).toContain('next\\u202e');
      expect(tty.output).not.toMatch(/[\x1b\u202e]/);
    }

    const plain = await cli(db, ['user', 'export', '-o', 'active.csv', '--json']);
    expect(JSON.parse(plain.stdout)).toEqual({ count: 2, format: 'csv', includeHashes: false, file: 'active.csv' });
    expect(fs.readFileSync(path.join(db.cwd, 'active.csv'), 'utf8')).toBe(r.stdout);
    const again = await refusedUnchanged(db, ['user', 'export', '-o', 'active.csv'], 7, /already exists/);
    expect(again.stdout).toBe('');
    expect(fs.readFileSync(path.join(db.cwd, 'active.csv'), 'utf8')).toBe(r.stdout);
  });

  it('refuses malformed CSV (quotes, BOM, CRLF, an extra column) with line numbers, writing nothing', async () => {
    const db = await freshDb();
    write(db, 'extra.csv', '\uFEFFusername,email\r\nok,ok@example.com\r\nbob,b@example.com,surplus\r\nbad name,\r\n');
    const r = await refusedUnchanged(db, ['user', 'import', 'extra.csv', '--no-password'], 2, /2 rows of extra\.csv cannot be imported/);
    expect(r.stderr).toMatch(/line 3: 3 fields where the header has 2/);
    expect(r.stderr).toMatch(/line 4: The username "bad name"/);
    write(db, 'quote.csv', 'username,full_name\r\nok,"fine"\r\nbob,"unclosed\r\n');
    await refusedUnchanged(db, ['user', 'import', 'quote.csv', '--no-password'], 2, /not valid CSV at line 3/);
    write(db, 'stray.csv', 'username,full_name\nbo"b,x\n');
    await refusedUnchanged(db, ['user', 'import', 'stray.csv', '--no-password'], 2, /not valid CSV/);
    const json = await refusedUnchanged(db, ['user', 'import', 'extra.csv', '--no-password', '--json'], 2, /USAGE/);
    expect(JSON.parse(json.stderr).error.details).toEqual([
      'line 3: 3 fields where the header has 2',
      expect.stringMatching(/^line 4: The username "bad name"/),
    ]);
    // The BOM and CRLF themselves are fine: the first good row goes in once the bad ones are gone.
    write(db, 'good.csv', '\uFEFFusername,email\r\nok,ok@example.com\r\n');
    const good = await cli(db, ['user', 'import', 'good.csv', '--no-password'], { env: FAST });
    expect(good.code, good.stderr).toBe(0);
    expect(await db.query("SELECT username, email FROM users WHERE username = 'ok'")).toEqual([{ username: 'ok', email: 'ok@example.com' }]);
  });

  it('takes plaintext passwords only from stdin or a file no other user can read', async () => {
    const db = await freshDb();
    const text = 'username,password\ndave,dave has a long password\n';
    write(db, 'open.csv', text, 0o640);
    await refusedUnchanged(db, ['user', 'import', 'open.csv'], 7, /other users can access it \(mode 0640\)/);
    write(db, 'group.csv', text, 0o604);
    await refusedUnchanged(db, ['user', 'import', 'group.csv'], 7, /mode 0604/);
    // Also when its rows are malformed: the refusal does not wait for a row to be read.
    write(db, 'fields.csv', 'username,password\ngina,Sup3rS3cretPassw0rd,x\n', 0o644);
    await refusedUnchanged(db, ['user', 'import', 'fields.csv', '--dry-run'], 7, /fields\.csv holds plaintext passwords and other users can access it/);
    write(db, 'unclosed.csv', 'username,password\ngina,"Sup3rS3cretPassw0rd\n', 0o644);
    await refusedUnchanged(db, ['user', 'import', 'unclosed.csv'], 7, /unclosed\.csv holds plaintext passwords/);
    write(db, 'broken.json', '[{"username": "gina", "password": "Sup3rS3cretPassw0rd"', 0o644);
    await refusedUnchanged(db, ['user', 'import', 'broken.json'], 7, /broken\.json holds plaintext passwords/);
    // A readable file without plaintext passwords is fine.
    write(db, 'hashes.csv', `username,password_hash\nerin,${HASH_A}\n`, 0o644);
    expect((await cli(db, ['user', 'import', 'hashes.csv'], { env: FAST })).code).toBe(0);
    write(db, 'private.csv', text, 0o600);
    const r = await cli(db, ['user', 'import', 'private.csv'], { env: FAST });
    expect(r.code, r.stderr).toBe(0);
    const [dave] = await db.query<{ password_hash: string }>("SELECT password_hash FROM users WHERE username = 'dave'");
    expect(independentVerify('dave has a long password', dave!.password_hash)).toBe(true);
    expect(dave!.password_hash).toMatch(/^\$2b\$10\$/);
    const audit = JSON.stringify(await db.query('SELECT * FROM authctl_audit'));
    expect(audit).not.toContain('dave has a long password');
    expect(audit).not.toContain(dave!.password_hash);
    // The policy of `user add`, with --allow-weak-password for the whole run.
    const refusedRow = await refusedUnchanged(db, ['user', 'import', '-'], 2, /line 2: The password is refused/, 'username,password\nfrank,frank\n');
    // Its advice names the import's own options.
    expect(refusedRow.stderr).toMatch(/--generate-passwords/);
    expect(refusedRow.stderr).not.toMatch(/--generate-password\b(?!s)/);
    expect((await cli(db, ['user', 'import', '-', '--allow-weak-password'], { input: 'username,password\nfrank,frank\n', env: FAST })).code).toBe(0);
  });

  it('an update that gives an existing admin a password holds it to the admin rule, and a dry run refuses what the real run would', async () => {
    const db = await freshDb();
    // The row leaves is_admin out: the user stays an admin, so the admin rule (12 characters) applies.
    const weak = await refusedUnchanged(db, ['user', 'import', '-', '--on-conflict', 'update'], 2, /line 2: admin is an admin: The password is refused: it has 9 characters; an admin needs at least 12/, 'username,password\nadmin,Zq7-mvKp2\n');
    expect(weak.stderr).not.toContain('Zq7-mvKp2');
    expect((await cli(db, ['user', 'import', '-', '--on-conflict', 'update', '--allow-weak-password'], { input: 'username,password\nadmin,Zq7-mvKp2\n', env: FAST })).code).toBe(0);
    // Demoting the last active admin: the dry run says no, as the real run does.
    for (const extra of [['--dry-run'], []]) {
      await refusedUnchanged(db, ['user', 'import', '-', '--on-conflict', 'update', ...extra], 7, /would leave no active admin/, 'username,is_admin\nadmin,false\n');
    }
    // With a new active admin in the same file, it goes through.
    const swap = await cli(db, ['user', 'import', '-', '--on-conflict', 'update', '--dry-run', '--no-password'], { input: 'username,is_admin\nadmin,false\nroot2,true\n', env: FAST });
    expect(swap.code, swap.stderr).toBe(0);
  });

  it('an update that makes an existing user an active admin refuses a well-known stored password, in a dry run too', async () => {
    const db = await freshDb();
    expect((await cli(db, ['user', 'import', '-', '--no-password'], { input: 'username\nbob\ncarol\n', env: FAST })).code).toBe(0);
    await db.query('UPDATE users SET password_hash = ? WHERE username = ?', independentBcrypt('changeme', 4), 'bob');
    await db.query('UPDATE users SET password_hash = ? WHERE username = ?', independentBcrypt('a long and private one', 4), 'carol');
    const rows = 'username,is_admin\nbob,true\ncarol,true\n';
    for (const extra of [['--dry-run'], []]) {
      const r = await refusedUnchanged(db, ['user', 'import', '-', '--on-conflict', 'update', ...extra], 7, /1 row would make an active admin of a user whose stored password is a well-known one/, rows);
      expect(r.stderr).toMatch(/line 2: bob/);
      expect(r.stderr).not.toMatch(/line 3: carol|changeme/);
    }
    // A row that gives a password replaces the stored one, and the override goes through, audited.
    expect((await cli(db, ['user', 'import', '-', '--on-conflict', 'update'], { input: 'username,is_admin,password\nbob,true,a fresh admin passphrase\n', env: FAST })).code).toBe(0);
    const allowed = await cli(db, ['user', 'import', '-', '--on-conflict', 'update', '--allow-weak-password'], { input: 'username,is_admin\ncarol,true\n', env: FAST });
    expect(allowed.code, allowed.stderr).toBe(0);
  });

  it('--on-conflict fail names the rows, skip leaves users alone, update changes what the file gives', async () => {
    const db = await freshDb();
    const first = 'username,email,full_name\nalice,alice@example.com,Alice\nbob,bob@example.com,Bob\n';
    expect((await cli(db, ['user', 'import', '-', '--no-password'], { input: first, env: FAST })).code).toBe(0);
    const userId = (await db.query<{ id: number }>("SELECT id FROM users WHERE username = 'alice'"))[0]!.id;
    await insertSession(db, { userId, expiresAt: appTimestamp(new Date(Date.now() + 3_600_000)) });
    const next = `username,email,full_name,is_active,password_hash\nalice,alice@new.example.com,Alice Chen,false,${HASH_A}\ncarl,,,,\nbob,,Bobby,,\n`;
    const fail = await refusedUnchanged(db, ['user', 'import', '-', '--no-password'], 4, /2 rows clash with existing users/, next);
    expect(fail.stderr).toMatch(/line 2: the username "alice" is taken/);
    expect(fail.stderr).toMatch(/line 4: the username "bob" is taken/);
    // An email that belongs to someone else is a conflict even with update.
    await refusedUnchanged(db, ['user', 'import', '-', '--on-conflict', 'update', '--no-password'], 4, /belongs to "bob"/, 'username,email\nalice,bob@example.com\n');
    const dry = await cli(db, ['user', 'import', '-', '--on-conflict', 'skip', '--no-password', '--dry-run', '--json'], { input: next, env: FAST });
    expect(JSON.parse(dry.stdout)).toMatchObject({ dryRun: true, created: 1, skipped: 2, createdUsers: ['carl'], skippedUsers: ['alice', 'bob'] });

    const before = await carried(db);
    const skip = await cli(db, ['user', 'import', '-', '--on-conflict', 'skip', '--no-password'], { input: next, env: FAST });
    expect(skip.code, skip.stderr).toBe(0);
    expect(skip.stdout).toMatch(/1 created, 0 updated, 2 skipped/);
    expect((await carried(db)).filter((u) => u.username !== 'carl')).toEqual(before);

    const update = await cli(db, ['user', 'import', '-', '--on-conflict', 'update', '--no-password', '--json'], { input: next, env: FAST });
    expect(update.code, update.stderr).toBe(0);
    expect(JSON.parse(update.stdout)).toMatchObject({ created: 0, updated: 3, sessionsRevoked: 1 });
    const rows = await db.query("SELECT username, email, full_name, is_active, password_hash, updated_at FROM users WHERE username IN ('alice', 'bob') ORDER BY username");
    expect(rows[0]).toMatchObject({ email: 'alice@new.example.com', full_name: 'Alice Chen', is_active: 0, password_hash: HASH_A });
    // Bob's empty email clears it; his password (none) and active flag are kept.
    expect(rows[1]).toMatchObject({ email: null, full_name: 'Bobby', is_active: 1, password_hash: null });
    expect(rows[0]!.updated_at).toMatch(APP_DATETIME);
    expect(await db.query('SELECT id FROM user_sessions WHERE user_id = ?', userId)).toEqual([]);

    // The same hash again is no new password: the session stays.
    await insertSession(db, { userId, expiresAt: appTimestamp(new Date(Date.now() + 3_600_000)) });
    const same = await cli(db, ['user', 'import', '-', '--on-conflict', 'update', '--json'], { input: `username,password_hash\nalice,${HASH_A}\n`, env: FAST });
    expect(JSON.parse(same.stdout)).toMatchObject({ updated: 1, sessionsRevoked: 0 });

    // GPUStack owns a linked user's name, admin and active flags; its email stays editable.
    await db.query("UPDATE users SET gpustack_user_id = 77 WHERE username = 'bob'");
    const linked = await refusedUnchanged(db, ['user', 'import', '-', '--on-conflict', 'update'], 7, /GPUStack-linked/, 'username,is_admin\nbob,yes\n');
    expect(linked.stderr).toMatch(/line 2: bob/);
    const email = await cli(db, ['user', 'import', '-', '--on-conflict', 'update'], { input: 'username,email\nbob,bob@gpu.example.com\n', env: FAST });
    expect(email.code, email.stderr).toBe(0);

    // Update may demote `admin`, but never leave no active admin.
    await refusedUnchanged(db, ['user', 'import', '-', '--on-conflict', 'update'], 7, /no active admin/, 'username,is_admin\nadmin,false\n');
  });

  it('generated passwords go once to a new 0600 --passwords-out file, or to --json, never to the audit log', async () => {
    const db = await freshDb();
    const rows = 'username,is_admin\nnew1,no\nnew2,yes\n';
    const r = await cli(db, ['user', 'import', '-', '--generate-passwords', '--passwords-out', 'pw.csv', '--json'], { input: rows, env: FAST });
    expect(r.code, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout);
    expect(result).toMatchObject({ created: 2, passwordsGenerated: 2, passwordsFile: 'pw.csv' });
    expect(result).not.toHaveProperty('passwords');
    const file = path.join(db.cwd, 'pw.csv');
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    const passwords = parse(fs.readFileSync(file, 'utf8'), { columns: true }) as Array<{ username: string; password: string }>;
    expect(passwords.map((p) => p.username)).toEqual(['new1', 'new2']);
    const stored = await db.query<{ username: string; password_hash: string }>("SELECT username, password_hash FROM users WHERE username LIKE 'new%' ORDER BY username");
    for (const [i, p] of passwords.entries()) {
      expect(p.password).toHaveLength(20);
      expect(independentVerify(p.password, stored[i]!.password_hash)).toBe(true);
    }
    const audit = JSON.stringify(await db.query('SELECT * FROM authctl_audit'));
    for (const p of passwords) expect(audit).not.toContain(p.password);

    // An existing file is refused before anything is written, and kept as it was.
    const kept = fs.readFileSync(file, 'utf8');
    await refusedUnchanged(db, ['user', 'import', '-', '--generate-passwords', '--passwords-out', 'pw.csv'], 7, /already exists/, 'username\nnew3\n');
    expect(fs.readFileSync(file, 'utf8')).toBe(kept);

    const json = await cli(db, ['user', 'import', '-', '--generate-passwords', '--json'], { input: 'username\nnew3\n', env: FAST });
    const [generated] = JSON.parse(json.stdout).passwords;
    expect(generated.username).toBe('new3');
    const shown = await cli(db, ['user', 'import', '-', '--generate-passwords'], { input: 'username\nnew4\n', env: FAST });
    expect(shown.stdout).toMatch(/Password for new4 \(shown once\): \S{20}/);
    // Without a password source, a new user is an error.
    await refusedUnchanged(db, ['user', 'import', '-'], 2, /line 2: new5/, 'username\nnew5\n');
  });

  it.skipIf(!CAN_MOUNT)('a --passwords-out or -o file the disk cannot hold whole is removed, with exit 2 and nothing imported', async () => {
    const db = await freshDb();
    const disk = smallDisk(4);
    expect(disk, 'mount a tmpfs').not.toBeNull();
    // 200 users' passwords take about 6 KiB, more than the disk's one page.
    const rows = ['username', ...Array.from({ length: 200 }, (_, i) => `bulk${i}`)].join('\n');
    const out = path.join(disk!, 'pw.csv');
    const r = await refusedUnchanged(db, ['user', 'import', '-', '--generate-passwords', '--passwords-out', out, '--rounds', '10'], 2, /Writing the passwords file .* failed \(ENOSPC\); it was removed, and no user was imported\./, rows);
    expect(r.stderr).toMatch(/hint: Free space/);
    expect(fs.readdirSync(disk!)).toEqual([]);

    // An export with hashes: the disk is full.
    fs.writeFileSync(path.join(disk!, 'filler'), Buffer.alloc(1024));
    const exported = path.join(disk!, 'users.csv');
    const e = await cli(db, ['user', 'export', '--all', '--include-hashes', '-o', exported, '--json'], { env: FAST });
    expect(e.code, e.stderr).toBe(2);
    expect(JSON.parse(e.stderr.trim().split('\n').at(-1)!).error.message).toMatch(/Writing .*users\.csv failed \(ENOSPC\); the incomplete file was removed\./);
    expect(e.stdout).toBe('');
    expect(fs.readdirSync(disk!)).toEqual(['filler']);
  });

  it('--dry-run writes nothing, and the plan names what would happen', async () => {
    const db = await freshDb();
    const r = await refusedUnchanged(db, ['user', 'import', '-', '--generate-passwords', '--passwords-out', 'pw.csv', '--dry-run', '--on-conflict', 'skip'], 0, /database:/, 'username\nadmin\nzoe\n');
    expect(r.stdout).toMatch(/Dry run, nothing written: 1 to create, 0 to update, 1 to skip \(1 generated passwords\)/);
    expect(fs.existsSync(path.join(db.cwd, 'pw.csv'))).toBe(false);
  });
});
