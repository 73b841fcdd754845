import { Option } from 'commander';
import { usageError } from '../../core/errors/errors.js';
import type { ListSessionsInput, SessionList, SessionListStream } from '../../core/sessions/list.js';
import { defineCommand } from '../define.js';
import { addListingOptions, givenValue, parseInstantOption, parsePositiveInt } from '../options.js';
import { TOKEN_TYPES, tokenType } from './options.js';
import { sessionColumns } from './render.js';

/** Sessions shown without --limit. */
const DEFAULT_LIMIT = 50;

/**
 * With --json, the whole list (the JSON document); for people, the rows as
 * they are read, so a long table is drawn a page at a time.
 */
export type SessionListResult = SessionList | (SessionListStream & { now: Date });

export const listCommand = () =>
  defineCommand<ListSessionsInput, SessionListResult>({
    name: 'list',
    description: 'list active sessions (see --expired, --all); never shows the token',
    examples: [
      'authctl sessions list',
      'authctl sessions list --user alice --type refresh',
      'authctl sessions list --expired --limit 200 --json',
      'authctl sessions list --since 24h --ip 10.0.0.7',
    ],
    options: (cmd) =>
      addListingOptions(cmd)
        .option('--user <name>', "only this user's sessions")
        .addOption(new Option('--type <type>', 'only sessions of this type').choices(TOKEN_TYPES))
        .option('--expired', 'only expired sessions')
        .option('--all', 'active and expired sessions')
        .option('--since <when>', 'only sessions created at or after this: a duration ago (24h, 7d) or a UTC date or time')
        .option('--ip <address>', 'only sessions from this IP address (exact match)')
        .option('--limit <n>', 'show at most n sessions (default: 50)'),
    parse: ({ opts }) => {
      if (opts.expired && opts.all) throw usageError('--expired and --all contradict each other.', 'Use one of them.');
      const ip = opts.ip as string | undefined;
      if (ip !== undefined && ip.trim() === '') throw usageError('--ip needs an address, not an empty value.');
      return {
        user: givenValue(opts.user as string | undefined, '--user', 'a username'),
        type: tokenType(opts.type as string | undefined),
        state: opts.all ? 'all' : opts.expired ? 'expired' : 'active',
        limit: opts.limit === undefined ? DEFAULT_LIMIT : parsePositiveInt(opts.limit as string, '--limit', 100_000),
        since: parseInstantOption(opts.since as string | undefined, '--since', new Date()),
        ip,
      };
    },
    needs: 'ready',
    run: async ({ db, out }, input) => {
      const { listSessions, streamSessions } = await import('../../core/sessions/list.js');
      const now = new Date();
      if (out.json) return listSessions(db, { ...input, now });
      return { ...(await streamSessions(db, { ...input, now })), now };
    },
    render: async (result, out, input) => {
      const now = 'now' in result ? result.now : new Date();
      const listed = await out.streamTable(
        result.sessions,
        sessionColumns(now),
        `No ${input.state === 'all' ? '' : `${input.state} `}sessions match.`,
      );
      const totals = 'totals' in result ? await result.totals(listed) : result;
      if (totals.more) {
        out.note(`Showing ${listed} of ${totals.total}; pass --limit ${totals.total} to see them all.`);
      }
      if (totals.unknownExpiry > 0 && input.state !== 'all') {
        out.note(`${totals.unknownExpiry} session(s) have an expiry stored in a form authctl cannot read; \`sessions list --all\` shows them.`);
      }
    },
  });
