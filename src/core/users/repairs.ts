import type { AppClient, TxClient } from '../db/client.js';
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
async function adminNameFree(client: AppClient | TxClient): Promise<boolean> {
  return (await client.user.count()) > 0 && (await client.user.count({ where: { username: APP_SEEDED_ADMIN } })) === 0;
}

export async function findAppRowProblems(client: AppClient | TxClient): Promise<AppRowFindings> {
  const nullFullNames = (await client.user.findMany({ where: { fullName: null }, select: { username: true }, orderBy: { id: 'asc' } })).map((u) => u.username);
  return { nullFullNames, adminNameFree: await adminNameFree(client) };
}

/** Creates the disabled `admin` placeholder (see admin-placeholder.ts). */
async function reserveAdminName(tx: TxClient, now: Date): Promise<void> {
  await tx.user.create({
    data: {
      username: PLACEHOLDER_ROW.username,
      email: PLACEHOLDER_ROW.email,
      passwordHash: PLACEHOLDER_ROW.passwordHash,
      fullName: PLACEHOLDER_ROW.fullName,
      isAdmin: PLACEHOLDER_ROW.isAdmin,
      isActive: PLACEHOLDER_ROW.isActive,
      gpustackUserId: PLACEHOLDER_ROW.gpustackUserId,
      createdAt: now,
      updatedAt: now,
    },
  });
}

/** Repairs what findAppRowProblems reports; call it inside the transaction that writes the audit row. */
export async function repairAppRows(tx: TxClient): Promise<AppRowRepairs> {
  const now = new Date();
  const missing = await tx.user.findMany({ where: { fullName: null }, select: { id: true, username: true } });
  for (const u of missing) await tx.user.update({ where: { id: u.id }, data: { fullName: u.username, updatedAt: now } });
  const reserve = await adminNameFree(tx);
  if (reserve) await reserveAdminName(tx, now);
  return { fullNamesSet: missing.length, reservedAdmin: reserve };
}
