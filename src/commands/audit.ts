import type { AuditFilter, AuditRow } from '../core/audit/read.js';
import { usageError } from '../core/errors/errors.js';
import { whenCell } from '../terminal/time.js';
import { defineCommand } from './define.js';
import { addListingOptions, givenValue, parseInstantOption, parsePositiveInt } from './options.js';

interface AuditResult {
  entries: AuditRow[];
  total: number;
}

export const auditCommand = () =>
  defineCommand<AuditFilter, AuditResult>({
    name: 'audit',
    description: 'what authctl changed, newest first',
    examples: [
      'authctl audit',
      'authctl audit --since 7d --command user --user alice',
      'authctl audit --limit 100 --json',
    ],
    options: (cmd) =>
      addListingOptions(cmd)
        .option('--limit <n>', 'how many entries', '20')
        .option('--since <when>', 'entries at or after this: a duration ago (24h, 7d) or a UTC date or time (2026-11-30, 2026-11-30T08:00Z)')
        .option('--until <when>', 'entries before this, in the same forms as --since')
        .option('--user <name>', 'entries about this app user (the target of user add, user reset, sessions revoke --user, ...)')
        .option('--command <name>', 'entries of this command ("user add"), or of a whole group ("user")'),
    parse: ({ opts }) => {
      const now = new Date();
      const since = parseInstantOption(opts.since as string | undefined, '--since', now);
      const until = parseInstantOption(opts.until as string | undefined, '--until', now);
      if (since && until && since.getTime() >= until.getTime()) {
        throw usageError(`--since (${since.toISOString()}) is not before --until (${until.toISOString()}).`, 'Swap them, or widen the range.');
      }
      return {
        limit: parsePositiveInt(opts.limit as string, '--limit'),
        since,
        until,
        user: givenValue(opts.user as string | undefined, '--user', 'a name'),
        command: givenValue(opts.command as string | undefined, '--command', 'a name'),
      };
    },
    needs: 'ready',
    run: async ({ db }, filter) => {
      const { readAuditLog } = await import('../core/audit/read.js');
      const { entries, total } = await readAuditLog(db, filter);
      return { entries, total };
    },
    render: ({ entries, total }, out, filter) => {
      const now = new Date();
      const filtered = filter.since || filter.until || filter.user !== undefined || filter.command !== undefined;
      out.table(entries, [
        { header: 'when (UTC)', value: (e) => whenCell(e.at, now) },
        { header: 'who', value: (e) => `${e.osUser}@${e.host}`, shrink: true },
        { header: 'command', value: (e) => e.command },
        { header: 'target', value: (e) => e.target, shrink: true },
        { header: 'summary', value: (e) => e.summary, shrink: true },
      ], filtered ? 'No audit entries match.' : 'authctl has changed nothing yet.');
      if (total > entries.length) out.note(`Showing ${entries.length} of ${total}; use --limit to see more.`);
    },
  });
