import { Command } from 'commander';
import { createContext } from '../../context.js';

function activationCommand(name: 'disable' | 'enable'): Command {
  const active = name === 'enable';
  const cmd = new Command(name)
    .description(active ? 'let a disabled user log in again' : "stop a user from logging in and revoke the user's sessions")
    .argument('<username>');
  if (!active) cmd.option('--force', 'allow disabling the last active admin');
  return cmd.action(async (username: string, opts: { force?: boolean }, command: Command) => {
    const ctx = createContext(command);
    const { database } = ctx.config();
    const { openReadyClient } = await import('../../core/db/readiness.js');
    const { setUserActive } = await import('../../core/users/users.js');
    const client = await openReadyClient(database);
    try {
      const result = await setUserActive(client, username, active, { force: Boolean(opts.force) });
      const { out } = ctx;
      out.emitJson(result);
      if (!result.changed) out.success(`"${username}" is already ${active ? 'enabled' : 'disabled'}. Nothing to do.`);
      else out.success(`${active ? 'Enabled' : 'Disabled'} "${username}".`);
      if (!active && (result.changed || result.revokedSessions > 0)) out.line(`Revoked ${result.revokedSessions} session(s).`);
    } finally {
      await client.$disconnect();
    }
  });
}

export const disableCommand = () => activationCommand('disable');
export const enableCommand = () => activationCommand('enable');
