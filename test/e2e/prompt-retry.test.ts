import { describe, expect, it } from 'vitest';
import { cli, describeProviders, independentVerify, type TestDb } from '../support/db.js';
import { CTRL_C, CTRL_D, ptyMissing, runOnPty } from '../support/pty.js';

const FAST = { AUTHCTL_BCRYPT_ROUNDS: '10' };
const ADMIN_PASSWORD = 'an admin passphrase';
const GOOD = 'another fine passphrase';

async function snapshot(db: TestDb): Promise<string> {
  const tables = [];
  for (const t of ['users', 'user_sessions', 'authctl_audit']) tables.push(await db.query(`SELECT * FROM ${t} ORDER BY id`));
  return JSON.stringify(tables);
}

const noPty = ptyMissing();

describeProviders('password prompt retries and doctor progress', ({ newDb }) => {
  async function freshDb(): Promise<TestDb> {
    const db = await newDb();
    const r = await cli(db, ['init-db', '--password-stdin'], { input: ADMIN_PASSWORD, env: FAST });
    expect(r.code, r.stderr).toBe(0);
    return db;
  }
  let shared: Promise<TestDb> | undefined;
  const sharedDb = () => (shared ??= freshDb());
  const onPty = (db: TestDb, args: string[], steps: Array<{ waitFor: string; send: string }>) =>
    runOnPty(args, { cwd: db.cwd, env: { ...db.env, ...FAST, NO_COLOR: '1' }, steps });

  describe.skipIf(noPty !== null)('on a terminal', () => {
    it('refuses a weak password right after the first entry, three times at most, then exits 7 and changes nothing', async () => {
      const db = await sharedDb();
      const before = await snapshot(db);
      const r = await onPty(db, ['user', 'add', 'wanda'], [
        { waitFor: 'New password for wanda', send: 'short\r' },
        { waitFor: '(2 tries left)', send: 'password123\r' },
        { waitFor: '(1 try left)', send: 'qwertyuiop\r' },
      ]);
      expect(r.timedOut, r.output).toBeNull();
      expect(r.code, r.output).toBe(7);
      expect(r.output).toMatch(/The password is refused: it has 5 characters; a user needs at least 8\. Try another \(2 tries left\)\./);
      expect(r.output).toMatch(/common or default passwords\. Try another \(1 try left\)\./);
      expect(r.output).toMatch(/error: The password is refused: it is on the list of common or default passwords\. That was the last of 3 tries; nothing was changed\./);
      expect(r.output).toMatch(/hint: .*--generate-password/);
      // The second entry was never asked for.
      expect(r.output).not.toContain('Type it again');
      expect(await snapshot(db)).toBe(before);
    });

    for (const [keyName, key] of [['Ctrl+C', CTRL_C], ['Ctrl+D', CTRL_D]] as const) {
      it(`${keyName} at the re-prompt after a refusal exits 130 and changes nothing`, async () => {
        const db = await sharedDb();
        const before = await snapshot(db);
        const r = await onPty(db, ['user', 'reset', 'admin'], [
          { waitFor: 'New password for admin', send: 'password\r' },
          { waitFor: 'Try another', send: key },
        ]);
        expect(r.timedOut, r.output).toBeNull();
        expect(r.code, r.output).toBe(130);
        expect(r.output).toMatch(/error: Cancelled\./);
        expect(await snapshot(db)).toBe(before);
      });
    }

    it('user reset takes a good password after a refused one', async () => {
      const db = await freshDb();
      const r = await onPty(db, ['user', 'reset', 'admin'], [
        { waitFor: 'New password for admin', send: 'admin\r' },
        { waitFor: 'Try another (2 tries left)', send: `${GOOD}\r` },
        { waitFor: 'Type it again', send: `${GOOD}\r` },
      ]);
      expect(r.timedOut, r.output).toBeNull();
      expect(r.code, r.output).toBe(0);
      const [row] = await db.query<{ password_hash: string }>("SELECT password_hash FROM users WHERE username = 'admin'");
      expect(independentVerify(GOOD, row!.password_hash)).toBe(true);
    });

    it('--allow-weak-password still skips the policy at the prompt', async () => {
      const db = await sharedDb();
      const r = await onPty(db, ['user', 'add', 'walt', '--allow-weak-password'], [
        { waitFor: 'New password for walt', send: 'walt\r' },
        { waitFor: 'Type it again', send: 'walt\r' },
      ]);
      expect(r.timedOut, r.output).toBeNull();
      expect(r.code, r.output).toBe(0);
      expect(r.output).not.toContain('Try another');
      const [row] = await db.query<{ password_hash: string }>("SELECT password_hash FROM users WHERE username = 'walt'");
      expect(independentVerify('walt', row!.password_hash)).toBe(true);
    });

    it('doctor shows its progress through the hash checks on a terminal, and none when piped', async () => {
      const db = await sharedDb();
      const r = await onPty(db, ['doctor'], []);
      expect(r.timedOut, r.output).toBeNull();
      expect(r.output).toMatch(/checking password hashes: \d+ of \d+ bcrypt verifications/);
      const piped = await cli(db, ['doctor']);
      expect(piped.stderr + piped.stdout).not.toMatch(/checking password hashes/);
    });
  });
  if (noPty) console.warn(`NOTICE: terminal tests skipped: ${noPty}`);
});
