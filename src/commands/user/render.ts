import type { Column, Output } from '../../terminal/output.js';
import type { ListedUser, UserSummary } from '../../core/users/users.js';
import { when } from '../../terminal/time.js';

const LOGIN_LABEL: Record<UserSummary['login'], string> = {
  password: 'local password',
  gpustack: 'GPUStack only',
  'password+gpustack': 'local password + GPUStack',
  none: 'cannot log in (no password, not linked)',
};

/**
 * A stored value authctl could not read, shown as it is stored and marked, as
 * `sessions list` shows an unreadable timestamp: `"true" (unknown form)`.
 * Output escapes any control character in it.
 */
function unreadableCell(user: UserSummary, column: string): string | undefined {
  const value = user.unreadable?.[column];
  return value === undefined ? undefined : `${JSON.stringify(value)} (unknown form)`;
}

function flag(user: UserSummary, column: 'is_admin' | 'is_active', yes: string, no: string): string {
  const value = column === 'is_admin' ? user.isAdmin : user.isActive;
  return value === null ? (unreadableCell(user, column) ?? '?') : value ? yes : no;
}

/** A timestamp for people: UTC to the minute, or the stored value marked unknown. */
function time(user: UserSummary, column: 'created_at' | 'updated_at' | 'last_login', iso: string | null): string | null {
  return unreadableCell(user, column) ?? when(iso);
}

export const userColumns: Column<ListedUser>[] = [
  { header: 'id', value: (u) => u.id, align: 'right' },
  { header: 'username', value: (u) => u.username, shrink: true },
  { header: 'email', value: (u) => u.email, shrink: true },
  { header: 'full name', value: (u) => u.fullName, shrink: true },
  { header: 'admin', value: (u) => flag(u, 'is_admin', 'yes', '') },
  { header: 'active', value: (u) => flag(u, 'is_active', 'yes', 'no') },
  { header: 'login', value: (u) => (u.login === 'password+gpustack' ? 'password+gpustack' : u.login) },
  { header: 'sessions', value: (u) => u.activeSessions, align: 'right' },
];

export function printUserSummary(out: Output, user: UserSummary): void {
  out.details([
    ['username', user.username],
    ['id', user.id],
    ['email', user.email],
    ['full name', user.fullName],
    ['admin', flag(user, 'is_admin', 'yes', 'no')],
    ['active', flag(user, 'is_active', 'yes', 'no')],
    ['login', LOGIN_LABEL[user.login]],
    ['gpustack user id', user.gpustackUserId],
    ['created', time(user, 'created_at', user.createdAt)],
    ['updated', time(user, 'updated_at', user.updatedAt)],
    ['last login', time(user, 'last_login', user.lastLogin) ?? 'never'],
  ]);
  if (user.unreadable) {
    out.warn(`Some columns of "${user.username}" hold values authctl cannot read (${Object.keys(user.unreadable).join(', ')}); they are shown as stored. The app may fail on this user until they are fixed.`);
  }
}
