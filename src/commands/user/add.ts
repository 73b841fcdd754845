import { Command } from 'commander';
import { createContext } from '../../context.js';
import type { NewPasswordOptions } from '../../terminal/password-input.js';
import { addPasswordOptions } from '../options.js';

interface AddOptions extends NewPasswordOptions {
  email?: string;
  fullName?: string;
  admin?: boolean;
}

export function addCommand(): Command {
  const cmd = new Command('add')
    .description('add a user with a local password')
    .argument('<username>')
    .option('--email <email>', 'email address')
    .option('--full-name <name>', 'full name, 1 to 100 characters (default: the username)')
    .option('--admin', 'make the user an admin');
  addPasswordOptions(cmd);
  return cmd.action(async (username: string, opts: AddOptions, command: Command) => {
    const ctx = createContext(command);
    const { validateEmail, validateFullName, validateUsername } = await import('../../core/users/validate.js');
    validateUsername(username);
    if (opts.email !== undefined) validateEmail(opts.email);
    if (opts.fullName !== undefined) validateFullName(opts.fullName);
    const { database } = ctx.config();
    const { openReadyClient } = await import('../../core/db/readiness.js');
    const { addUser } = await import('../../core/users/users.js');
    const { prepareNewPassword } = await import('../../terminal/password-input.js');
    const client = await openReadyClient(database);
    try {
      // Fail on a taken name before asking for a password nobody will use.
      const { conflict } = await import('../../core/errors/errors.js');
      if (await client.user.findUnique({ where: { username } })) {
        throw conflict('USERNAME_TAKEN', `The username "${username}" is already taken.`, 'Choose another username, or change that user with `authctl user reset`.');
      }
      const password = await prepareNewPassword(opts, ctx.out, { username, isAdmin: Boolean(opts.admin) });
      const user = await addUser(client, {
        username,
        email: opts.email,
        fullName: opts.fullName,
        isAdmin: Boolean(opts.admin),
        passwordHash: password.hash,
        passwordGenerated: password.generated !== null,
        weakPasswordAllowed: password.weakAllowed,
      });
      const { out } = ctx;
      out.emitJson({ user, ...(password.generated ? { password: password.generated } : {}) });
      out.success(`Added ${user.isAdmin ? 'admin' : 'user'} "${user.username}" (id ${user.id}).`);
      if (password.weakAllowed) out.warn('The password policy was overridden with --allow-weak-password; this is recorded in the audit log.');
      if (password.generated) out.secret(`Password for ${user.username} (shown once)`, password.generated);
    } finally {
      await client.$disconnect();
    }
  });
}
