import type pg from 'pg';
import type { DatabaseTarget } from '../config/config.js';
import type { RawConnection } from './query.js';
import { BASELINE_MIGRATION, type AppliedMigration, type DatabaseState, type Migration } from './migrations.js';
import { compareShapes, otherTables, type SchemaComparison } from './shape.js';
import { backupSqlite, openSqlite, type SqliteDb } from './sqlite.js';
import { inspectSqliteState, PRISMA_MIGRATIONS_TABLE, sqliteDrift } from './sqlite-state.js';

/**
 * What setup (init-db, migrate, migrate status) needs to know about a
 * database before Prisma's engine touches it, one implementation per provider.
 */
export interface SchemaInspector {
  state(): Promise<DatabaseState>;
  /** How the live schema differs from what the applied migrations produce, and which tables are the app's own. */
  drift(appliedNames: string[]): Promise<SchemaComparison>;
  activeAdmin(): Promise<string | null>;
  usernameTaken(username: string): Promise<boolean>;
  /** A copy of the database next to itself where the provider allows it; null otherwise. */
  backup(): Promise<string | null>;
  /** Prisma's history table, created for a baseline (the engine records only into an existing one). */
  createHistoryTable(): Promise<void>;
  /**
   * Settles migrations that were started and never finished: `finished` when
   * the schema shows they were applied whole, `rolled-back` when it shows they
   * never took effect (the engine then applies them again).
   */
  settleInterrupted(names: string[], outcome: 'finished' | 'rolled-back'): Promise<void>;
  close(): Promise<void>;
}

class SqliteInspector implements SchemaInspector {
  constructor(
    private readonly db: SqliteDb,
    private readonly file: string,
    private readonly migrations: Migration[],
    private readonly owned = true,
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
    const exists = this.db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_prisma_migrations'").get();
    if (!exists) this.db.exec(PRISMA_MIGRATIONS_TABLE);
  }

  async settleInterrupted(names: string[], outcome: 'finished' | 'rolled-back') {
    // Prisma's engine writes these columns as ISO text on SQLite.
    const now = new Date().toISOString().replace('Z', '+00:00');
    const set = outcome === 'finished' ? 'finished_at = ?, applied_steps_count = 1' : 'rolled_back_at = ?';
    const stmt = this.db.prepare(`UPDATE _prisma_migrations SET ${set} WHERE migration_name = ? AND finished_at IS NULL AND rolled_back_at IS NULL`);
    this.db.transaction(() => {
      for (const name of names) stmt.run(now, name);
    })();
  }

  async close() {
    if (this.owned && this.db.open) this.db.close();
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

async function pgInspector(client: pg.Client, migrations: Migration[], owned: boolean): Promise<SchemaInspector> {
  const { describePg, pgShapeOfScripts } = await import('./pg.js');
  const schema = (await client.query<{ s: string }>('SELECT current_schema() AS s')).rows[0]!.s;
  const tables = async () =>
    (await client.query<{ t: string }>("SELECT tablename AS t FROM pg_tables WHERE schemaname = $1", [schema])).rows.map((r) => r.t);
  const hasUsers = async () => (await tables()).includes('users');
  return {
    async state(): Promise<DatabaseState> {
      const names = await tables();
      // An empty history is what an adoption stopped between creating the
      // table and recording the baseline leaves: judge by the tables.
      const history = names.includes('_prisma_migrations') ? Number((await client.query<{ n: string }>('SELECT count(*) AS n FROM _prisma_migrations')).rows[0]!.n) : 0;
      if (history > 0) {
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
      if (names.every((t) => t === '_prisma_migrations')) return { kind: 'empty' };
      const baseline = migrations.find((m) => m.name === BASELINE_MIGRATION);
      const expected = await pgShapeOfScripts(client, baseline ? [baseline.script] : []);
      const actual = await describePg(client, schema);
      const problems = compareShapes(expected, actual);
      return problems.length === 0 ? { kind: 'app-unmanaged', appTables: otherTables(expected, actual) } : { kind: 'unknown', problems };
    },
    async drift(appliedNames: string[]) {
      const applied = new Set(appliedNames);
      const expected = await pgShapeOfScripts(client, migrations.filter((m) => applied.has(m.name)).map((m) => m.script));
      const actual = await describePg(client, schema);
      return { drift: compareShapes(expected, actual), appTables: otherTables(expected, actual) };
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
    async settleInterrupted(names: string[], outcome: 'finished' | 'rolled-back') {
      const set = outcome === 'finished' ? 'finished_at = now(), applied_steps_count = 1' : 'rolled_back_at = now()';
      await client.query(`UPDATE _prisma_migrations SET ${set} WHERE migration_name = ANY($1::text[]) AND finished_at IS NULL AND rolled_back_at IS NULL`, [names]);
    },
    async createHistoryTable() {
      if (!(await tables()).includes('_prisma_migrations')) await client.query(PG_PRISMA_MIGRATIONS_TABLE);
    },
    async close() {
      if (owned) await client.end().catch(() => {});
    },
  };
}

export async function openInspector(target: DatabaseTarget, migrations: Migration[], opts: { readonly: boolean }): Promise<SchemaInspector> {
  if (target.provider === 'sqlite') return new SqliteInspector(openSqlite(target.file, { readonly: opts.readonly }), target.file, migrations);
  const { connectPg } = await import('./pg.js');
  return pgInspector(await connectPg(target.url), migrations, true);
}

/** An inspector on a connection someone else owns: closing it leaves the connection open. */
export async function inspectorOn(conn: RawConnection, file: string | null, migrations: Migration[]): Promise<SchemaInspector> {
  if (conn.provider === 'sqlite') {
    return new SqliteInspector(conn.sqlite, file ?? '', migrations, false);
  }
  return pgInspector(conn.pg, migrations, false);
}

