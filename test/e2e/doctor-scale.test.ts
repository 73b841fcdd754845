import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import type { CliResult } from '../support/cli.js';
import { cli, describeProviders, fillAppDatabase, independentBcrypt, type TestDb } from '../support/db.js';

const STRONG = { admin: 'admin passphrase long enough', alice: 'alice-has-a-fine-one', carol: 'carol keeps hers secret' };

/** The candidate list doctor tries besides each user's own name (README, doctor). */
const DEFAULTS = ['admin', 'password', 'changeme', 'gpustack', '123456'];

/** The documented digest: SHA-256 (hex) of the JSON of [candidates, username, hash]. */
const digestOf = (username: string, hash: string) => createHash('sha256').update(JSON.stringify([DEFAULTS, username, hash])).digest('hex');

interface Check {
  id: string;
  status: string;
  detail: string;
}

describeProviders('doctor remembers checked hashes', ({ provider, newDb }) => {
  /** An adopted database: admin, alice and carol with strong passwords, bob with a default one. */
  async function adopted(): Promise<{ db: TestDb; hashes: Record<string, string> }> {
    const db = await newDb();
    const hashes = {
      admin: independentBcrypt(STRONG.admin, 10),
      alice: independentBcrypt(STRONG.alice, 10),
      bob: independentBcrypt('password', 10),
      carol: independentBcrypt(STRONG.carol, 10),
    };
    await fillAppDatabase(db, {
      users: [
        { username: 'admin', passwordHash: hashes.admin, isAdmin: true, fullName: 'Admin' },
        { username: 'alice', passwordHash: hashes.alice, fullName: 'Alice' },
        { username: 'bob', passwordHash: hashes.bob, fullName: 'Bob' },
        { username: 'carol', passwordHash: hashes.carol, fullName: 'Carol' },
      ],
    });
    const m = await cli(db, ['migrate']);
    expect(m.code, m.stderr).toBe(0);
    if (provider === 'sqlite') fs.chmodSync(db.url.slice('sqlite:///'.length), 0o600);
    return { db, hashes };
  }

  const outputs: string[] = [];
  async function doctor(db: TestDb, ...flags: string[]) {
    const r = await cli(db, ['doctor', '--json', ...flags]);
    outputs.push(r.stdout + r.stderr);
    const checks = JSON.parse(r.stdout).checks as Check[];
    return { code: r.code, weak: checks.find((c) => c.id === 'weak-passwords')!, checks };
  }

  const remembered = async (db: TestDb) =>
    (await db.query<{ digest: string; checked_at: string }>('SELECT digest, checked_at FROM authctl_checked_hashes ORDER BY digest'));

  it('finds a weak password on every run, remembers only the fine ones, and checks a changed password again', async () => {
    const { db, hashes } = await adopted();

    const first = await doctor(db);
    expect(first.code).toBe(8);
    expect(first.weak).toMatchObject({ status: 'fail', detail: 'bob (a well-known default password)' });
    // alice and carol are remembered; the admin (always checked) and bob (weak) are not.
    expect((await remembered(db)).map((r) => r.digest).sort()).toEqual([digestOf('alice', hashes.alice), digestOf('carol', hashes.carol)].sort());

    const second = await doctor(db);
    expect(second.code).toBe(8);
    expect(second.weak).toMatchObject({ status: 'fail', detail: 'bob (a well-known default password)' });

    // alice, already remembered, changes her password to her username.
    const weakAlice = independentBcrypt('alice', 10);
    await db.query("UPDATE users SET password_hash = ? WHERE username = 'alice'", weakAlice);
    const third = await doctor(db);
    expect(third.weak.status).toBe('fail');
    expect(third.weak.detail).toBe('alice (password is the username), bob (a well-known default password)');
    // Her old hash's digest is pruned; nothing weak is remembered.
    expect((await remembered(db)).map((r) => r.digest)).toEqual([digestOf('carol', hashes.carol)]);

    // Both replace theirs: the new hashes are checked once, then remembered.
    await db.query("UPDATE users SET password_hash = ? WHERE username = 'alice'", independentBcrypt('alice found a better one', 10));
    await db.query("UPDATE users SET password_hash = ? WHERE username = 'bob'", independentBcrypt('bob found a better one', 10));
    const fixed = await doctor(db);
    expect(fixed.code).toBe(0);
    expect(fixed.weak).toMatchObject({ status: 'ok', detail: '4 password(s): 3 checked now, 1 already checked earlier' });
    const again = await doctor(db);
    expect(again.weak).toMatchObject({ status: 'ok', detail: '4 password(s): 1 checked now, 3 already checked earlier' });
    expect(await remembered(db)).toHaveLength(3);

    // Only digests and times: no hash, no password, in the table or in any output.
    const table = JSON.stringify(await db.query('SELECT * FROM authctl_checked_hashes'));
    for (const row of await remembered(db)) expect(row.digest).toMatch(/^[0-9a-f]{64}$/);
    const users = await db.query<{ password_hash: string }>('SELECT password_hash FROM users');
    for (const secret of [...Object.values(hashes), weakAlice, ...users.map((u) => u.password_hash), ...Object.values(STRONG), 'better one']) {
      expect(table).not.toContain(secret);
      for (const out of outputs) expect(out).not.toContain(secret);
    }
  });

  it('--deep verifies every hash again and corrects the memory', async () => {
    const { db, hashes } = await adopted();
    expect((await doctor(db)).code).toBe(8);
    // A memory that (wrongly) holds bob's hash as fine: a normal run trusts it, --deep does not.
    await db.query('INSERT INTO authctl_checked_hashes (digest, checked_at) VALUES (?, ?)', digestOf('bob', hashes.bob), '2026-01-01 00:00:00');
    const trusted = await doctor(db);
    expect(trusted.weak).toMatchObject({ status: 'ok', detail: '4 password(s): 1 checked now, 3 already checked earlier' });
    const before = await remembered(db);

    const deep = await doctor(db, '--deep');
    expect(deep.code).toBe(8);
    expect(deep.weak).toMatchObject({ status: 'fail', detail: 'bob (a well-known default password)' });
    const after = await remembered(db);
    expect(after.map((r) => r.digest).sort()).toEqual([digestOf('alice', hashes.alice), digestOf('carol', hashes.carol)].sort());
    // The kept ones were checked again: their time moved on.
    for (const row of after) expect(row.checked_at > before.find((b) => b.digest === row.digest)!.checked_at).toBe(true);

    await db.query("UPDATE users SET password_hash = ? WHERE username = 'bob'", independentBcrypt('bob found a better one', 10));
    const ok = await doctor(db, '--deep');
    expect(ok.weak).toMatchObject({ status: 'ok', detail: '4 password(s) checked (--deep)' });
    expect(await remembered(db)).toHaveLength(3);
  });

  it('checks everything, and says it cannot remember, while the migration is pending', async () => {
    const { db } = await adopted();
    await db.query("UPDATE users SET password_hash = ? WHERE username = 'bob'", independentBcrypt('bob found a better one', 10));
    await db.exec('DROP TABLE authctl_checked_hashes');
    await db.query("DELETE FROM _prisma_migrations WHERE migration_name LIKE '%_authctl_checked_hashes'");
    for (let run = 0; run < 2; run++) {
      const r = await doctor(db);
      expect(r.code).toBe(8);
      expect(r.checks.find((c) => c.id === 'migrations')).toMatchObject({ status: 'fail', detail: '1 pending' });
      expect(r.weak.status).toBe('ok');
      expect(r.weak.detail).toMatch(/^4 password\(s\): 4 checked now, 0 already checked earlier; no memory of checked hashes yet .*authctl migrate/);
    }
    // migrate brings the table back, and the next run remembers.
    expect((await cli(db, ['migrate'])).code).toBe(0);
    expect((await doctor(db)).code).toBe(0);
    expect(await remembered(db)).toHaveLength(3);
  });

  it('still runs on a read-only database, checking everything', async () => {
    const { db } = await adopted();
    await db.query("UPDATE users SET password_hash = ? WHERE username = 'bob'", independentBcrypt('bob found a better one', 10));
    let r: CliResult;
    if (provider === 'sqlite') {
      // Read-only to the user running doctor: another user's file (or, when not root, a 0444 file).
      const file = db.url.slice('sqlite:///'.length);
      if (process.getuid?.() === 0) {
        fs.chmodSync(path.dirname(file), 0o755);
        fs.chmodSync(file, 0o644);
        r = await cli(db, ['doctor', '--json'], { user: { uid: 65534, gid: 65534 } });
      } else {
        fs.chmodSync(file, 0o444);
        r = await cli(db, ['doctor', '--json']);
      }
    } else {
      const name = new URL(db.url).pathname.slice(1);
      await db.exec(`ALTER DATABASE "${name}" SET default_transaction_read_only = on`);
      r = await cli(db, ['doctor', '--json']);
    }
    const checks = JSON.parse(r.stdout).checks as Check[];
    const weak = checks.find((c) => c.id === 'weak-passwords')!;
    expect(weak.status).toBe('ok');
    expect(weak.detail).toMatch(/^4 password\(s\): 4 checked now, 0 already checked earlier; could not remember the results/);
    // SQLite's checks all pass; PostgreSQL's migration check needs a scratch schema, which a read-only database refuses.
    if (provider === 'sqlite') expect(r.code, r.stdout).toBe(0);
    expect(checks.find((c) => c.id === 'active-admin')).toMatchObject({ status: 'ok' });
    expect(await remembered(db)).toEqual([]);
  });
});
