import { databaseError } from '../errors/errors.js';
import type { Db } from './handle.js';
import { inspectorOn } from './inspector.js';
import { loadMigrations, statusFrom, type DatabaseState, type Migration } from './migrations.js';

/**
 * Refuses, with exit 5 and the next step, a database that authctl cannot work
 * on yet: missing, created by the app but not adopted, or with migrations
 * pending. A cheap check of the history table; `migrate status` does the full one.
 */
export async function assertReady(db: Db): Promise<void> {
  const migrations = loadMigrations(db.provider);
  const inspector = await inspectorOn(await db.sql(), null, migrations);
  try {
    readinessError(await inspector.state(), migrations);
  } finally {
    await inspector.close();
  }
}

function readinessError(state: DatabaseState, migrations: Migration[]): void {
  if (state.kind === 'empty') {
    throw databaseError('NOT_INITIALISED', 'The database is empty.', 'Run `authctl init-db` to create the schema and the first admin.');
  }
  if (state.kind === 'app-unmanaged') {
    throw databaseError(
      'NOT_MIGRATED',
      'This database was created by the app and authctl has not adopted it yet.',
      'Run `authctl migrate` once; it keeps every row (and backs a SQLite file up first).',
    );
  }
  if (state.kind === 'unknown') {
    throw databaseError('UNKNOWN_SCHEMA', 'This is not a GPUStack UI database.', 'Check DATABASE_URL (or -d).');
  }
  const status = statusFrom(state, migrations);
  if (!status.upToDate) {
    throw databaseError(
      'MIGRATIONS_PENDING',
      `The database is not up to date (${status.pending.length} pending, ${status.unknown.length + status.edited.length + status.failed.length} in conflict).`,
      'Run `authctl migrate status` to see why, then `authctl migrate`.',
    );
  }
}
