import { asNumber, sql, type Queryable } from '../db/query.js';
import { APP_SEEDED_ADMIN, PLACEHOLDER_ROW } from './admin-placeholder.js';

/**
 * Rows the app cannot serve, and the seeding gap, as `migrate` repairs them
 * and `doctor` reports them:
 * - a user whose full name is NULL: the app's user model requires one, so
 *   that user's login and the admin's user list in the app answer 500;
 * - no user named `admin` although users exist: the app's next start seeds
 *   admin/admin.
 */
export interface AppRowFindings {
  /** Usernames whose full name is NULL. */
  nullFullNames: string[];
  /** Users exist, but none is named `admin`. */
  adminNameFree: boolean;
}

export interface AppRowRepairs {
  /** Full names set to the username, as the app's own sync does. */
  fullNamesSet: number;
  /** A disabled `admin` placeholder was added. */
  reservedAdmin: boolean;
}

/** Users exist, but none is named `admin`. */
async function adminNameFree(q: Queryable): Promise<boolean> {
  const row = await q.get<{ users: unknown; admins: unknown }>(
    sql`SELECT count(*) AS users, count(CASE WHEN username = ${APP_SEEDED_ADMIN} THEN 1 END) AS admins FROM users`,
  );
  return asNumber(row!.users) > 0 && asNumber(row!.admins) === 0;
}

export async function findAppRowProblems(q: Queryable): Promise<AppRowFindings> {
  const rows = await q.all<{ username: string }>(sql`SELECT username FROM users WHERE full_name IS NULL ORDER BY id ASC`);
  return { nullFullNames: rows.map((u) => u.username), adminNameFree: await adminNameFree(q) };
}

/** Creates the disabled `admin` placeholder (see admin-placeholder.ts), inside the caller's transaction. */
export async function reserveAdminName(tx: Queryable, now: Date): Promise<void> {
  const p = PLACEHOLDER_ROW;
  await tx.run(sql`
    INSERT INTO users (username, email, password_hash, full_name, is_admin, is_active, gpustack_user_id, created_at, updated_at)
    VALUES (${p.username}, ${p.email}, ${p.passwordHash}, ${p.fullName}, ${p.isAdmin}, ${p.isActive}, ${p.gpustackUserId}, ${now}, ${now})`);
}

/** Repairs what findAppRowProblems reports; call it inside the transaction that writes the audit row. */
export async function repairAppRows(tx: Queryable): Promise<AppRowRepairs> {
  const now = new Date();
  // The app's own sync falls back to the username, and so does authctl.
  const fullNamesSet = await tx.run(sql`UPDATE users SET full_name = username, updated_at = ${now} WHERE full_name IS NULL`);
  const reserve = await adminNameFree(tx);
  if (reserve) await reserveAdminName(tx, now);
  return { fullNamesSet, reservedAdmin: reserve };
}
