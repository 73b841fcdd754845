import type { Column, Output } from '../../terminal/output.js';
import type { ListedUser, UserSummary } from '../../core/users/users.js';

const LOGIN_LABEL: Record<UserSummary['login'], string> = {
  password: 'local password',
  gpustack: 'GPUStack only',
  'password+gpustack': 'local password + GPUStack',
  none: 'cannot log in (no password, not linked)',
};

export const userColumns: Column<ListedUser>[] = [
  { header: 'id', value: (u) => u.id },
  { header: 'username', value: (u) => u.username },
  { header: 'email', value: (u) => u.email },
  { header: 'full name', value: (u) => u.fullName },
  { header: 'admin', value: (u) => (u.isAdmin ? 'yes' : '') },
  { header: 'active', value: (u) => (u.isActive ? 'yes' : 'no') },
  { header: 'login', value: (u) => (u.login === 'password+gpustack' ? 'password+gpustack' : u.login) },
  { header: 'sessions', value: (u) => u.activeSessions },
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
    ['created', user.createdAt],
    ['updated', user.updatedAt],
    ['last login', user.lastLogin],
  ]);
}
