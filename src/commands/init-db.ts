import type { InitResult } from '../core/setup/init-db.js';
import { PLACEHOLDER_NOTICE } from '../core/users/admin-placeholder.js';
import { validateUsername } from '../core/users/validate.js';
import type { NewPasswordOptions } from '../terminal/password-input.js';
import { defineCommand } from './define.js';
import { addPasswordOptions, newPasswordInput } from './options.js';

interface InitDbInput {
  adminUsername: string;
  password: NewPasswordOptions;
}

/** The --json document: one shape when nothing was done, another when the database was initialised. */
export type InitDbResult =
  | { status: 'already-initialised'; admin: string; pendingMigrations: string[] }
  | {
      status: 'initialised';
      created: boolean;
      adopted: boolean;
      appliedMigrations: string[];
      backup: string | null;
      admin: string;
      reservedAdmin: boolean;
      fullNamesSet: number;
      /** Only when authctl generated the password. */
      password?: string;
    };

function toResult(result: InitResult): InitDbResult {
  if (result.status === 'already-initialised') return { status: result.status, admin: result.admin, pendingMigrations: result.pendingMigrations };
  return {
    status: result.status,
    created: result.created,
    adopted: result.adopted,
    appliedMigrations: result.applied,
    backup: result.backup,
    admin: result.admin,
    reservedAdmin: result.repairs.reservedAdmin,
    fullNamesSet: result.repairs.fullNamesSet,
    ...(result.generatedPassword ? { password: result.generatedPassword } : {}),
  };
}

export const initDbCommand = () =>
  defineCommand<InitDbInput, InitDbResult>({
    name: 'init-db',
    description: 'create the database, apply migrations and create the first admin',
    examples: [
      'authctl init-db',
      'authctl init-db --generate-password --json',
      'printf \'%s\\n\' "$ADMIN_PASSWORD" | authctl init-db --password-stdin',
      'authctl -d sqlite:////srv/gpustack-ui/gpustack_ui.db init-db',
    ],
    options: (cmd) => addPasswordOptions(cmd.option('--admin-username <name>', 'username of the first admin', 'admin')),
    parse: ({ opts }) => ({
      adminUsername: validateUsername(opts.adminUsername as string),
      password: newPasswordInput(opts),
    }),
    needs: 'database',
    run: async ({ db, out }, { adminUsername, password }) => {
      const { initDatabase } = await import('../core/setup/init-db.js');
      const { prepareNewPassword } = await import('../terminal/password-input.js');
      const result = await initDatabase(db, {
        adminUsername,
        obtainPasswordHash: () => prepareNewPassword(password, out, { username: adminUsername, isAdmin: true }),
        onBackup: (file) => out.info(`Backed up the database to ${file}`),
      });
      return toResult(result);
    },
    render: (result, out) => {
      if (result.status === 'already-initialised') {
        out.success(`Already initialised: admin "${result.admin}" exists. Nothing changed.`);
        out.line('Run `authctl doctor` to check for default passwords and anything else to fix.');
        if (result.pendingMigrations.length > 0) {
          out.line(`${result.pendingMigrations.length} migration(s) are pending; run \`authctl migrate\` to apply them.`);
        }
        return;
      }
      if (result.adopted) out.success("Adopted the app's existing tables; every row was kept.");
      out.success(`${result.created ? 'Created the database and applied' : 'Applied'} ${result.appliedMigrations.length} migration(s).`);
      out.success(`Created admin "${result.admin}".`);
      if (result.fullNamesSet > 0) out.info(`Set the missing full name of ${result.fullNamesSet} user(s) to their username; the app cannot serve a user without one.`);
      if (result.reservedAdmin) out.warn(PLACEHOLDER_NOTICE);
      if (result.password) out.secret(`Password for ${result.admin} (shown once)`, result.password);
    },
  });
