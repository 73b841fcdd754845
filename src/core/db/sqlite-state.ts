import type { SqliteDb } from './sqlite.js';
import { compareShapes, describeSqlite, otherTables, shapeOfScripts, type SchemaComparison } from './shape.js';
import { BASELINE_MIGRATION, type DatabaseState, type Migration } from './migrations.js';

export function inspectSqliteState(db: SqliteDb, migrations: Migration[]): DatabaseState {
  const tables = db
    .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
    .pluck()
    .all() as string[];
  // An empty history is what an adoption stopped between creating the table
  // and recording the baseline leaves: the database is judged by its tables.
  const history = tables.includes('_prisma_migrations') ? (db.prepare('SELECT count(*) FROM _prisma_migrations').pluck().get() as number) : 0;
  if (history > 0) {
    const rows = db
      .prepare('SELECT migration_name, checksum, finished_at, rolled_back_at FROM _prisma_migrations ORDER BY started_at, migration_name')
      .all() as Array<{ migration_name: string; checksum: string; finished_at: string | null; rolled_back_at: string | null }>;
    return {
      kind: 'managed',
      applied: rows.map((r) => ({
        name: r.migration_name,
        checksum: r.checksum,
        finished: r.finished_at !== null,
        rolledBack: r.rolled_back_at !== null,
      })),
    };
  }
  if (tables.every((t) => t === '_prisma_migrations')) return { kind: 'empty' };
  const baseline = migrations.find((m) => m.name === BASELINE_MIGRATION);
  const expected = shapeOfScripts(baseline ? [baseline.script] : []);
  const actual = describeSqlite(db);
  const problems = compareShapes(expected, actual);
  return problems.length === 0 ? { kind: 'app-unmanaged', appTables: otherTables(expected, actual) } : { kind: 'unknown', problems };
}

/** Compares the live schema with what the applied migrations produce. */
export function sqliteDrift(db: SqliteDb, migrations: Migration[], appliedNames: string[]): SchemaComparison {
  const applied = new Set(appliedNames);
  const expected = shapeOfScripts(migrations.filter((m) => applied.has(m.name)).map((m) => m.script));
  const actual = describeSqlite(db);
  return { drift: compareShapes(expected, actual), appTables: otherTables(expected, actual) };
}

/**
 * Prisma's migration history table, exactly as its engine creates it on
 * SQLite. The engine records a baseline only into an existing table and will
 * not create one in a non-empty database, so adoption creates it first.
 */
export const PRISMA_MIGRATIONS_TABLE = `CREATE TABLE "_prisma_migrations" (
    "id"                    TEXT PRIMARY KEY NOT NULL,
    "checksum"              TEXT NOT NULL,
    "finished_at"           DATETIME,
    "migration_name"        TEXT NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        DATETIME,
    "started_at"            DATETIME NOT NULL DEFAULT current_timestamp,
    "applied_steps_count"   INTEGER UNSIGNED NOT NULL DEFAULT 0
)`;
