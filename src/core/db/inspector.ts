import type { DatabaseTarget } from '../config.js';
import { BASELINE_MIGRATION, type AppliedMigration, type DatabaseState, type Migration } from './migrations.js';
import { compareShapes } from './shape.js';
import { backupSqlite, openSqlite, type SqliteDb } from './sqlite.js';
import { inspectSqliteState, PRISMA_MIGRATIONS_TABLE, sqliteDrift } from './sqlite-state.js';

/**
 * What setup (init-db, migrate, migrate status) needs to know about a
 * database before Prisma's engine touches it, one implementation per provider.
 */
export interface SchemaInspector {
  state(): Promise<DatabaseState>;
  /** How the live schema differs from what the applied migrations produce. */
  drift(appliedNames: string[]): Promise<string[]>;
  activeAdmin(): Promise<string | null>;
  usernameTaken(username: string): Promise<boolean>;
  /** A copy of the database next to itself where the provider allows it; null otherwise. */
  backup(): Promise<string | null>;
  /** Prisma's history table, created for a baseline (the engine records only into an existing one). */
  createHistoryTable(): Promise<void>;
  close(): Promise<void>;
}

class SqliteInspector implements SchemaInspector {
  constructor(
    private readonly db: SqliteDb,
    private readonly file: string,
    private readonly migrations: Migration[],
  ) {}

  async state() {
    return inspectSqliteState(this.db, this.migrations);
  }

  async drift(appliedNames: string[]) {
    return sqliteDrift(this.db, this.migrations, appliedNames);
  }

  private hasUsers(): boolean {
    return this.db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'users'").get() !== undefined;
  }

  async activeAdmin() {
    if (!this.hasUsers()) return null;
    return (this.db.prepare('SELECT username FROM users WHERE is_admin = 1 AND is_active = 1 ORDER BY id LIMIT 1').pluck().get() as string) ?? null;
  }

  async usernameTaken(username: string) {
    return this.hasUsers() && this.db.prepare('SELECT 1 FROM users WHERE username = ?').get(username) !== undefined;
  }

  async backup() {
    return backupSqlite(this.db, this.file);
  }

  async createHistoryTable() {
    this.db.exec(PRISMA_MIGRATIONS_TABLE);
  }

  async close() {
    if (this.db.open) this.db.close();
  }
}

/** Prisma's history table on PostgreSQL, exactly as its engine creates it. */
const PG_PRISMA_MIGRATIONS_TABLE = `CREATE TABLE "_prisma_migrations" (
    "id"                    VARCHAR(36) PRIMARY KEY NOT NULL,
    "checksum"              VARCHAR(64) NOT NULL,
    "finished_at"           TIMESTAMPTZ,
    "migration_name"        VARCHAR(255) NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        TIMESTAMPTZ,
    "started_at"            TIMESTAMPTZ NOT NULL DEFAULT now(),
    "applied_steps_count"   INTEGER NOT NULL DEFAULT 0
)`;

async function openPgInspector(url: string, migrations: Migration[]): Promise<SchemaInspector> {
  const { connectPg, describePg, pgShapeOfScripts } = await import('./pg.js');
  const client = await connectPg(url);
  const schema = (await client.query<{ s: string }>('SELECT current_schema() AS s')).rows[0]!.s;
  const tables = async () =>
    (await client.query<{ t: string }>("SELECT tablename AS t FROM pg_tables WHERE schemaname = $1", [schema])).rows.map((r) => r.t);
  const hasUsers = async () => (await tables()).includes('users');
  return {
    async state(): Promise<DatabaseState> {
      const names = await tables();
      if (names.includes('_prisma_migrations')) {
        const rows = await client.query<{ migration_name: string; checksum: string; finished_at: Date | null; rolled_back_at: Date | null }>(
          'SELECT migration_name, checksum, finished_at, rolled_back_at FROM _prisma_migrations ORDER BY started_at, migration_name',
        );
        const applied: AppliedMigration[] = rows.rows.map((r) => ({
          name: r.migration_name,
          checksum: r.checksum,
          finished: r.finished_at !== null,
          rolledBack: r.rolled_back_at !== null,
        }));
        return { kind: 'managed', applied };
      }
      if (names.length === 0) return { kind: 'empty' };
      const baseline = migrations.find((m) => m.name === BASELINE_MIGRATION);
      const problems = compareShapes(await pgShapeOfScripts(client, baseline ? [baseline.script] : []), await describePg(client, schema));
      return problems.length === 0 ? { kind: 'app-unmanaged' } : { kind: 'unknown', problems };
    },
    async drift(appliedNames: string[]) {
      const applied = new Set(appliedNames);
      const expected = await pgShapeOfScripts(client, migrations.filter((m) => applied.has(m.name)).map((m) => m.script));
      return compareShapes(expected, await describePg(client, schema));
    },
    async activeAdmin() {
      if (!(await hasUsers())) return null;
      return (await client.query<{ username: string }>('SELECT username FROM users WHERE is_admin AND is_active ORDER BY id LIMIT 1')).rows[0]?.username ?? null;
    },
    async usernameTaken(username: string) {
      return (await hasUsers()) && (await client.query('SELECT 1 FROM users WHERE username = $1', [username])).rowCount! > 0;
    },
    async backup() {
      return null;
    },
    async createHistoryTable() {
      await client.query(PG_PRISMA_MIGRATIONS_TABLE);
    },
    async close() {
      await client.end().catch(() => {});
    },
  };
}

export async function openInspector(target: DatabaseTarget, migrations: Migration[], opts: { readonly: boolean }): Promise<SchemaInspector> {
  if (target.provider === 'sqlite') return new SqliteInspector(openSqlite(target.file, { readonly: opts.readonly }), target.file, migrations);
  return openPgInspector(target.url, migrations);
}

