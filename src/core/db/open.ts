import type { DatabaseTarget } from '../config.js';
import { databaseError } from '../errors.js';
import { type AppClient, openClient } from './client.js';
import { loadMigrations, statusFrom } from './migrations.js';
import { openSqlite } from './sqlite.js';
import { inspectSqliteState } from './sqlite-state.js';

/**
 * Refuses, with exit 5 and the next step, a database that authctl cannot work
 * on yet: missing, created by the app but not adopted, or with migrations
 * pending. A cheap check of the history table; `migrate status` does the full one.
 */
export function assertSqliteReady(file: string): void {
  const db = openSqlite(file, { readonly: true });
  try {
    const migrations = loadMigrations('sqlite');
    const state = inspectSqliteState(db, migrations);
    if (state.kind === 'empty') {
      throw databaseError('NOT_INITIALISED', `${file} is empty.`, 'Run `authctl init-db` to create the schema and the first admin.');
    }
    if (state.kind === 'app-unmanaged') {
      throw databaseError(
        'NOT_MIGRATED',
        "This database was created by the app and authctl has not adopted it yet.",
        "Run `authctl migrate` once; it keeps every row and backs the file up first.",
      );
    }
    if (state.kind === 'unknown') {
      throw databaseError('UNKNOWN_SCHEMA', `${file} is not a GPUStack UI database.`, 'Check DATABASE_URL (or -d).');
    }
    const status = statusFrom(state, migrations, []);
    if (!status.upToDate) {
      throw databaseError(
        'MIGRATIONS_PENDING',
        `The database is not up to date (${status.pending.length} pending, ${status.unknown.length + status.edited.length + status.failed.length} in conflict).`,
        'Run `authctl migrate status` to see why, then `authctl migrate`.',
      );
    }
  } finally {
    db.close();
  }
}

/** A Prisma client on a database that is initialised and fully migrated. */
export async function openReadyClient(target: DatabaseTarget): Promise<AppClient> {
  if (target.provider === 'sqlite') assertSqliteReady(target.file);
  return openClient(target);
}
