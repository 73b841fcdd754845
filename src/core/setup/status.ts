import type { Db } from '../db/handle.js';
import { openInspector, type SchemaInspector } from '../db/inspector.js';
import { loadMigrations, statusFrom, type DatabaseState, type Migration, type MigrationStatus } from '../db/migrations.js';

/** The state and the full status, drift included when the history allows comparing. */
export async function readStatus(inspector: SchemaInspector, migrations: Migration[]): Promise<{ state: DatabaseState; status: MigrationStatus }> {
  const state = await inspector.state();
  const preliminary = statusFrom(state, migrations);
  const comparable = state.kind === 'managed' && preliminary.unknown.length === 0 && preliminary.failed.length === 0;
  const comparison = comparable ? await inspector.drift(preliminary.applied) : undefined;
  return { state, status: statusFrom(state, migrations, comparison) };
}

/** What `migrate status` and doctor report; changes nothing. */
export async function getMigrationStatus(db: Db): Promise<MigrationStatus> {
  const migrations = loadMigrations(db.provider);
  const inspector = await openInspector(db.target, migrations, { readonly: true });
  try {
    return (await readStatus(inspector, migrations)).status;
  } finally {
    await inspector.close();
  }
}
