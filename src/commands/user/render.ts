import type { Column, Output } from '../../terminal/output.js';
import type { ListedUser, UserSummary } from '../../core/users/users.js';
import { when } from '../../terminal/time.js';

const LOGIN_LABEL: Record<UserSummary['login'], string> = {
  password: 'local password',
  gpustack: 'GPUStack only',
  'password+gpustack': 'local password + GPUStack',
  none: 'cannot log in (no password, not linked)',
};

export const userColumns: Column<ListedUser>[] = [
  { header: 'id', value: (u) => u.id, align: 'right' },
  { header: 'username', value: (u) => u.username, shrink: true },
  { header: 'email', value: (u) => u.email, shrink: true },
  { header: 'full name', value: (u) => u.fullName, shrink: true },
  { header: 'admin', value: (u) => (u.isAdmin ? 'yes' : '') },
  { header: 'active', value: (u) => (u.isActive ? 'yes' : 'no') },
  { header: 'login', value: (u) => (u.login === 'password+gpustack' ? 'password+gpustack' : u.login) },
  { header: 'sessions', value: (u) => u.activeSessions, align: 'right' },
];

export function printUserSummary(out: Output, user: UserSummary): void {
  out.details([
    ['username', user.username],
    ['id', user.id],
    ['email', user.email],
    ['full name', user.fullName],
    ['admin', user.isAdmin ? 'yes' : 'no'],
    ['active', user.isActive ? 'yes' : 'no'],
    ['login', LOGIN_LABEL[user.login]],
    ['gpustack user id', user.gpustackUserId],
    ['created', when(user.createdAt)],
    ['updated', when(user.updatedAt)],
    ['last login', when(user.lastLogin) ?? 'never'],
  ]);
}
