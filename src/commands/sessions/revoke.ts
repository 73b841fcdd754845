import { Option } from 'commander';
import { usageError } from '../../core/errors/errors.js';
import type { RevokeResult, RevokeTarget } from '../../core/sessions/revoke.js';
import { defineCommand, type RawInput } from '../define.js';
import { givenValue, parsePositiveInt } from '../options.js';
import { TOKEN_TYPES, tokenType } from './options.js';
import { sessionColumns } from './render.js';

export interface RevokeCommandInput {
  target: RevokeTarget;
  dryRun: boolean;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

/** Exactly one kind of target: session ids and --jti, or --user, or --all. */
function targetFrom({ args, opts }: RawInput): RevokeTarget {
  const ids = (args[0] as string[] | undefined) ?? [];
  const jtis = (opts.jti as string[] | undefined) ?? [];
  const user = givenValue(opts.user as string | undefined, '--user', 'a username');
  const kinds = [ids.length + jtis.length > 0, user !== undefined, Boolean(opts.all)].filter(Boolean).length;
  if (kinds === 0) {
    throw usageError('Nothing to revoke.', 'Name session ids, --jti <jti>, --user <name> or --all.');
  }
  if (kinds > 1) {
    throw usageError('Choose one target: session ids and --jti, or --user, or --all.', 'Run one revoke per kind of target.');
  }
  const type = tokenType(opts.type as string | undefined);
  if (opts.all) return { kind: 'all', type };
  if (user !== undefined) return { kind: 'user', username: user, type };
  if (type) throw usageError('--type narrows --user or --all; named sessions are revoked as they are.', 'Leave --type out, or revoke with --user or --all.');
  for (const jti of jtis) givenValue(jti, '--jti', 'a session jti');
  return { kind: 'ids', ids: [...new Set(ids.map((id) => parsePositiveInt(id, 'A session id', undefined, 'Session ids are the numbers in the id column of `authctl sessions list`.')))], jtis: [...new Set(jtis)] };
}

export const revokeCommand = () =>
  defineCommand<RevokeCommandInput, RevokeResult>({
    name: 'revoke',
    description: 'revoke sessions (delete their rows): by id, --jti, --user or --all',
    examples: [
      'authctl sessions revoke 42 43',
      'authctl sessions revoke --user alice --type refresh',
      'authctl sessions revoke --all --dry-run',
      'authctl sessions revoke --all --yes --json',
    ],
    arguments: [{ name: '[ids...]', description: 'session ids, as shown by `sessions list`' }],
    options: (cmd) =>
      cmd
        .option('--jti <jti>', 'a session by its jti (repeatable)', collect)
        .option('--user <name>', "all of this user's sessions")
        .addOption(new Option('--type <type>', 'with --user or --all: only sessions of this type').choices(TOKEN_TYPES))
        .option('--all', 'every session: logs everyone out (asks first; --yes without a terminal)')
        .option('--dry-run', 'show what would be revoked and change nothing'),
    parse: (raw) => ({ target: targetFrom(raw), dryRun: Boolean(raw.opts.dryRun) }),
    needs: 'ready',
    // A dry run only reads: it works on a read-only file.
    asksThenWrites: (input) => !input.dryRun,
    run: async ({ db, yes }, { target, dryRun }) => {
      if (target.kind === 'all' && !dryRun) {
        const { confirmOrRefuse } = await import('../../terminal/prompts.js');
        await confirmOrRefuse(`Revoke ${target.type ? `every ${target.type} session` : 'every session'} and log everyone out`, yes);
      }
      const { revokeSessions } = await import('../../core/sessions/revoke.js');
      return revokeSessions(db, { target, dryRun });
    },
    render: (result, out) => {
      if (result.revoked === 0) {
        out.success('No sessions match. Nothing to do.');
        return;
      }
      if (result.dryRun) out.line(`Would revoke ${result.revoked} session(s):`);
      out.table(result.sessions, sessionColumns());
      if (result.more) out.line(out.c.dim(`… and ${result.revoked - result.sessions.length} more.`));
      if (!result.dryRun) out.success(`Revoked ${result.revoked} session(s).`);
    },
  });
