import type { DatabaseTarget } from '../config/config.js';
import type { MigrationStatus } from '../db/migrations.js';
import { conflict, databaseError, type AuthctlError } from '../errors/errors.js';

/**
 * Why `migrate` cannot run on this history (one it does not know or that was
 * changed, or a migration left unfinished), with what the operator can do;
 * null when it can. `migrate status` gives the same reasons; without the
 * provider the advice names both kinds of backup.
 */
export function historyProblem(status: MigrationStatus, provider?: DatabaseTarget['provider']): AuthctlError | null {
  if (status.unknown.length > 0 || status.edited.length > 0) {
    const parts = [
      status.unknown.length ? `applied migrations this authctl does not have: ${status.unknown.join(', ')}` : '',
      status.edited.length ? `applied migrations that were changed since: ${status.edited.join(', ')}` : '',
    ].filter(Boolean);
    return conflict(
      'MIGRATION_HISTORY_DIVERGED',
      `The database's migration history has diverged (${parts.join('; ')}).`,
      'Use the authctl release that migrated this database, or restore it from a backup.',
    );
  }
  if (status.failed.length > 0) {
    const backup =
      provider === 'sqlite'
        ? 'the backup made before that run (the .bak- file beside the database)'
        : provider === 'postgresql'
          ? 'the database from a backup taken before that run'
          : 'the backup taken before that run (on SQLite, the .bak- file beside the database)';
    return databaseError(
      'MIGRATION_FAILED_BEFORE',
      `Migration ${status.failed.join(', ')} started earlier and never finished.`,
      `\`authctl migrate\` settles it when the schema shows it was applied whole or not at all; otherwise restore ${backup}, then run \`authctl migrate\` again.`,
    );
  }
  return null;
}

/** Refuses to migrate a database whose history does not belong to these migrations. */
export function assertHistoryMatches(status: MigrationStatus, provider: DatabaseTarget['provider']): void {
  const problem = historyProblem(status, provider);
  if (problem) throw problem;
}
