import { usageError } from '../../core/errors/errors.js';
import type { ListFilter, UserList } from '../../core/users/users.js';
import { defineCommand } from '../define.js';
import { addListingOptions, parsePositiveInt } from '../options.js';
import { userColumns } from './render.js';

export const listCommand = () =>
  defineCommand<ListFilter, UserList>({
    name: 'list',
    description: 'list active users (see --inactive, --all)',
    examples: [
      'authctl user list',
      'authctl user list --all --search example.com',
      'authctl user list --all --limit 20',
      'authctl user list --admins --json | jq -r \'.users[].username\'',
    ],
    options: (cmd) =>
      addListingOptions(cmd)
        .option('--admins', 'only admins')
        .option('--inactive', 'only disabled users')
        .option('--all', 'active and disabled users')
        .option('--search <text>', 'match part of the username, email or full name')
        .option('--limit <n>', 'show at most n users, in username order (default: all)'),
    parse: ({ opts }) => {
      if (opts.inactive && opts.all) throw usageError('--inactive and --all contradict each other.', 'Use one of them.');
      return {
        admins: Boolean(opts.admins),
        state: opts.all ? 'all' : opts.inactive ? 'inactive' : 'active',
        search: opts.search as string | undefined,
        limit: opts.limit === undefined ? undefined : parsePositiveInt(opts.limit as string, '--limit', 100_000),
      };
    },
    needs: 'ready',
    run: async ({ db }, filter) => {
      const { listUsers } = await import('../../core/users/users.js');
      return listUsers(db, filter);
    },
    render: ({ users, total, more, unreadableActive }, out) => {
      out.table(users, userColumns, 'No users match.');
      if (more) out.note(`Showing ${users.length} of ${total}; omit --limit to see them all.`);
      if (unreadableActive > 0) {
        out.warn(`${unreadableActive} user(s) have an active flag (is_active) that is not a boolean, so they are neither active nor disabled; \`authctl user list --all\` shows them.`);
      }
      const odd = users.filter((u) => u.unreadable).length;
      if (odd > 0) out.warn(`${odd} user(s) listed hold values authctl cannot read, shown as stored with "(unknown form)"; the app may fail on them until they are fixed.`);
    },
  });
