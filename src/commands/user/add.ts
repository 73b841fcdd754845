import type { UserSummary } from '../../core/users/users.js';
import { validateEmail, validateFullName, validateUsername } from '../../core/users/validate.js';
import type { NewPasswordOptions } from '../../terminal/password-input.js';
import { defineCommand } from '../define.js';
import { addPasswordOptions } from '../options.js';
import { newPasswordInput } from '../options.js';
import { renderNewPassword } from './password.js';

interface AddInput {
  username: string;
  email?: string;
  fullName?: string;
  isAdmin: boolean;
  password: NewPasswordOptions;
}

interface UserAddResult {
  user: UserSummary;
  /** Only when authctl generated it: shown this once. */
  password?: string;
}

export const addCommand = () =>
  defineCommand<AddInput, UserAddResult>({
    name: 'add',
    description: 'add a user with a local password',
    examples: [
      'authctl user add alice --email alice@example.com --full-name "Alice Doe"',
      'authctl user add bob --admin --password-file /run/secrets/bob-password',
      'printf \'%s\\n\' "$PASSWORD" | authctl user add carol --password-stdin --json',
      'authctl user add dave --generate-password',
    ],
    arguments: [{ name: '<username>' }],
    options: (cmd) =>
      addPasswordOptions(
        cmd
          .option('--email <email>', 'email address')
          .option('--full-name <name>', 'full name, 1 to 100 characters (default: the username)')
          .option('--admin', 'make the user an admin'),
      ),
    parse: ({ args, opts }) => ({
      username: validateUsername(args[0] as string),
      email: opts.email === undefined ? undefined : validateEmail(opts.email as string),
      fullName: opts.fullName === undefined ? undefined : validateFullName(opts.fullName as string),
      isAdmin: Boolean(opts.admin),
      password: newPasswordInput(opts),
    }),
    needs: 'ready',
    asksThenWrites: () => true,
    run: async ({ db, out }, input) => {
      const { addUser, assertEmailFree, assertUsernameFree } = await import('../../core/users/users.js');
      const { prepareNewPassword } = await import('../../terminal/password-input.js');
      // Fail on a taken name or email before asking for a password nobody will use.
      await assertUsernameFree(db, input.username);
      if (input.email) await assertEmailFree(db, input.email);
      const password = await prepareNewPassword(input.password, out, { username: input.username, isAdmin: input.isAdmin });
      const user = await addUser(db, {
        username: input.username,
        email: input.email,
        fullName: input.fullName,
        isAdmin: input.isAdmin,
        passwordHash: password.hash,
        passwordGenerated: password.generated !== null,
        weakPasswordAllowed: password.weakAllowed,
      });
      return { user, ...(password.generated ? { password: password.generated } : {}) };
    },
    render: ({ user, password }, out, input) => {
      out.success(`Added ${user.isAdmin ? 'admin' : 'user'} "${user.username}" (id ${user.id}).`);
      renderNewPassword(out, user.username, input.password, password);
    },
  });
