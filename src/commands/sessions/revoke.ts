import { Command } from 'commander';
import { createContext } from '../../context.js';
import type { RevokeTarget } from '../../core/sessions/revoke.js';
import { parsePositiveInt } from '../options.js';
import { tokenType } from './options.js';

interface RevokeOptions {
  jti?: string[];
  user?: string;
  type?: string;
  all?: boolean;
  dryRun?: boolean;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

async function targetFrom(ids: string[], opts: RevokeOptions): Promise<RevokeTarget> {
  const { usageError } = await import('../../core/errors/errors.js');
  const jtis = opts.jti ?? [];
  const kinds = [ids.length + jtis.length > 0, opts.user !== undefined, Boolean(opts.all)].filter(Boolean).length;
  if (kinds === 0) {
    throw usageError('Nothing to revoke.', 'Name session ids, --jti <jti>, --user <name> or --all.');
  }
  if (kinds > 1) {
    throw usageError('Choose one target: session ids and --jti, or --user, or --all.');
  }
  const type = tokenType(opts.type);
  if (opts.all) return { kind: 'all', type };
  if (opts.user !== undefined) return { kind: 'user', username: opts.user, type };
  if (type) throw usageError('--type narrows --user or --all; named sessions are revoked as they are.');
  for (const jti of jtis) if (!jti.trim()) throw usageError('--jti needs a value.');
  return { kind: 'ids', ids: [...new Set(ids.map((id) => parsePositiveInt(id, 'A session id')))], jtis: [...new Set(jtis)] };
}

export function revokeCommand(): Command {
  return new Command('revoke')
    .description('revoke sessions (delete their rows): by id, --jti, --user or --all')
    .argument('[ids...]', 'session ids, as shown by `sessions list`')
    .option('--jti <jti>', 'a session by its jti (repeatable)', collect)
    .option('--user <name>', "all of this user's sessions")
    .option('--type <type>', 'with --user or --all: only access or refresh sessions')
    .option('--all', "every session: logs everyone out (asks first; --yes without a terminal)")
    .option('--dry-run', 'show what would be revoked and change nothing')
    .action(async (ids: string[], opts: RevokeOptions, command: Command) => {
      const ctx = createContext(command);
      const target = await targetFrom(ids, opts);
      const { database } = ctx.config();
      if (target.kind === 'all' && !opts.dryRun) {
        const { confirmOrRefuse } = await import('../../terminal/prompts.js');
        await confirmOrRefuse(`Revoke ${target.type ? `every ${target.type} session` : 'every session'} and log everyone out`, ctx.opts.yes);
      }
      const { openReadyClient } = await import('../../core/db/readiness.js');
      const { revokeSessions } = await import('../../core/sessions/revoke.js');
      const client = await openReadyClient(database);
      try {
        const now = new Date();
        const result = await revokeSessions(client, { target, dryRun: Boolean(opts.dryRun), now });
        const { out } = ctx;
        out.emitJson(result);
        if (result.revoked === 0) {
          out.success('No sessions match. Nothing to do.');
          return;
        }
        const { sessionColumns } = await import('./render.js');
        if (result.dryRun) out.line(`Would revoke ${result.revoked} session(s):`);
        out.table(result.sessions, sessionColumns(now));
        if (result.more) out.line(out.c.dim(`… and ${result.revoked - result.sessions.length} more.`));
        if (!result.dryRun) out.success(`Revoked ${result.revoked} session(s).`);
      } finally {
        await client.$disconnect();
      }
    });
}
