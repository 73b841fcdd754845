import { randomBytes } from 'node:crypto';
import { type AuditInput, writeAuditPg, writeAuditSqlite } from '../audit/write.js';
import type { Db } from '../db/handle.js';
import { openSqlite, type SqliteDb } from '../db/sqlite.js';
import { formatAppTimestamp } from '../time/timestamps.js';
import { PLACEHOLDER_ROW } from '../users/admin-placeholder.js';
import type { LocalUser, SyncPlan } from './plan.js';

/**
 * What sync needs from the database, one implementation per provider. All
 * reads and writes of one run happen inside `transaction`, which holds the
 * write lock from the first read, so nothing can slip in between plan and apply.
 */
export interface SyncStore {
  transaction<T>(fn: () => Promise<T>): Promise<T>;
  readLocalUsers(): Promise<LocalUser[]>;
  /**
   * The users with a password of their own who are not active admins, read
   * without a transaction: those a sync could make active admins while they
   * keep that password. Few or none on most databases (users created by
   * sync have no password).
   */
  readPasswordHolders(): Promise<PasswordHolder[]>;
  /** The users linked to GPUStack, read without a transaction: what a plan could disable. */
  readLinked(): Promise<LinkedUser[]>;
  applyPlan(plan: SyncPlan, now: Date): Promise<void>;
  writeAudit(entry: AuditInput): Promise<number>;
  close(): Promise<void>;
}

export interface PasswordHolder {
  id: number;
  username: string;
  gpustackUserId: number | null;
  passwordHash: string;
}

export interface LinkedUser {
  gpustackId: number;
  username: string;
  isActive: boolean;
}

/** A name no real user has, for parking a user while usernames swap. */
const parkingName = (tag: string, id: number) => `authctl-sync-rename-${tag}-${id}`;

class SqliteSyncStore implements SyncStore {
  constructor(private readonly db: SqliteDb, private readonly readonly: boolean) {}

  async transaction<T>(fn: () => Promise<T>): Promise<T> {
    if (this.readonly) return fn();
    this.db.exec('BEGIN IMMEDIATE');
    try {
      const result = await fn();
      this.db.exec('COMMIT');
      return result;
    } catch (err) {
      if (this.db.inTransaction) this.db.exec('ROLLBACK');
      throw err;
    }
  }

  async readLocalUsers(): Promise<LocalUser[]> {
    const sessions = new Map<number, number>(
      this.db.prepare('SELECT user_id, count(*) FROM user_sessions GROUP BY user_id').raw().all() as Array<[number, number]>,
    );
    const rows = this.db
      .prepare('SELECT id, username, full_name, is_admin, is_active, gpustack_user_id, password_hash FROM users ORDER BY id')
      .raw()
      .all() as Array<[number, string, string | null, number, number, number | null, string | null]>;
    return rows.map(([id, username, fullName, isAdmin, isActive, gpustackUserId, passwordHash]) => ({
      id,
      username,
      fullName,
      isAdmin: Boolean(isAdmin),
      isActive: Boolean(isActive),
      gpustackUserId,
      passwordHash,
      sessions: sessions.get(id) ?? 0,
    }));
  }

  async readPasswordHolders(): Promise<PasswordHolder[]> {
    const rows = this.db
      .prepare(
        'SELECT id, username, gpustack_user_id, password_hash FROM users WHERE password_hash IS NOT NULL AND NOT (coalesce(is_admin, 0) <> 0 AND coalesce(is_active, 0) <> 0)',
      )
      .raw()
      .all() as Array<[number, string, number | null, string]>;
    return rows.map(([id, username, gpustackUserId, passwordHash]) => ({ id, username, gpustackUserId, passwordHash }));
  }

  async readLinked(): Promise<LinkedUser[]> {
    const rows = this.db.prepare('SELECT gpustack_user_id, username, is_active FROM users WHERE gpustack_user_id IS NOT NULL').raw().all() as Array<[number, string, number]>;
    return rows.map(([gpustackId, username, isActive]) => ({ gpustackId, username, isActive: Boolean(isActive) }));
  }

  /**
   * Renames first (through a parking name, since usernames are unique at every
   * step), then creates, then disables, revoking the sessions of everyone who
   * becomes inactive.
   */
  async applyPlan(plan: SyncPlan, at: Date): Promise<void> {
    const db = this.db;
    const now = formatAppTimestamp(at);
    const bit = (b: boolean) => (b ? 1 : 0);
    const renames = plan.update.filter((u) => u.changes.username);
    if (renames.length > 0) {
      const park = db.prepare('UPDATE users SET username = ? WHERE id = ?');
      const tag = randomBytes(6).toString('hex');
      for (const u of renames) park.run(parkingName(tag, u.userId), u.userId);
    }
    const update = db.prepare(
      `UPDATE users SET username = coalesce(?, username), full_name = CASE WHEN ? THEN ? ELSE full_name END,
              is_admin = coalesce(?, is_admin), is_active = coalesce(?, is_active),
              gpustack_user_id = ?, updated_at = ? WHERE id = ?`,
    );
    const revoke = db.prepare('DELETE FROM user_sessions WHERE user_id = ?');
    for (const u of plan.update) {
      const c = u.changes;
      update.run(
        c.username ? (c.username.to as string) : null,
        c.fullName ? 1 : 0,
        c.fullName ? c.fullName.to : null,
        c.isAdmin ? bit(c.isAdmin.to as boolean) : null,
        c.isActive ? bit(c.isActive.to as boolean) : null,
        u.gpustackId,
        now,
        u.userId,
      );
      if (c.isActive && c.isActive.to === false) revoke.run(u.userId);
    }
    const insert = db.prepare(
      `INSERT INTO users (username, email, password_hash, full_name, is_admin, is_active, gpustack_user_id, preferences, created_at, updated_at, last_login)
       VALUES (?, NULL, NULL, ?, ?, ?, ?, NULL, ?, ?, NULL)`,
    );
    for (const c of plan.create) insert.run(c.username, c.fullName, bit(c.isAdmin), bit(c.isActive), c.gpustackId, now, now);
    if (plan.reserveAdmin) insert.run(PLACEHOLDER_ROW.username, PLACEHOLDER_ROW.fullName, 0, 0, null, now, now);
    const disable = db.prepare('UPDATE users SET is_active = 0, updated_at = ? WHERE id = ?');
    for (const d of plan.disable) {
      disable.run(now, d.userId);
      revoke.run(d.userId);
    }
  }

  async writeAudit(entry: AuditInput): Promise<number> {
    return writeAuditSqlite(this.db, entry);
  }

  async close(): Promise<void> {
    this.db.close();
  }
}

async function openPgSyncStore(url: string, readonly: boolean): Promise<SyncStore> {
  const { connectPg } = await import('../db/pg.js');
  const client = await connectPg(url);
  return {
    async transaction<T>(fn: () => Promise<T>): Promise<T> {
      await client.query(readonly ? 'BEGIN READ ONLY' : 'BEGIN');
      try {
        // Hold off other writers of users (the app's own sync, a second
        // replica) from the first read until commit; readers are not blocked.
        if (!readonly) await client.query('LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE');
        const result = await fn();
        await client.query('COMMIT');
        return result;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => {});
        throw err;
      }
    },
    async readLocalUsers() {
      const counts = (await client.query<{ user_id: number; n: string }>('SELECT user_id, count(*) AS n FROM user_sessions GROUP BY user_id')).rows;
      const sessions = new Map<number, number>(counts.map((r) => [r.user_id, Number(r.n)]));
      const rows = await client.query<{
        id: number;
        username: string;
        full_name: string | null;
        is_admin: boolean;
        is_active: boolean;
        gpustack_user_id: number | null;
        password_hash: string | null;
      }>('SELECT id, username, full_name, is_admin, is_active, gpustack_user_id, password_hash FROM users ORDER BY id');
      return rows.rows.map((r) => ({
        id: r.id,
        username: r.username,
        fullName: r.full_name,
        isAdmin: r.is_admin,
        isActive: r.is_active,
        gpustackUserId: r.gpustack_user_id,
        passwordHash: r.password_hash,
        sessions: sessions.get(r.id) ?? 0,
      }));
    },
    async readPasswordHolders() {
      const rows = await client.query<{ id: number; username: string; gpustack_user_id: number | null; password_hash: string }>(
        'SELECT id, username, gpustack_user_id, password_hash FROM users WHERE password_hash IS NOT NULL AND NOT (coalesce(is_admin, false) AND coalesce(is_active, false))',
      );
      return rows.rows.map((r) => ({ id: r.id, username: r.username, gpustackUserId: r.gpustack_user_id, passwordHash: r.password_hash }));
    },
    async readLinked() {
      const rows = await client.query<{ gpustack_user_id: number; username: string; is_active: boolean }>(
        'SELECT gpustack_user_id, username, is_active FROM users WHERE gpustack_user_id IS NOT NULL',
      );
      return rows.rows.map((r) => ({ gpustackId: r.gpustack_user_id, username: r.username, isActive: r.is_active }));
    },
    async applyPlan(plan: SyncPlan, at: Date) {
      const now = formatAppTimestamp(at);
      const renames = plan.update.filter((u) => u.changes.username);
      if (renames.length > 0) {
        const tag = randomBytes(6).toString('hex');
        await client.query('UPDATE users SET username = p.name FROM unnest($1::int[], $2::text[]) AS p(id, name) WHERE users.id = p.id', [
          renames.map((u) => u.userId),
          renames.map((u) => parkingName(tag, u.userId)),
        ]);
      }
      for (const u of plan.update) {
        const c = u.changes;
        await client.query(
          `UPDATE users SET username = coalesce($1, username), full_name = CASE WHEN $2 THEN $3 ELSE full_name END,
                  is_admin = coalesce($4, is_admin), is_active = coalesce($5, is_active),
                  gpustack_user_id = $6, updated_at = $7 WHERE id = $8`,
          [
            c.username ? (c.username.to as string) : null,
            Boolean(c.fullName),
            c.fullName ? c.fullName.to : null,
            c.isAdmin ? (c.isAdmin.to as boolean) : null,
            c.isActive ? (c.isActive.to as boolean) : null,
            u.gpustackId,
            now,
            u.userId,
          ],
        );
      }
      // One statement per kind of change: a first sync creates thousands of users.
      if (plan.create.length > 0) {
        await client.query(
          `INSERT INTO users (username, full_name, is_admin, is_active, gpustack_user_id, created_at, updated_at)
           SELECT u.username, u.full_name, u.is_admin, u.is_active, u.gid, $6, $6
             FROM unnest($1::text[], $2::text[], $3::bool[], $4::bool[], $5::int[]) AS u(username, full_name, is_admin, is_active, gid)`,
          [
            plan.create.map((c) => c.username),
            plan.create.map((c) => c.fullName),
            plan.create.map((c) => c.isAdmin),
            plan.create.map((c) => c.isActive),
            plan.create.map((c) => c.gpustackId),
            now,
          ],
        );
      }
      if (plan.reserveAdmin) {
        await client.query(
          'INSERT INTO users (username, full_name, is_admin, is_active, created_at, updated_at) VALUES ($1, $2, false, false, $3, $3)',
          [PLACEHOLDER_ROW.username, PLACEHOLDER_ROW.fullName, now],
        );
      }
      const inactive = [
        ...plan.update.filter((u) => u.changes.isActive && u.changes.isActive.to === false).map((u) => u.userId),
        ...plan.disable.map((d) => d.userId),
      ];
      if (plan.disable.length > 0) {
        await client.query('UPDATE users SET is_active = false, updated_at = $2 WHERE id = ANY($1::int[])', [plan.disable.map((d) => d.userId), now]);
      }
      if (inactive.length > 0) await client.query('DELETE FROM user_sessions WHERE user_id = ANY($1::int[])', [inactive]);
    },
    writeAudit: (entry: AuditInput) => writeAuditPg(client, entry),
    async close() {
      await client.end().catch(() => {});
    },
  };
}

/**
 * Sync reads and writes through its own raw connection (bulk statements,
 * one explicit transaction); `readonly` opens it for a dry run.
 */
export async function openSyncStore(db: Db, opts: { readonly: boolean }): Promise<SyncStore> {
  const { target } = db;
  if (target.provider === 'sqlite') return new SqliteSyncStore(openSqlite(target.file, { readonly: opts.readonly }), opts.readonly);
  return openPgSyncStore(target.url, opts.readonly);
}
