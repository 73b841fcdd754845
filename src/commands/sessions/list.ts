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
      const { usageError } = await import('../../core/errors/errors.js');
      if (opts.expired && opts.all) throw usageError('--expired and --all contradict each other.', 'Use one of them.');
      const { DEFAULT_LIST_LIMIT, listSessions, streamSessions } = await import('../../core/sessions/list.js');
      const input = {
        user: opts.user,
        type: tokenType(opts.type),
        state: opts.all ? ('all' as const) : opts.expired ? ('expired' as const) : ('active' as const),
        limit: opts.limit === undefined ? DEFAULT_LIST_LIMIT : parsePositiveInt(opts.limit, '--limit', 100_000),
      };
      const { database } = ctx.config();
      const { openReadyClient } = await import('../../core/db/readiness.js');
      const client = await openReadyClient(database);
      try {
        const now = new Date();
        const { out } = ctx;
        if (out.json) {
          out.emitJson(await listSessions(client, { ...input, now }));
          return;
        }
        // The table is drawn from the rows as they arrive, one page at a time.
        const stream = await streamSessions(client, { ...input, now });
        const { sessionColumns } = await import('./render.js');
        const listed = await out.streamTable(stream.sessions, sessionColumns(now), `No ${input.state === 'all' ? '' : `${input.state} `}sessions match.`);
        const totals = await stream.totals(listed);
        if (totals.more) {
          out.line(out.c.dim(`Showing ${listed} of ${totals.total}; pass --limit ${totals.total} to see them all.`));
        }
        if (totals.unknownExpiry > 0 && input.state !== 'all') {
          out.line(
            out.c.dim(`${totals.unknownExpiry} session(s) have an expiry stored in a form authctl cannot read; \`sessions list --all\` shows them.`),
          );
        }
      } finally {
        await client.$disconnect();
      }
    });
}
