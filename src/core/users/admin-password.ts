import { conflict, refused } from '../errors/errors.js';
import { shellWord } from '../errors/shell-word.js';
import { APP_DEFAULT_ACCOUNTS, DEFAULT_PASSWORDS } from '../passwords/password.js';
import { findWeakPasswords, type HashedUser, type WeakPasswordFinding } from '../passwords/weak.js';
import type { User } from './rows.js';

/**
 * An active admin must not keep a well-known password: the policy holds new
 * admin passwords to 12 characters, and a user made an admin (`user set
 * --admin`) or an admin enabled again (`user enable`) keeps the password it
 * had. A bcrypt hash cannot tell its password's length, but it can be tried
 * against the app's documented accounts, the username and the common
 * defaults, as doctor does, and the app's documented passwords for any user.
 * That costs a few bcrypt runs (about two seconds at cost 12), so it runs
 * before the write transaction, never inside it.
 */
export interface AdminPasswordCheck {
  /** The hash that was tried; the transaction makes sure it is still the stored one. */
  hash: string | null;
  finding?: WeakPasswordFinding;
}

/**
 * `newName`: the username the user will have after the change, when it is
 * renamed in the same step; its password must not be that name either.
 */
export async function checkAdminPassword(user: User, newName?: string): Promise<AdminPasswordCheck> {
  if (!user.passwordHash) return { hash: user.passwordHash };
  const names = newName !== undefined && newName !== user.username ? [user.username, newName] : [user.username];
  const [finding] = await findWellKnownPasswords(names.map((username) => ({ id: user.id, username, hash: user.passwordHash! })));
  return { hash: user.passwordHash, ...(finding ? { finding } : {}) };
}

/**
 * The users whose stored password is a well-known one: doctor's list, and
 * the policy's own list of the app's documented passwords too (testpass and
 * admin123 are refused for any user), all tried at once on the worker pool.
 * A user listed twice under two names (before and after a rename) is tried
 * against both, and reported once.
 */
export function findWellKnownPasswords(users: HashedUser[]): Promise<WeakPasswordFinding[]> {
  const candidates = [...new Set([...DEFAULT_PASSWORDS, ...APP_DEFAULT_ACCOUNTS.map((a) => a.password)])];
  return findWeakPasswords(users, undefined, candidates);
}

/**
 * In the write transaction: refuses an admin with a weak password unless the
 * operator allowed it, and a user changed since its password was tried (or
 * not tried, because it was then an admin already, or disabled). Returns
 * what the audit row records when the policy was overridden.
 */
export function enforceAdminPassword(
  user: User,
  check: AdminPasswordCheck | undefined,
  action: string,
  allowWeak: boolean,
): { weakPasswordAllowed: true } | undefined {
  if (check === undefined || user.passwordHash !== check.hash) {
    throw conflict('CHANGED_MEANWHILE', `${user.username} changed while authctl was checking its password; nothing was changed.`, 'Run the command again.');
  }
  if (!check.finding) return undefined;
  // Only that the rule was overridden: which well-known password it is would tell every reader of the audit log.
  if (allowWeak) return { weakPasswordAllowed: true };
  const f = check.finding;
  const why =
    f.reason === 'username' ? 'its password is its username' : f.reason === 'default' ? 'its password is a well-known default' : `it still has the app's default credentials ${f.account}`;
  throw refused(
    'WEAK_PASSWORD',
    `${action} would leave an active admin with a well-known password: ${why}.`,
    `Give it a strong password first (\`authctl user reset ${shellWord(user.username)}\`), or override with --allow-weak-password (recorded in the audit log).`,
  );
}
