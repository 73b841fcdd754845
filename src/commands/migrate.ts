import { AuthctlError, ExitCode } from '../core/errors/errors.js';
import type { MigrationStatus } from '../core/db/migrations.js';
import type { MigrateResult } from '../core/setup/migrate.js';
import { historyProblem } from '../core/setup/history.js';
import { MIGRATE_LOCK } from '../core/setup/lock.js';
import { PLACEHOLDER_NOTICE } from '../core/users/admin-placeholder.js';
import { defineCommand } from './define.js';

const statusCommand = () =>
  defineCommand<void, MigrationStatus>({
    name: 'status',
    description: 'list applied and pending migrations and drift; exit 0 only when up to date',
    examples: [
      'authctl migrate status',
      'authctl migrate status --json',
      'authctl migrate status -q || authctl migrate',
    ],
    parse: () => undefined,
    needs: 'database',
    run: async ({ db }) => {
      const { getMigrationStatus } = await import('../core/setup/status.js');
      return getMigrationStatus(db);
    },
    render: async (status, out) => {
      const { describeState } = await import('../core/db/migrations.js');
      out.line(`Database: ${describeState(status.state)}`);
      for (const name of status.applied) out.line(`  ${out.c.green('applied')}  ${name}`);
      for (const name of status.pending) out.line(`  ${out.c.yellow('pending')}  ${name}`);
      for (const name of status.unknown) out.line(`  ${out.c.red('unknown')}  ${name} (applied here, not known to this authctl)`);
      for (const name of status.edited) out.line(`  ${out.c.red('edited')}   ${name} (changed after it was applied)`);
      for (const name of status.failed) out.line(`  ${out.c.red('failed')}   ${name} (started, never finished)`);
      for (const line of status.drift) out.line(`  ${out.c.red('drift')}    ${line}`);
      if (status.appTables.length > 0) out.line(out.c.dim(`App tables, not managed by authctl: ${status.appTables.join(', ')}`));
      if (status.upToDate) out.success('Up to date.');
    },
    failure: (status) => {
      if (status.upToDate) return null;
      // A history migrate refuses: say why, and what to do instead of running it.
      const problem = historyProblem(status);
      if (problem) return new AuthctlError('NOT_UP_TO_DATE', `The database is not up to date. ${problem.message}`, ExitCode.checkFailed, problem.hint);
      if (status.state === 'unknown') {
        return new AuthctlError(
          'NOT_UP_TO_DATE',
          "The database has tables but no migration history, and they are not the GPUStack UI app's schema (see the drift lines); `authctl migrate` would refuse it.",
          ExitCode.checkFailed,
          "Check that DATABASE_URL (or -d) points at the app's database; if it does, restore its tables from a backup (or let the app recreate them) before running `authctl migrate`.",
        );
      }
      const hint =
        status.state === 'app-unmanaged'
          ? "Run `authctl migrate` to adopt the app's tables."
          : status.drift.length > 0
            ? 'The schema was changed outside authctl; restore it or compare with a backup.'
            : 'Run `authctl migrate` to apply the pending migrations.';
      return new AuthctlError('NOT_UP_TO_DATE', 'The database is not up to date.', ExitCode.checkFailed, hint);
    },
  });

export function migrateCommand() {
  return defineCommand<{ dryRun: boolean }, MigrateResult>({
    name: 'migrate',
    description: 'apply pending migrations; adopts a database the app created',
    examples: [
      'authctl migrate --dry-run',
      'authctl migrate',
      'authctl -d postgresql://authctl@db.internal/gpustack_ui migrate --json',
    ],
    options: (cmd) => cmd.option('--dry-run', 'list what would be applied and change nothing'),
    parse: ({ opts }) => ({ dryRun: Boolean(opts.dryRun) }),
    needs: 'database',
    // Dry runs too: what they report must not change under them.
    lock: () => MIGRATE_LOCK,
    run: async ({ db, out }, { dryRun }) => {
      const { migrateDatabase } = await import('../core/setup/migrate.js');
      return migrateDatabase(db, { dryRun, onBackup: (file) => out.info(`Backed up the database to ${file}`) });
    },
    render: (result, out) => {
      const { fullNamesSet, reservedAdmin } = result.repairs;
      const schema = result.adopt || result.apply.length > 0;
      if (schema) {
        if (result.adopt) out.line(`${result.dryRun ? 'Would adopt' : 'Adopted'} the app's existing tables (baseline recorded, not run; every row kept).`);
        out.line(`${result.dryRun ? 'Would apply' : 'Applied'} ${result.apply.length} migration(s)${result.apply.length ? ':' : '.'}`);
        for (const name of result.apply) out.line(`  ${name}`);
      }
      if (fullNamesSet > 0) {
        out.line(`${result.dryRun ? 'Would set' : 'Set'} the missing full name of ${fullNamesSet} user(s) to their username (the app cannot serve a user without one).`);
      }
      if (reservedAdmin) {
        if (result.dryRun) out.line('Would keep a disabled user named "admin" with no password, so the app cannot seed admin/admin.');
        else out.warn(PLACEHOLDER_NOTICE);
      }
      if (!schema && fullNamesSet === 0 && !reservedAdmin) out.success('Already up to date. Nothing to do.');
      else if (!result.dryRun) out.success(schema ? 'Migrated.' : 'Repaired.');
      if (result.noUsers) {
        out.warn(
          `The database has no users: the app seeds admin/admin, an active admin, at its next start. Run \`authctl init-db\` now to create the first admin${result.dryRun ? ' (it migrates too)' : ''}.`,
        );
      }
    },
  }).addCommand(statusCommand());
}
