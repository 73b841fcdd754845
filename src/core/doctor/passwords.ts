import type { DatabaseTarget } from '../config/config.js';
import { asNumber, chunked, connect, join, sql, valueList, type Connection, type Queryable } from '../db/query.js';
import { alwaysChecked, checkedDigest, findWeakPasswords, type HashProgress, type WeakPasswordFinding } from '../passwords/weak.js';
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

/** Rows per statement, well under both providers' parameter limits. */
const CHUNK = 400;

const chunks = <T>(items: T[]): T[][] => chunked(items, CHUNK);

async function activeUsers(q: Queryable): Promise<ActiveUser[]> {
  const rows = await q.all<{ id: unknown; username: string; is_admin: unknown; password_hash: string }>(
    sql`SELECT id, username, is_admin, password_hash FROM users WHERE is_active AND password_hash IS NOT NULL ORDER BY id`,
  );
  return rows.filter((r) => r.password_hash).map((r) => ({ id: asNumber(r.id), username: r.username, isAdmin: Boolean(r.is_admin), hash: r.password_hash }));
}

/** The remembered digests; null when their table is not there yet (a pending migration). */
async function remembered(q: Queryable): Promise<Set<string> | null> {
  try {
    return new Set((await q.all<{ digest: string }>(sql`SELECT digest FROM authctl_checked_hashes`)).map((r) => r.digest));
  } catch (err) {
    if (isMissingTable(err)) return null;
    throw err;
  }
}

/** Adds (or refreshes) `add` and removes `stale`, in one transaction. */
async function updateMemory(conn: Connection, add: string[], stale: string[], at: Date): Promise<void> {
  await conn.transaction(async (tx) => {
    for (const part of chunks(add)) {
      await tx.run(sql`INSERT INTO authctl_checked_hashes (digest, checked_at) VALUES ${join(part.map((d) => sql`(${d}, ${at})`), ', ')}
        ON CONFLICT (digest) DO UPDATE SET checked_at = excluded.checked_at`);
    }
    for (const part of chunks(stale)) {
      await tx.run(sql`DELETE FROM authctl_checked_hashes WHERE digest IN (${valueList(part)})`);
    }
  });
}

/**
 * The default-password check. Admins and the app's documented accounts are
 * verified on every run; every other user's hash only once: its digest (see
 * {@link checkedDigest}) is remembered in authctl_checked_hashes when it is
 * found not weak, and skipped while it is there. `deep` verifies every hash
 * and refreshes the memory. Digests of hashes no longer present are pruned.
 */
export async function checkPasswords(target: DatabaseTarget, opts: { deep: boolean; onProgress?: HashProgress }): Promise<PasswordCheck> {
  // A connection of its own: the other checks query meanwhile, and must not land in its transaction.
  const conn = await connect(target);
  try {
    const users = await activeUsers(conn);
    const known = await remembered(conn);

    const others = users.filter((u) => !alwaysChecked(u)).map((u) => ({ ...u, digest: checkedDigest(u) }));
    const skip = opts.deep || !known ? new Set<string>() : known;
    const toCheck = [...users.filter((u) => alwaysChecked(u)), ...others.filter((u) => !skip.has(u.digest))];
    const weak = await findWeakPasswords(toCheck.map(({ id, username, hash }) => ({ id, username, hash })), opts.onProgress);
    const result = { total: users.length, checked: toCheck.length, remembered: users.length - toCheck.length, weak };
    if (!known) return { ...result, memory: 'missing' };

    const weakIds = new Set(weak.map((w) => w.id));
    const fine = others.filter((u) => !weakIds.has(u.id));
    const present = new Set(fine.map((u) => u.digest));
    const add = [...new Set(fine.filter((u) => opts.deep || !known.has(u.digest)).map((u) => u.digest))];
    const stale = [...known].filter((d) => !present.has(d));
    if (add.length === 0 && stale.length === 0) return { ...result, memory: 'kept' };
    try {
      await updateMemory(conn, add, stale, new Date());
    } catch {
      // A read-only database or role: the check itself is complete, only the memory is not.
      return { ...result, memory: 'unwritable' };
    }
    return { ...result, memory: 'kept' };
  } finally {
    await conn.close();
  }
}
