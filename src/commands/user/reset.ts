import { Command } from 'commander';
import { createContext } from '../../context.js';
import type { NewPasswordOptions } from '../../terminal/password-input.js';
import { addPasswordOptions } from '../options.js';

interface ResetOptions extends NewPasswordOptions {
  keepSessions?: boolean;
}

export function resetCommand(): Command {
  const cmd = new Command('reset')
    .description("set a new password; revokes the user's sessions unless --keep-sessions")
    .argument('<username>')
    .option('--keep-sessions', 'leave the user logged in where they are');
  addPasswordOptions(cmd);
  return cmd.action(async (username: string, opts: ResetOptions, command: Command) => {
    const ctx = createContext(command);
    const { database } = ctx.config();
    const { openReadyClient } = await import('../../core/db/readiness.js');
    const { findUser, resetPassword } = await import('../../core/users/users.js');
    const { prepareNewPassword } = await import('../../terminal/password-input.js');
    const client = await openReadyClient(database);
    try {
      // An unknown user fails before a password is asked for.
      const existing = await findUser(client, username);
      const password = await prepareNewPassword(opts, ctx.out, { username, isAdmin: existing.isAdmin });
      const result = await resetPassword(client, username, {
        passwordHash: password.hash,
        keepSessions: Boolean(opts.keepSessions),
        passwordGenerated: password.generated !== null,
        weakPasswordAllowed: password.weakAllowed,
      });
      const { out } = ctx;
      out.emitJson({ user: result.user, revokedSessions: result.revokedSessions, ...(password.generated ? { password: password.generated } : {}) });
      out.success(`New password set for "${username}".`);
      out.line(opts.keepSessions ? 'Existing sessions were kept.' : `Revoked ${result.revokedSessions} session(s).`);
      if (password.weakAllowed) out.warn('The password policy was overridden with --allow-weak-password; this is recorded in the audit log.');
      if (password.generated) out.secret(`Password for ${username} (shown once)`, password.generated);
    } finally {
      await client.$disconnect();
    }
  });
}
