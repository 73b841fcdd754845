import type { ResetResult } from '../../core/users/users.js';
import type { NewPasswordOptions } from '../../terminal/password-input.js';
import { defineCommand } from '../define.js';
import { addPasswordOptions } from '../options.js';
import { newPasswordInput, usernameArg } from '../options.js';
import { renderNewPassword } from './password.js';

interface ResetInput {
  username: string;
  keepSessions: boolean;
  password: NewPasswordOptions;
}

interface UserResetResult extends ResetResult {
  /** Only when authctl generated it: shown this once. */
  password?: string;
}

export const resetCommand = () =>
  defineCommand<ResetInput, UserResetResult>({
    name: 'reset',
    description: "set a new password; revokes the user's sessions unless --keep-sessions",
    examples: [
      'authctl user reset admin',
      'authctl user reset alice --password-stdin < /run/secrets/alice-password',
      'authctl user reset bob --generate-password --keep-sessions --json',
    ],
    arguments: [{ name: '<username>' }],
    options: (cmd) => addPasswordOptions(cmd.option('--keep-sessions', 'leave the user logged in where they are')),
    parse: ({ args, opts }) => ({
      username: usernameArg(args[0] as string),
      keepSessions: Boolean(opts.keepSessions),
      password: newPasswordInput(opts),
    }),
    needs: 'ready',
    asksThenWrites: () => true,
    run: async ({ db, out }, input) => {
      const { getUser, resetPassword } = await import('../../core/users/users.js');
      const { prepareNewPassword } = await import('../../terminal/password-input.js');
      // An unknown user fails before a password is asked for.
      const existing = await getUser(db, input.username);
      const password = await prepareNewPassword(input.password, out, // An admin flag whose stored value cannot be read gets the stricter admin policy.
      { username: input.username, isAdmin: existing.isAdmin !== false });
      const result = await resetPassword(db, input.username, {
        passwordHash: password.hash,
        keepSessions: input.keepSessions,
        passwordGenerated: password.generated !== null,
        weakPasswordAllowed: password.weakAllowed,
      });
      return { user: result.user, revokedSessions: result.revokedSessions, ...(password.generated ? { password: password.generated } : {}) };
    },
    render: (result, out, input) => {
      out.success(`New password set for "${input.username}".`);
      out.line(input.keepSessions ? 'Existing sessions were kept.' : `Revoked ${result.revokedSessions} session(s).`);
      renderNewPassword(out, input.username, input.password, result.password);
    },
  });
