import { Command } from 'commander';
import { createContext } from '../../context.js';
import { userColumns } from './render.js';

interface ListOptions {
  admins?: boolean;
  inactive?: boolean;
  all?: boolean;
  search?: string;
}

export function listCommand(): Command {
  return new Command('list')
    .description('list active users (see --inactive, --all)')
    .option('--admins', 'only admins')
    .option('--inactive', 'only disabled users')
    .option('--all', 'active and disabled users')
    .option('--search <text>', 'match part of the username, email or full name')
    .action(async (opts: ListOptions, command: Command) => {
      const ctx = createContext(command);
      if (opts.inactive && opts.all) {
        const { usageError } = await import('../../core/errors/errors.js');
        throw usageError('--inactive and --all contradict each other.', 'Use one of them.');
      }
      const { database } = ctx.config();
      const { openReadyClient } = await import('../../core/db/readiness.js');
      const { listUsers } = await import('../../core/users/users.js');
      const client = await openReadyClient(database);
      try {
        const users = await listUsers(client, {
          admins: opts.admins,
          state: opts.all ? 'all' : opts.inactive ? 'inactive' : 'active',
          search: opts.search,
        });
        ctx.out.emitJson({ users });
        ctx.out.table(users, userColumns, 'No users match.');
      } finally {
        await client.$disconnect();
      }
    });
}
