import type { ActivationResult } from '../../core/users/users.js';
import { usernameArg } from '../options.js';
import { WEAK_ADMIN_ALLOWED } from './password.js';
import { defineCommand } from '../define.js';

interface ActivationInput {
  username: string;
  force: boolean;
  allowWeakPassword: boolean;
}

function activationCommand(name: 'disable' | 'enable') {
  const active = name === 'enable';
  return defineCommand<ActivationInput, ActivationResult>({
    name,
    description: active ? 'let a disabled user log in again' : "stop a user from logging in and revoke the user's sessions",
    examples: active
      ? ['authctl user enable alice', 'authctl user enable alice --json']
      : ['authctl user disable alice', 'authctl user disable admin --force --json'],
    arguments: [{ name: '<username>' }],
    options: active
      ? (cmd) => cmd.option('--allow-weak-password', 'enable an admin whose password is a well-known one (recorded in the audit log)')
      : (cmd) => cmd.option('--force', 'allow disabling the last active admin'),
    parse: ({ args, opts }) => ({ username: usernameArg(args[0] as string), force: Boolean(opts.force), allowWeakPassword: Boolean(opts.allowWeakPassword) }),
    needs: 'ready',
    run: async ({ db }, { username, force, allowWeakPassword }) => {
      const { setUserActive } = await import('../../core/users/users.js');
      return setUserActive(db, username, active, { force, allowWeakPassword });
    },
    render: (result, out, { username }) => {
      if (!result.changed) out.success(`"${username}" is already ${active ? 'enabled' : 'disabled'}. Nothing to do.`);
      else out.success(`${active ? 'Enabled' : 'Disabled'} "${username}".`);
      if (result.changed && result.user.gpustackUserId !== null) {
        out.warn(
          `"${username}" is linked to GPUStack user ${result.user.gpustackUserId}, and \`authctl gpustack sync\` sets its active flag from GPUStack: ` +
            `the next sync ${active ? 'disables it again if it is disabled there' : 'enables it again if it is active there'}. ${active ? 'Enable' : 'Disable'} it in GPUStack too.`,
        );
      }
      if (result.weakPasswordAllowed) out.warn(WEAK_ADMIN_ALLOWED);
      if (!active && (result.changed || result.revokedSessions > 0)) out.line(`Revoked ${result.revokedSessions} session(s).`);
    },
  });
}

export const disableCommand = () => activationCommand('disable');
export const enableCommand = () => activationCommand('enable');
