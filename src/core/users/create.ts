import { writeAudit, type AuditInput } from '../audit/write.js';
import { sql, type Queryable } from '../db/query.js';
import { readUser, USER_COLUMNS, type User, type UserRow } from './rows.js';

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
export async function createUser(tx: Queryable, row: NewUserRow, audit: () => Promise<AuditInput> | AuditInput): Promise<User> {
  const now = new Date();
  const inserted = await tx.get<UserRow>(sql`
    INSERT INTO users (username, email, full_name, password_hash, is_admin, is_active, created_at, updated_at)
    VALUES (${row.username}, ${row.email}, ${row.fullName}, ${row.passwordHash}, ${row.isAdmin}, ${true}, ${now}, ${now})
    RETURNING ${USER_COLUMNS}`);
  await writeAudit(tx, await audit());
  return readUser(inserted!);
}
