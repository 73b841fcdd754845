import type { AuditRow } from '../core/audit/read.js';
import { defineCommand } from './define.js';
import { parsePositiveInt } from './options.js';

interface AuditResult {
  entries: AuditRow[];
  total: number;
}

export const auditCommand = () =>
  defineCommand<{ limit: number }, AuditResult>({
    name: 'audit',
    description: 'what authctl changed, newest first',
    examples: [
      'authctl audit',
      'authctl audit --limit 100 --json',
    ],
    options: (cmd) => cmd.option('--limit <n>', 'how many entries', '20'),
    parse: ({ opts }) => ({ limit: parsePositiveInt(opts.limit as string, '--limit') }),
    needs: 'ready',
    run: async ({ db }, { limit }) => {
      const { readAuditLog } = await import('../core/audit/read.js');
      const { entries, total } = await readAuditLog(db, limit);
      return { entries, total };
    },
    render: ({ entries, total }, out) => {
      out.table(entries, [
        { header: 'when (UTC)', value: (e) => e.at.replace('T', ' ').replace(/\.\d+Z$/, '') },
        { header: 'who', value: (e) => `${e.osUser}@${e.host}` },
        { header: 'command', value: (e) => e.command },
        { header: 'target', value: (e) => e.target },
        { header: 'summary', value: (e) => e.summary },
      ], 'authctl has changed nothing yet.');
      if (total > entries.length) out.line(out.c.dim(`Showing ${entries.length} of ${total}; use --limit to see more.`));
    },
  });
