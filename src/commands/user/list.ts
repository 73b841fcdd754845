import { usageError } from '../../core/errors/errors.js';
import type { ListedUser, ListFilter } from '../../core/users/users.js';
import { defineCommand } from '../define.js';
import { userColumns } from './render.js';

export interface UserListResult {
  users: ListedUser[];
}

export const listCommand = () =>
  defineCommand<ListFilter, UserListResult>({
    name: 'list',
    description: 'list active users (see --inactive, --all)',
    examples: [
      'authctl user list',
      'authctl user list --all --search example.com',
      'authctl user list --admins --json | jq -r \'.users[].username\'',
    ],
    options: (cmd) =>
      cmd
        .option('--admins', 'only admins')
        .option('--inactive', 'only disabled users')
        .option('--all', 'active and disabled users')
        .option('--search <text>', 'match part of the username, email or full name'),
    parse: ({ opts }) => {
      if (opts.inactive && opts.all) throw usageError('--inactive and --all contradict each other.', 'Use one of them.');
      return {
        admins: Boolean(opts.admins),
        state: opts.all ? 'all' : opts.inactive ? 'inactive' : 'active',
        search: opts.search as string | undefined,
      };
    },
    needs: 'ready',
    run: async ({ db }, filter) => {
      const { listUsers } = await import('../../core/users/users.js');
      return { users: await listUsers(db, filter) };
    },
    render: ({ users }, out) => out.table(users, userColumns, 'No users match.'),
  });
