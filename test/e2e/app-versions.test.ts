import fs from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { hasStackTrace } from '../support/cli.js';
import { addConversations, appTimestamp, cli, describeProviders, fillAppDatabase, independentBcrypt, independentVerify, startNewestApp, type TestDb, unparseable } from '../support/db.js';

/**
 * authctl against the app as it is from v2.3.0 to the newest version: its
 * chat-history tables (`conversations`, `messages`, foreign keys to users)
 * are the app's alone, its validation decides which rows it can serve, and
 * it seeds admin/admin whenever no user is named `admin`.
 */

const FAST = { AUTHCTL_BCRYPT_ROUNDS: '10' };
const STRONG = 'a-long-admin-passphrase-42\n';

/** Every row of every table the app and authctl share, to prove nothing else moved. */
async function everyRow(db: TestDb, tables = ['users', 'user_sessions', 'user_preferences', 'conversations', 'messages']): Promise<string> {
  const out: Record<string, unknown> = {};
  for (const t of tables) out[t] = await db.query(`SELECT * FROM ${t} ORDER BY ${t === 'messages' || t === 'conversations' ? 'created_at, id' : 'id'}`);
  return JSON.stringify(out);
}

async function chatRows(db: TestDb): Promise<string> {
  return everyRow(db, ['conversations', 'messages']);
}

/** Files left beside a SQLite database, other than the database itself and announced backups. */
function leftovers(db: TestDb): string[] {
  if (db.provider !== 'sqlite') return [];
  const file = db.url.slice('sqlite:///'.length);
  return fs.readdirSync(path.dirname(file)).filter((f) => f !== path.basename(file) && !/\.bak-\d{8}-\d{6}$/.test(f));
}

describeProviders('the app from v2.2.0 to its newest version', ({ provider, newDb }) => {
  /** A database exactly as the newest app leaves it: seeded admin/admin, its test accounts, chat history. */
  async function newestAppDb(): Promise<TestDb> {
    const db = await newDb();
    const now = Date.now();
    await fillAppDatabase(db, {
      version: 'v2.5.4',
      users: [
        { username: 'admin', email: 'admin@localhost', passwordHash: independentBcrypt('admin', 10), isAdmin: true, fullName: 'Default Admin' },
        { username: 'testuser', email: 'test@localhost', passwordHash: independentBcrypt('testpass', 10), fullName: 'Test User' },
        { username: 'admin2', email: 'admin2@localhost', passwordHash: independentBcrypt('admin123', 10), isAdmin: true, fullName: 'Admin User 2' },
        // A blob an older tool left in users.preferences, which the app still reads.
        { username: 'gs-dana', gpustackUserId: 12, fullName: 'Dana', legacyPreferences: '{"theme": "dark"}' },
      ],
      sessions: [
        { userId: 1, expiresAt: appTimestamp(new Date(now + 20 * 60_000)) },
        { userId: 1, expiresAt: appTimestamp(new Date(now - 20 * 60_000)) },
        { userId: 2, expiresAt: appTimestamp(new Date(now + 3 * 86_400_000)), tokenType: 'refresh' },
      ],
      prefs: [{ userId: 2, key: 'theme', value: 'dark' }],
      conversations: [
        { userId: 1, title: 'Cluster sizing', messages: ['How many GPUs?', 'Four would do.'] },
        { userId: 2, title: 'Hello', messages: ['hi'] },
        { userId: 4, title: 'Notes', messages: ['one', 'two', 'three'] },
      ],
    });
    return db;
  }

  it('adopts a newest-app database: doctor names admin/admin, migrate keeps every row, reset, then doctor and status stay 0 across app restarts', async () => {
    const db = await newestAppDb();
    const before = await everyRow(db);

    const doctor = await cli(db, ['doctor', '--json']);
    expect(doctor.code, doctor.stderr).toBe(8);
    const checks = JSON.parse(doctor.stdout).checks as Array<{ id: string; status: string; detail: string }>;
    const weak = checks.find((c) => c.id === 'weak-passwords')!;
    expect(weak.status).toBe('fail');
    expect(weak.detail).toMatch(/admin \(still the app's default account admin\/admin/);
    expect(weak.detail).toMatch(/testuser \(still the app's default account testuser\/testpass/);
    expect(weak.detail).toMatch(/admin2 \(still the app's default account admin2\/admin123/);
    expect(checks.find((c) => c.id === 'migrations')!.detail).toMatch(/not yet adopted/);

    const status = await cli(db, ['migrate', 'status', '--json']);
    expect(status.code).toBe(8);
    expect(JSON.parse(status.stdout)).toMatchObject({ state: 'app-unmanaged', appTables: ['conversations', 'messages'] });

    const migrate = await cli(db, ['migrate']);
    expect(migrate.code, migrate.stderr).toBe(0);
    expect(migrate.stdout).toMatch(/Adopted the app's existing tables/);
    expect(await everyRow(db)).toBe(before);
    const dana = await cli(db, ['user', 'show', 'gs-dana']);
    expect(dana.stdout).toContain('legacy preferences: {"theme":"dark"}');
    expect(JSON.parse((await cli(db, ['user', 'show', 'gs-dana', '--json'])).stdout).user.legacyPreferences).toEqual({ theme: 'dark' });

    const reset = await cli(db, ['user', 'reset', 'admin', '--password-stdin'], { input: STRONG, env: FAST });
    expect(reset.code, reset.stderr).toBe(0);
    const [admin] = await db.query<{ password_hash: string }>("SELECT password_hash FROM users WHERE username = 'admin'");
    expect(independentVerify(STRONG.trim(), admin!.password_hash)).toBe(true);
    for (const name of ['testuser', 'admin2']) expect((await cli(db, ['user', 'disable', name])).code).toBe(0);

    expect((await cli(db, ['doctor'])).code).toBe(0);
    const chat = await chatRows(db);

    // The app starts again: create_all finds its tables and adds nothing; it writes more chat history.
    await startNewestApp(db);
    await addConversations(db, [{ userId: 1, title: 'After restart', messages: ['still here?'] }]);
    const again = await cli(db, ['migrate', 'status', '--json']);
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ upToDate: true, drift: [], appTables: ['conversations', 'messages'] });
    expect((await cli(db, ['migrate', 'status'])).stdout).toMatch(/App tables, not managed by authctl: conversations, messages/);
    expect((await cli(db, ['doctor'])).code).toBe(0);
    expect((await chatRows(db)).length).toBeGreaterThan(chat.length);
    expect(leftovers(db)).toEqual([]);
  });

  it('a database authctl made stays up to date once the app has started on it and added its tables', async () => {
    const db = await newDb();
    const init = await cli(db, ['init-db', '--password-stdin'], { input: STRONG, env: FAST });
    expect(init.code, init.stderr).toBe(0);
    expect(leftovers(db)).toEqual([]);

    await startNewestApp(db);
    await addConversations(db, [{ userId: 1, title: 'First chat', messages: ['hello', 'hi'] }]);
    const status = await cli(db, ['migrate', 'status', '--json']);
    expect(status.code, status.stderr).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ upToDate: true, drift: [], appTables: ['conversations', 'messages'] });
    const doctor = await cli(db, ['doctor', '--json']);
    expect(doctor.code, doctor.stdout).toBe(0);
    const migrate = await cli(db, ['migrate']);
    expect(migrate.code, migrate.stderr).toBe(0);
    expect(migrate.stdout).toMatch(/Already up to date/);
  });

  it('still reports drift in its own tables, and refuses a database whose auth tables differ, whatever else it holds', async () => {
    const db = await newDb();
    expect((await cli(db, ['init-db', '--password-stdin'], { input: STRONG, env: FAST })).code).toBe(0);
    await startNewestApp(db);
    await db.exec('CREATE INDEX idx_rogue ON users (full_name)');
    const status = await cli(db, ['migrate', 'status', '--json']);
    expect(status.code).toBe(8);
    expect(JSON.parse(status.stdout).drift).toEqual(['users: unexpected index idx_rogue (full_name)']);

    const other = await newDb();
    await fillAppDatabase(other, { version: 'v2.5.4', users: [{ username: 'admin', passwordHash: independentBcrypt('admin', 10), isAdmin: true, fullName: 'Default Admin' }] });
    await other.exec('ALTER TABLE user_preferences ADD COLUMN extra TEXT');
    const before = await everyRow(other);
    const r = await cli(other, ['migrate']);
    expect(r.code).toBe(5);
    expect(r.stderr).toMatch(/user_preferences: unexpected column extra/);
    expect(r.stderr).not.toMatch(/conversations|messages/);
    expect(await everyRow(other)).toBe(before);
  });

  it('every command works on an adopted newest-app database and leaves the chat history alone', async () => {
    const db = await newestAppDb();
    expect((await cli(db, ['migrate'])).code).toBe(0);
    const chat = await chatRows(db);
    const ok = async (args: string[], input?: string) => {
      const r = await cli(db, args, { input, env: FAST });
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
      expect(hasStackTrace(r.stderr)).toBe(false);
      return r;
    };
    await ok(['user', 'add', 'erin', '--email', 'erin@example.com', '--password-stdin'], 'erin-password-123\n');
    await ok(['user', 'list', '--all']);
    await ok(['user', 'show', 'gs-dana']);
    await ok(['user', 'prefs', 'erin', 'set', 'theme', 'light']);
    await ok(['user', 'prefs', 'erin', 'list']);
    await ok(['user', 'disable', 'testuser']);
    await ok(['user', 'enable', 'testuser']);
    await ok(['user', 'reset', 'admin2', '--password-stdin'], 'another-admin-passphrase\n');
    await ok(['sessions', 'list', '--all']);
    await ok(['sessions', 'stats']);
    await ok(['sessions', 'revoke', '--user', 'testuser']);
    await ok(['sessions', 'purge', '--dry-run']);
    const purge = await ok(['sessions', 'purge', '--json']);
    expect(JSON.parse(purge.stdout).deleted).toBe(1);
    await ok(['audit']);
    await ok(['migrate', 'status']);
    expect(await chatRows(db)).toBe(chat);
    expect(await unparseable(db)).toEqual([]);
    expect(leftovers(db)).toEqual([]);
  });

  it('user add sets the full name the app requires, and refuses usernames the login form cannot take', async () => {
    const db = await newDb();
    expect((await cli(db, ['init-db', '--password-stdin'], { input: STRONG, env: FAST })).code).toBe(0);
    const add = await cli(db, ['user', 'add', 'frank', '--password-stdin', '--json'], { input: 'frank-password-123\n', env: FAST });
    expect(add.code, add.stderr).toBe(0);
    expect(JSON.parse(add.stdout).user.fullName).toBe('frank');
    expect(await db.query("SELECT full_name FROM users WHERE username = 'frank'")).toEqual([{ full_name: 'frank' }]);

    const before = await everyRow(db, ['users']);
    const long = await cli(db, ['user', 'add', 'u'.repeat(51), '--password-stdin'], { input: 'some-password-123\n', env: FAST });
    expect(long.code).toBe(2);
    expect(long.stderr).toMatch(/at most 50/);
    const fifty = 'u'.repeat(50);
    const longName = await cli(db, ['user', 'add', fifty, '--full-name', 'n'.repeat(101), '--password-stdin'], { input: 'some-password-123\n', env: FAST });
    expect(longName.code).toBe(2);
    expect(longName.stderr).toMatch(/at most 100/);
    const blank = await cli(db, ['user', 'add', fifty, '--full-name', '  ', '--password-stdin'], { input: 'some-password-123\n', env: FAST });
    expect(blank.code).toBe(2);
    const rootLong = await cli(db, ['init-db', '--admin-username', 'r'.repeat(51), '--password-stdin'], { input: STRONG, env: FAST });
    expect(rootLong.code).toBe(2);
    expect(await everyRow(db, ['users'])).toBe(before);
    expect((await cli(db, ['user', 'add', fifty, '--password-stdin'], { input: 'some-password-123\n', env: FAST })).code).toBe(0);
  });

  it('migrate repairs null full names in one audited step; doctor fails on them first, and a dry run changes nothing', async () => {
    const db = await newDb();
    await fillAppDatabase(db, {
      users: [
        { username: 'admin', passwordHash: independentBcrypt('an-admin-passphrase', 10), isAdmin: true, fullName: 'Default Admin' },
        { username: 'legacy-1', passwordHash: independentBcrypt('legacy-password-1', 10) },
        { username: 'legacy-2', gpustackUserId: 3 },
      ],
    });
    const doctor = await cli(db, ['doctor', '--json']);
    expect(doctor.code).toBe(8);
    const appRows = JSON.parse(doctor.stdout).checks.find((c: { id: string }) => c.id === 'app-rows');
    expect(appRows).toMatchObject({ status: 'fail' });
    expect(appRows.detail).toMatch(/2 user\(s\) without a full name \(legacy-1, legacy-2\)/);
    expect(appRows.hint).toMatch(/authctl migrate/);

    const before = await everyRow(db, ['users']);
    const dry = await cli(db, ['migrate', '--dry-run', '--json']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(JSON.parse(dry.stdout)).toMatchObject({ adopt: true, repairs: { fullNamesSet: 2, reservedAdmin: false } });
    expect(await everyRow(db, ['users'])).toBe(before);

    const r = await cli(db, ['migrate']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/Set the missing full name of 2 user\(s\)/);
    expect(await db.query('SELECT username, full_name FROM users ORDER BY id')).toEqual([
      { username: 'admin', full_name: 'Default Admin' },
      { username: 'legacy-1', full_name: 'legacy-1' },
      { username: 'legacy-2', full_name: 'legacy-2' },
    ]);
    expect(await unparseable(db)).toEqual([]);
    const audit = await db.query<{ summary: string; details: string }>("SELECT summary, details FROM authctl_audit WHERE command = 'migrate'");
    expect(audit).toHaveLength(1);
    expect(audit[0]!.summary).toMatch(/adopted the app schema; applied \d migration\(s\); set the missing full name of 2 user\(s\)/);
    expect(JSON.parse(audit[0]!.details)).toMatchObject({ adopted: true, fullNamesSet: 2 });
    expect((await cli(db, ['doctor'])).code).toBe(0);

    // A row written later by something else (the app's own unsafe sync, an older tool): migrate repairs it alone.
    await db.exec("UPDATE users SET full_name = NULL WHERE username = 'admin'");
    expect((await cli(db, ['doctor'])).code).toBe(8);
    const repair = await cli(db, ['migrate', '--json']);
    expect(repair.code, repair.stderr).toBe(0);
    expect(JSON.parse(repair.stdout)).toMatchObject({ adopt: false, apply: [], repairs: { fullNamesSet: 1 } });
    expect(await db.query("SELECT full_name FROM users WHERE username = 'admin'")).toEqual([{ full_name: 'admin' }]);
    expect(await db.query("SELECT summary FROM authctl_audit WHERE command = 'migrate' ORDER BY id")).toEqual([
      { summary: expect.stringMatching(/adopted/) },
      { summary: 'set the missing full name of 1 user(s) to their username' },
    ]);
    const again = await cli(db, ['migrate']);
    expect(again.stdout).toMatch(/Already up to date/);
    expect(await db.query("SELECT count(*) AS n FROM authctl_audit WHERE command = 'migrate'")).toEqual([{ n: 2 }]);
  });

  it('never lets admin/admin come back: init-db with another admin name keeps a disabled admin, doctor fails when the name is free', async () => {
    const db = await newDb();
    const init = await cli(db, ['init-db', '--admin-username', 'root', '--password-stdin', '--json'], { input: STRONG, env: FAST });
    expect(init.code, init.stderr).toBe(0);
    expect(JSON.parse(init.stdout)).toMatchObject({ admin: 'root', reservedAdmin: true });
    const human = await cli(db, ['user', 'list', '--all']);
    expect(human.code).toBe(0);
    const [placeholder] = await db.query<Record<string, unknown>>("SELECT * FROM users WHERE username = 'admin'");
    expect(placeholder).toMatchObject({ is_active: 0, is_admin: 0, password_hash: null, email: null, gpustack_user_id: null });
    expect(placeholder!.full_name).toBeTruthy();
    expect(await unparseable(db)).toEqual([]);
    expect((await cli(db, ['doctor'])).code).toBe(0);

    const other = await newDb();
    const shown = await cli(other, ['init-db', '--admin-username', 'root', '--password-stdin'], { input: STRONG, env: FAST });
    expect(shown.stderr).toMatch(/Kept a disabled user named "admin" with no password/);

    // Someone removed it by hand: the app's next start would seed admin/admin.
    await db.exec("DELETE FROM users WHERE username = 'admin'");
    const doctor = await cli(db, ['doctor', '--json']);
    expect(doctor.code).toBe(8);
    const check = JSON.parse(doctor.stdout).checks.find((c: { id: string }) => c.id === 'admin-name');
    expect(check).toMatchObject({ status: 'fail' });
    expect(check.detail).toMatch(/admin\/admin/);
    expect(check.hint).toMatch(/authctl migrate/);
    const repair = await cli(db, ['migrate']);
    expect(repair.code, repair.stderr).toBe(0);
    expect(repair.stderr).toMatch(/Kept a disabled user named "admin"/);
    expect(await db.query("SELECT is_active FROM users WHERE username = 'admin'")).toEqual([{ is_active: 0 }]);
    expect((await cli(db, ['doctor'])).code).toBe(0);
  });

  if (provider === 'sqlite') it('migrate and purge leave no lock file beside the database, also when two purges race', async () => {
    const db = await newestAppDb();
    expect((await cli(db, ['migrate'])).code).toBe(0);
    expect(leftovers(db)).toEqual([]);
    expect((await cli(db, ['sessions', 'purge'])).code).toBe(0);
    expect(leftovers(db)).toEqual([]);
    // Two purges at once: one runs, the other exits 75 at once or runs after; neither leaves a file.
    const [a, b] = await Promise.all([cli(db, ['sessions', 'purge']), cli(db, ['sessions', 'purge'])]);
    expect([a.code, b.code].sort()).toEqual(a.code === 0 && b.code === 0 ? [0, 0] : [0, 75]);
    expect(leftovers(db)).toEqual([]);
  });
});
