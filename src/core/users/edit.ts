import { writeAudit } from '../audit/write.js';
import type { Db } from '../db/handle.js';
import { asNumber, join, raw, sql, type Queryable, type Sql } from '../db/query.js';
import { conflict, refused } from '../errors/errors.js';
import { APP_SEEDED_ADMIN } from './admin-placeholder.js';
import { becomesActiveAdmin } from './active-admin.js';
import { checkAdminPassword, enforceAdminPassword, type AdminPasswordCheck } from './admin-password.js';
import { reserveAdminName } from './repairs.js';
import type { User } from './rows.js';
import { findUser, guardsLastAdmin, summarise, unreadableFlag, type UserSummary } from './users.js';

/** What `user set` may change; a field left out stays as it is. */
export interface UserEdits {
  username?: string;
  fullName?: string;
  /** null clears the email. */
  email?: string | null;
  isAdmin?: boolean;
}

type Field = keyof UserEdits;

export interface FieldChange {
  field: Field;
  from: string | boolean | null;
  to: string | boolean | null;
}

export interface SetUserResult {
  dryRun: boolean;
  /** The user after the change (as it would be, with dryRun). */
  user: UserSummary;
  /** Only the fields whose value differs; empty when there is nothing to do. */
  changes: FieldChange[];
  /** Sessions revoked (or that would be) because of a demotion or a rename. */
  revokedSessions: number;
  /** A disabled placeholder now keeps the name `admin` (the user of that name was renamed). */
  reservedAdmin: boolean;
  /** Safety rules --force overrode. */
  forced: Array<'last-admin' | 'gpustack-linked'>;
  /** A user made an admin kept a well-known password, allowed by --allow-weak-password. */
  weakPasswordAllowed: boolean;
}

const COLUMN: Record<Field, string> = { username: 'username', fullName: 'full_name', email: 'email', isAdmin: 'is_admin' };

/** The fields `gpustack sync` owns on a linked user. */
const SYNC_OWNED: Field[] = ['username', 'fullName', 'isAdmin'];

function changesOf(user: User, edits: UserEdits): FieldChange[] {
  const changes: FieldChange[] = [];
  for (const field of ['username', 'fullName', 'email', 'isAdmin'] as const) {
    const to = edits[field];
    if (to === undefined) continue;
    const from = user[field];
    if (from !== to) changes.push({ field, from, to });
  }
  return changes;
}

/**
 * Changes a user's username, full name, email or admin flag in one
 * transaction, after every check; with dryRun, runs the same checks and
 * reports what would change. Demotion and rename revoke the user's sessions,
 * whose tokens carry the old name and flag.
 */
export async function setUser(
  db: Db,
  username: string,
  edits: UserEdits,
  opts: { dryRun: boolean; force: boolean; allowWeakPassword: boolean },
): Promise<SetUserResult> {
  const conn = await db.sql();
  // Making an active user an admin tries its password against the well-known
  // ones first, outside the write lock (a few bcrypt runs).
  const promotes = (u: User) => becomesActiveAdmin(u, { isAdmin: edits.isAdmin ?? u.isAdmin, isActive: u.isActive });
  let passwordCheck: AdminPasswordCheck | undefined;
  if (edits.isAdmin === true) {
    const before = await findUser(conn, username);
    if (promotes(before)) passwordCheck = await checkAdminPassword(before, edits.username);
  }
  // A dry run only reads, so it does not take the write lock.
  const inTransaction = <T>(fn: (tx: Queryable) => Promise<T>) => (opts.dryRun ? fn(conn) : conn.transaction(fn));
  return inTransaction(async (tx) => {
    const existing = await findUser(tx, username);
    const changes = changesOf(existing, edits);
    const none: SetUserResult = {
      dryRun: opts.dryRun, user: summarise(existing), changes, revokedSessions: 0, reservedAdmin: false, forced: [], weakPasswordAllowed: false,
    };
    if (changes.length === 0) return none;
    const changed = (field: Field) => changes.find((c) => c.field === field);
    const forced: SetUserResult['forced'] = [];

    const linkedChanges = changes.filter((c) => SYNC_OWNED.includes(c.field));
    if (existing.gpustackUserId !== null && linkedChanges.length > 0) {
      if (!opts.force) {
        throw refused(
          'GPUSTACK_LINKED',
          `${username} is linked to GPUStack user ${existing.gpustackUserId}: its ${linkedChanges.map((c) => label(c.field)).join(', ')} come from GPUStack, and the next \`gpustack sync\` would undo this change.`,
          'Change it in GPUStack and run `authctl gpustack sync`, or pass --force. The email is local and can always be changed.',
        );
      }
      forced.push('gpustack-linked');
    }

    const demoted = changed('isAdmin')?.to === false;
    const renamed = changed('username');
    if ((demoted || renamed) && (await guardsLastAdmin(tx, existing))) {
      if (!opts.force && (existing.isAdmin === null || existing.isActive === null)) {
        throw unreadableFlag(existing, demoted ? 'demoting it' : 'renaming it', 'pass --force');
      }
      if (!opts.force) {
        throw refused(
          'LAST_ADMIN',
          `${username} is the last active admin; ${demoted ? 'demoting it would lock every admin out' : 'renaming it would revoke the only admin sessions'}.`,
          'Make another user an admin first (`authctl user set <name> --admin`), or pass --force.',
        );
      }
      forced.push('last-admin');
    }

    if (renamed && (await tx.get(sql`SELECT id FROM users WHERE username = ${renamed.to}`))) {
      throw conflict('USERNAME_TAKEN', `The username "${String(renamed.to)}" is already taken.`, 'Choose another name for --rename.');
    }
    const email = changed('email');
    if (email?.to && (await tx.get(sql`SELECT id FROM users WHERE email = ${email.to} AND id <> ${existing.id}`))) {
      throw conflict('EMAIL_TAKEN', `The email ${String(email.to)} already belongs to another user.`, 'Use another email.');
    }

    let weakPassword: ReturnType<typeof enforceAdminPassword>;
    if (promotes(existing)) {
      // Checked before the transaction (a user that was then an admin or disabled is refused as changed meanwhile).
      weakPassword = enforceAdminPassword(existing, passwordCheck, `Making ${username} an admin`, opts.allowWeakPassword);
    }
    const weakPasswordAllowed = weakPassword !== undefined;

    const revokes = demoted || Boolean(renamed);
    const reservedAdmin = Boolean(renamed) && existing.username === APP_SEEDED_ADMIN;
    const now = new Date();
    // The columns written now hold readable values.
    const written = new Set([...changes.map((c) => COLUMN[c.field]), 'updated_at']);
    const after: User = { ...existing, updatedAt: now, unreadable: existing.unreadable.filter((u) => !written.has(u.column)) };
    for (const c of changes) Object.assign(after, { [c.field]: c.to });

    if (opts.dryRun) {
      const sessions = revokes ? await tx.get<{ n: unknown }>(sql`SELECT count(*) AS n FROM user_sessions WHERE user_id = ${existing.id}`) : undefined;
      return { ...none, user: summarise(after), revokedSessions: sessions ? asNumber(sessions.n) : 0, reservedAdmin, forced, weakPasswordAllowed };
    }

    const sets: Sql[] = changes.map((c) => sql`${raw(COLUMN[c.field])} = ${c.to}`);
    sets.push(sql`updated_at = ${now}`);
    await tx.run(sql`UPDATE users SET ${join(sets, ', ')} WHERE id = ${existing.id}`);
    const revokedSessions = revokes ? await tx.run(sql`DELETE FROM user_sessions WHERE user_id = ${existing.id}`) : 0;
    // The app seeds admin/admin at its next start when no user is named admin.
    if (reservedAdmin) await reserveAdminName(tx, now);
    const details: Record<string, unknown> = { changes: Object.fromEntries(changes.map((c) => [c.field, { from: c.from, to: c.to }])), revokedSessions };
    if (reservedAdmin) details.reservedAdmin = true;
    if (forced.length > 0) details.forced = forced;
    if (weakPassword) Object.assign(details, weakPassword);
    await writeAudit(tx, {
      command: 'user set',
      target: username,
      summary: `changed ${changes.map((c) => label(c.field)).join(', ')} of ${username}${revokes ? `, revoked ${revokedSessions} session(s)` : ''}`,
      details,
    });
    return { dryRun: false, user: summarise(after), changes, revokedSessions, reservedAdmin, forced, weakPasswordAllowed };
  });
}

/** How a field is named to people. */
function label(field: Field): string {
  return field === 'fullName' ? 'full name' : field === 'isAdmin' ? 'admin flag' : field;
}
