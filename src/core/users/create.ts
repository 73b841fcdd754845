import type { TxClient, User } from '../db/client.js';
import { writeAudit, type AuditInput } from '../audit/write.js';

/** A new user as authctl writes it: active, with a local password. */
interface NewUserRow {
  username: string;
  email: string | null;
  /** The app's user model requires one: without it the user's login and the app's user list answer 500. */
  fullName: string;
  passwordHash: string;
  isAdmin: boolean;
}

/**
 * Inserts one user and writes its audit row, inside the caller's transaction
 * (`user add`, and init-db's first admin). The audit entry is asked for once
 * the row exists, so it can record what else the transaction did after the insert.
 */
export async function createUser(tx: TxClient, row: NewUserRow, audit: () => Promise<AuditInput> | AuditInput): Promise<User> {
  const now = new Date();
  const user = await tx.user.create({
    data: {
      username: row.username,
      email: row.email,
      fullName: row.fullName,
      passwordHash: row.passwordHash,
      isAdmin: row.isAdmin,
      isActive: true,
      createdAt: now,
      updatedAt: now,
    },
  });
  await writeAudit(tx, await audit());
  return user;
}
