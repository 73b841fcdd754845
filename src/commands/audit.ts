import { Command } from 'commander';
import { createContext } from '../context.js';
import { parsePositiveInt } from './options.js';

export function auditCommand(): Command {
  return new Command('audit')
    .description('what authctl changed, newest first')
    .option('--limit <n>', 'how many entries', '20')
    .action(async (opts: { limit: string }, command: Command) => {
      const ctx = createContext(command);
      const limit = parsePositiveInt(opts.limit, '--limit');
      const { database } = ctx.config();
      const { openReadyClient } = await import('../core/db/readiness.js');
      const { readAuditLog } = await import('../core/audit/read.js');
      const client = await openReadyClient(database);
      try {
        const { entries, total } = await readAuditLog(client, limit);
        const { out } = ctx;
        out.emitJson({ entries, total });
        out.table(entries, [
          { header: 'when (UTC)', value: (e) => e.at.replace('T', ' ').replace(/\.\d+Z$/, '') },
          { header: 'who', value: (e) => `${e.osUser}@${e.host}` },
          { header: 'command', value: (e) => e.command },
          { header: 'target', value: (e) => e.target },
          { header: 'summary', value: (e) => e.summary },
        ], 'authctl has changed nothing yet.');
        if (total > entries.length) out.line(out.c.dim(`Showing ${entries.length} of ${total}; use --limit to see more.`));
      } finally {
        await client.$disconnect();
      }
    });
}
