import { Command } from 'commander';
import { createContext } from '../context.js';
import { addPasswordOptions } from './options.js';
import { PLACEHOLDER_NOTICE } from '../core/users/admin-placeholder.js';
import type { NewPasswordOptions } from '../terminal/password-input.js';

interface InitDbOptions extends NewPasswordOptions {
  adminUsername: string;
}

export function initDbCommand(): Command {
  const cmd = new Command('init-db')
    .description('create the database, apply migrations and create the first admin')
    .option('--admin-username <name>', 'username of the first admin', 'admin');
  addPasswordOptions(cmd);
  return cmd.action(async (opts: InitDbOptions, command: Command) => {
    const ctx = createContext(command);
    const { database } = ctx.config();
    const { validateUsername } = await import('../core/users/validate.js');
    validateUsername(opts.adminUsername);
    const { initDatabase } = await import('../core/setup/setup.js');
    const { prepareNewPassword } = await import('../terminal/password-input.js');
    const result = await initDatabase(database, {
      adminUsername: opts.adminUsername,
      obtainPasswordHash: () => prepareNewPassword(opts, ctx.out, { username: opts.adminUsername, isAdmin: true }),
      onBackup: (file) => ctx.out.info(`Backed up the database to ${file}`),
    });
    const { out } = ctx;
    if (result.status === 'already-initialised') {
      out.emitJson({ status: result.status, admin: result.admin, pendingMigrations: result.pendingMigrations });
      out.success(`Already initialised: admin "${result.admin}" exists. Nothing changed.`);
      out.line('Run `authctl doctor` to check for default passwords and anything else to fix.');
      if (result.pendingMigrations.length > 0) {
        out.line(`${result.pendingMigrations.length} migration(s) are pending; run \`authctl migrate\` to apply them.`);
      }
      return;
    }
    out.emitJson({
      status: result.status,
      created: result.created,
      adopted: result.adopted,
      appliedMigrations: result.applied,
      backup: result.backup,
      admin: result.admin,
      reservedAdmin: result.repairs.reservedAdmin,
      fullNamesSet: result.repairs.fullNamesSet,
      ...(result.generatedPassword ? { password: result.generatedPassword } : {}),
    });
    if (result.adopted) out.success("Adopted the app's existing tables; every row was kept.");
    out.success(`${result.created ? 'Created the database and applied' : 'Applied'} ${result.applied.length} migration(s).`);
    out.success(`Created admin "${result.admin}".`);
    if (result.repairs.fullNamesSet > 0) out.info(`Set the missing full name of ${result.repairs.fullNamesSet} user(s) to their username; the app cannot serve a user without one.`);
    if (result.repairs.reservedAdmin) out.warn(PLACEHOLDER_NOTICE);
    if (result.generatedPassword) out.secret(`Password for ${result.admin} (shown once)`, result.generatedPassword);
  });
}
