import type { Db } from '../db/handle.js';
import type { SchemaInspector } from '../db/inspector.js';
import { BASELINE_MIGRATION, unknownSchemaError, type DatabaseState, type Migration, type MigrationStatus } from '../db/migrations.js';
import { asNumber, sql } from '../db/query.js';
import { stopIfInterrupted } from '../signals/interrupt.js';
import type { AppRowRepairs } from '../users/repairs.js';
import { assertHistoryMatches } from './history.js';
import { readStatus } from './status.js';

/** What init-db and migrate do to the schema. */
interface MigrationPlan {
  /** The app's tables are adopted: the baseline is recorded, not run. */
  adopt: boolean;
  apply: string[];
}

/** The row repairs for an audit summary; empty when there were none. */
export function repairSummary(repairs: AppRowRepairs): string {
  return [
    repairs.fullNamesSet ? `set the missing full name of ${repairs.fullNamesSet} user(s) to their username` : '',
    repairs.reservedAdmin ? 'kept a disabled placeholder named admin' : '',
  ]
    .filter(Boolean)
    .join('; ');
}

function planFor(db: Db, state: DatabaseState, status: MigrationStatus): MigrationPlan {
  if (state.kind === 'unknown') throw unknownSchemaError(state.problems);
  assertHistoryMatches(status, db.provider);
  if (state.kind === 'app-unmanaged') {
    return { adopt: true, apply: status.pending.filter((name) => name !== BASELINE_MIGRATION) };
  }
  return { adopt: false, apply: status.pending };
}

/**
 * Runs the plan with Prisma's engine. An existing SQLite database is backed up
 * next to itself first. The caller holds the migrate lock; the inspector is
 * closed here, because the engine takes an exclusive lock of its own.
 */
export async function applyPlan(
  db: Db,
  inspector: SchemaInspector,
  plan: MigrationPlan,
  migrations: Migration[],
  backupFirst: boolean,
  onBackup: (file: string) => void,
): Promise<string | null> {
  let backup: string | null = null;
  try {
    if (backupFirst) {
      backup = await inspector.backup();
      if (backup) onBackup(backup);
    }
    await stopIfInterrupted();
    if (plan.adopt) await inspector.createHistoryTable();
  } finally {
    await inspector.close();
  }
  const { openMigrationEngine, MigrationEngineError } = await import('../db/engine.js');
  try {
    const engine = await openMigrationEngine(db.target, migrations);
    try {
      // Each step commits on its own: the empty history table, the baseline
      // record, then each migration with its history row (see
      // atomicMigrations in engine.ts).
      if (plan.adopt) await engine.markApplied(BASELINE_MIGRATION);
      await stopIfInterrupted();
      await engine.applyMigrations();
    } finally {
      await engine.close();
    }
  } catch (err) {
    // The operator's hint names the copy this run made, and only that.
    if (err instanceof MigrationEngineError) err.backup = backup;
    if (plan.adopt) await dropEmptyHistory(db);
    throw err;
  }
  return backup;
}

/**
 * An adoption that failed before the baseline was recorded (the app held its
 * write lock too long, say) leaves the history table it created empty; it is
 * dropped again, so the database is as it was. Best effort: a rerun adopts a
 * database with an empty history table just the same.
 */
async function dropEmptyHistory(db: Db): Promise<void> {
  try {
    const conn = await db.sql();
    await conn.transaction(async (tx) => {
      const row = await tx.get<{ n: unknown }>(sql`SELECT count(*) AS n FROM _prisma_migrations`);
      if (asNumber(row?.n) === 0) await tx.run(sql`DROP TABLE _prisma_migrations`);
    });
  } catch {
    // Still locked, or already gone: the error that stopped the run is the one to report.
  }
}

/**
 * A migration that a stopped run (a crash, a kill, an older authctl) left
 * started and unfinished is settled by what the schema shows: applied whole,
 * it is marked finished; not applied at all, it is marked rolled back and
 * applied again. A schema that shows neither is left for the operator.
 * Returns whether anything was settled.
 */
async function settleInterrupted(inspector: SchemaInspector, { state, status }: { state: DatabaseState; status: MigrationStatus }): Promise<boolean> {
  if (state.kind !== 'managed' || status.failed.length === 0 || status.unknown.length > 0 || status.edited.length > 0) return false;
  const withThem = await inspector.drift([...status.applied, ...status.failed]);
  const without = await inspector.drift(status.applied);
  const appliedWhole = withThem.drift.length === 0;
  // Measured without them, a table they create would pass for one of the
  // app's own: it must not exist at all for "not applied".
  const notApplied = without.drift.length === 0 && without.appTables.every((t) => withThem.appTables.includes(t));
  // A migration that changes no schema looks the same either way: run it again.
  if (appliedWhole && !notApplied) {
    await inspector.settleInterrupted(status.failed, 'finished');
    return true;
  }
  if (notApplied) {
    await inspector.settleInterrupted(status.failed, 'rolled-back');
    return true;
  }
  return false;
}

/** Reads the state and plans; the inspector is closed if that fails. */
export async function readPlan(
  db: Db,
  inspector: SchemaInspector,
  migrations: Migration[],
  opts: { settle: boolean },
): Promise<{ state: DatabaseState; plan: MigrationPlan }> {
  try {
    let read = await readStatus(inspector, migrations);
    // Read again only when settling changed the history.
    if (opts.settle && (await settleInterrupted(inspector, read))) read = await readStatus(inspector, migrations);
    return { state: read.state, plan: planFor(db, read.state, read.status) };
  } catch (err) {
    await inspector.close();
    throw err;
  }
}
