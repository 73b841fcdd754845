import type { DatabaseTarget } from '../config/config.js';
import { openSqlite } from '../db/sqlite.js';
import { alwaysChecked, checkedDigest, findWeakPasswords, type WeakPasswordFinding } from '../passwords/weak.js';
import { isMissingTable } from './check.js';

export interface PasswordCheck {
  /** Active users with a password. */
  total: number;
  /** Verified on this run. */
  checked: number;
  /** Skipped: their hash's digest is remembered as checked and not weak. */
  remembered: number;
  weak: WeakPasswordFinding[];
  /**
   * `kept`: the memory was read and brought up to date; `missing`: its table
   * is not there yet (a pending migration), so nothing was remembered;
   * `unwritable`: the database refused the write (read-only).
   */
  memory: 'kept' | 'missing' | 'unwritable';
}

interface ActiveUser {
  id: number;
  username: string;
  isAdmin: boolean;
  hash: string;
}

/**
 * The raw-driver reads and writes of the check: it starts before Prisma's
 * client has, so the hashing overlaps the rest of doctor's start-up.
 */
interface PasswordStore {
  activeUsers(): Promise<ActiveUser[]>;
  /** The remembered digests; null when the table is not there. */
  remembered(): Promise<Set<string> | null>;
  /** Adds (or refreshes) `add` and removes `stale`, in one transaction. */
  update(add: string[], stale: string[], at: Date): Promise<void>;
  close(): Promise<void>;
}

/** Rows per statement, well under both providers' parameter limits. */
const CHUNK = 400;

const chunks = <T>(items: T[]): T[][] => Array.from({ length: Math.ceil(items.length / CHUNK) }, (_, i) => items.slice(i * CHUNK, (i + 1) * CHUNK));

/** Naive UTC text, as authctl writes every timestamp the app's tables hold. */
const naiveUtc = (d: Date) => d.toISOString().replace('T', ' ').replace('Z', '');

const USERS_SQL = 'SELECT id, username, is_admin, password_hash FROM users WHERE is_active AND password_hash IS NOT NULL ORDER BY id';
const toUser = (r: { id: number; username: string; is_admin: number | boolean; password_hash: string }): ActiveUser => ({
  id: Number(r.id),
  username: r.username,
  isAdmin: Boolean(r.is_admin),
  hash: r.password_hash,
});

function sqliteStore(file: string): PasswordStore {
  const db = openSqlite(file, { readonly: true });
  return {
    async activeUsers() {
      return (db.prepare(USERS_SQL).all() as Parameters<typeof toUser>[0][]).filter((r) => r.password_hash).map(toUser);
    },
    async remembered() {
      try {
        return new Set(db.prepare('SELECT digest FROM authctl_checked_hashes').pluck().all() as string[]);
      } catch (err) {
        if (isMissingTable(err)) return null;
        throw err;
      }
    },
    async update(add, stale, at) {
      const rw = openSqlite(file);
      try {
        const insert = rw.prepare('INSERT INTO authctl_checked_hashes (digest, checked_at) VALUES (?, ?) ON CONFLICT (digest) DO UPDATE SET checked_at = excluded.checked_at');
        const remove = rw.prepare('DELETE FROM authctl_checked_hashes WHERE digest = ?');
        rw.transaction(() => {
          for (const d of add) insert.run(d, naiveUtc(at));
          for (const d of stale) remove.run(d);
        }).immediate();
      } finally {
        rw.close();
      }
    },
    async close() {
      if (db.open) db.close();
    },
  };
}

async function pgStore(url: string): Promise<PasswordStore> {
  const { connectPg } = await import('../db/pg.js');
  const client = await connectPg(url);
  return {
    async activeUsers() {
      return (await client.query(USERS_SQL)).rows.filter((r) => r.password_hash).map(toUser);
    },
    async remembered() {
      try {
        return new Set((await client.query<{ digest: string }>('SELECT digest FROM authctl_checked_hashes')).rows.map((r) => r.digest));
      } catch (err) {
        if (isMissingTable(err)) return null;
        throw err;
      }
    },
    async update(add, stale, at) {
      await client.query('BEGIN');
      try {
        for (const part of chunks(add)) {
          const values = part.map((_, i) => `($${i + 2}, $1)`).join(', ');
          await client.query(
            `INSERT INTO authctl_checked_hashes (digest, checked_at) VALUES ${values} ON CONFLICT (digest) DO UPDATE SET checked_at = excluded.checked_at`,
            [naiveUtc(at), ...part],
          );
        }
        for (const part of chunks(stale)) await client.query('DELETE FROM authctl_checked_hashes WHERE digest = ANY($1::text[])', [part]);
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK').catch(() => {});
        throw err;
      }
    },
    async close() {
      await client.end().catch(() => {});
    },
  };
}

/**
 * The default-password check. Admins and the app's documented accounts are
 * verified on every run; every other user's hash only once: its digest (see
 * {@link checkedDigest}) is remembered in authctl_checked_hashes when it is
 * found not weak, and skipped while it is there. `deep` verifies every hash
 * and refreshes the memory. Digests of hashes no longer present are pruned.
 */
export async function checkPasswords(target: DatabaseTarget, opts: { deep: boolean }): Promise<PasswordCheck> {
  const store = target.provider === 'sqlite' ? sqliteStore(target.file) : await pgStore(target.url);
  try {
    const users = await store.activeUsers();
    const known = await store.remembered();

    const others = users.filter((u) => !alwaysChecked(u)).map((u) => ({ ...u, digest: checkedDigest(u) }));
    const skip = opts.deep || !known ? new Set<string>() : known;
    const toCheck = [...users.filter((u) => alwaysChecked(u)), ...others.filter((u) => !skip.has(u.digest))];
    const weak = await findWeakPasswords(toCheck.map(({ id, username, hash }) => ({ id, username, hash })));
    const result = { total: users.length, checked: toCheck.length, remembered: users.length - toCheck.length, weak };
    if (!known) return { ...result, memory: 'missing' };

    const weakIds = new Set(weak.map((w) => w.id));
    const fine = others.filter((u) => !weakIds.has(u.id));
    const present = new Set(fine.map((u) => u.digest));
    const add = [...new Set(fine.filter((u) => opts.deep || !known.has(u.digest)).map((u) => u.digest))];
    const stale = [...known].filter((d) => !present.has(d));
    if (add.length === 0 && stale.length === 0) return { ...result, memory: 'kept' };
    try {
      await store.update(add, stale, new Date());
    } catch {
      // A read-only database or role: the check itself is complete, only the memory is not.
      return { ...result, memory: 'unwritable' };
    }
    return { ...result, memory: 'kept' };
  } finally {
    await store.close();
  }
}
