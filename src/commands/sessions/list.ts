import { Command } from 'commander';
import { createContext } from '../../context.js';
import { parsePositiveInt } from '../options.js';
import { tokenType } from './options.js';

interface ListOptions {
  user?: string;
  type?: string;
  expired?: boolean;
  all?: boolean;
  limit?: string;
}

export function listCommand(): Command {
  return new Command('list')
    .description('list active sessions (see --expired, --all); never shows the token')
    .option('--user <name>', "only this user's sessions")
    .option('--type <type>', 'only access or refresh sessions')
    .option('--expired', 'only expired sessions')
    .option('--all', 'active and expired sessions')
    .option('--limit <n>', 'show at most n sessions (default 50)')
    .action(async (opts: ListOptions, command: Command) => {
      const ctx = createContext(command);
      const { usageError } = await import('../../core/errors.js');
      if (opts.expired && opts.all) throw usageError('--expired and --all contradict each other.', 'Use one of them.');
      const { DEFAULT_LIST_LIMIT, listSessions } = await import('../../core/sessions/list.js');
      const input = {
        user: opts.user,
        type: tokenType(opts.type),
        state: opts.all ? ('all' as const) : opts.expired ? ('expired' as const) : ('active' as const),
        limit: opts.limit === undefined ? DEFAULT_LIST_LIMIT : parsePositiveInt(opts.limit, '--limit', 100_000),
      };
      const { database } = ctx.config();
      const { openReadyClient } = await import('../../core/db/open.js');
      const client = await openReadyClient(database);
      try {
        const now = new Date();
        const result = await listSessions(client, { ...input, now });
        const { out } = ctx;
        out.emitJson(result);
        const { sessionColumns } = await import('./render.js');
        out.table(result.sessions, sessionColumns(now), `No ${input.state === 'all' ? '' : `${input.state} `}sessions match.`);
        if (result.more) {
          out.line(out.c.dim(`Showing ${result.sessions.length} of ${result.total}; pass --limit ${result.total} to see them all.`));
        }
      } finally {
        await client.$disconnect();
      }
    });
}
