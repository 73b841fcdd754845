import fs from 'node:fs';
import type { DatabaseTarget } from '../config/config.js';
import { writeAudit } from '../audit/write.js';
import { conflict } from '../errors/errors.js';
import { acquireJobLock } from '../locks/job-lock.js';
import { stopIfInterrupted, withSignalsHeld } from '../signals/interrupt.js';
import { openInspector, type SchemaInspector } from '../db/inspector.js';
import {
  assertHistoryMatches,
  BASELINE_MIGRATION,
  loadMigrations,
  statusFrom,
  unknownSchemaError,
  type DatabaseState,
  type Migration,
  type MigrationStatus,
} from '../db/migrations.js';
import { createSqliteFile, requireParentFolder, sqliteFileExists } from '../db/sqlite.js';
import { findAppRowProblems, repairAppRows, type AppRowRepairs } from '../users/repairs.js';

/** How long a second `migrate` waits for the first before exiting busy. */
const MIGRATE_LOCK_WAIT_MS = 5000;

async function readStatus(inspector: SchemaInspector, migrations: Migration[]): Promise<{ state: DatabaseState; status: MigrationStatus }> {
  const state = await inspector.state();
  const preliminary = statusFrom(state, migrations);
  const comparable = state.kind === 'managed' && preliminary.unknown.length === 0 && preliminary.failed.length === 0;
  const comparison = comparable ? await inspector.drift(preliminary.applied) : undefined;
  return { state, status: statusFrom(state, migrations, comparison) };
}

export async function getMigrationStatus(target: DatabaseTarget): Promise<MigrationStatus> {
  const migrations = loadMigrations(target.provider);
  const inspector = await openInspector(target, migrations, { readonly: true });
  try {
    return (await readStatus(inspector, migrations)).status;
  } finally {
    await inspector.close();
  }
}

export interface MigrationPlan {
  /** The app's tables are adopted: the baseline is recorded, not run. */
  adopt: boolean;
  apply: string[];
}

export interface MigrateResult extends MigrationPlan {
  dryRun: boolean;
  backup: string | null;
  /** Rows the app could not serve, repaired in the transaction that writes the audit row (counted only in a dry run). */
  repairs: AppRowRepairs;
}

const NO_REPAIRS: AppRowRepairs = { fullNamesSet: 0, reservedAdmin: false };

function repairSummary(repairs: AppRowRepairs): string {
  return [
    repairs.fullNamesSet ? `set the missing full name of ${repairs.fullNamesSet} user(s) to their username` : '',
    repairs.reservedAdmin ? 'kept a disabled placeholder named admin' : '',
  ]
    .filter(Boolean)
    .join('; ');
}

function planFor(state: DatabaseState, status: MigrationStatus): MigrationPlan {
  if (state.kind === 'unknown') throw unknownSchemaError(state.problems);
  assertHistoryMatches(status);
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
async function applyPlan(
  target: DatabaseTarget,
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
    stopIfInterrupted();
    if (plan.adopt) await inspector.createHistoryTable();
  } finally {
    await inspector.close();
  }
  const { openMigrationEngine } = await import('../db/engine.js');
  const engine = await openMigrationEngine(target, migrations);
  try {
    // Each step commits on its own: the empty history table (an adoption
    // stopped here is adopted again), the baseline record, then each
    // migration with its history row (see atomicMigrations in engine.ts).
    if (plan.adopt) await engine.markApplied(BASELINE_MIGRATION);
    stopIfInterrupted();
    await engine.applyMigrations();
  } finally {
    await engine.close();
  }
  return backup;
}

/**
 * A migration that a stopped run (a crash, a kill, an older authctl) left
 * started and unfinished is settled by what the schema shows: applied whole,
 * it is marked finished; not applied at all, it is marked rolled back and
 * applied again. A schema that shows neither is left for the operator.
 */
async function settleInterrupted(inspector: SchemaInspector, { state, status }: { state: DatabaseState; status: MigrationStatus }): Promise<string[]> {
  if (state.kind !== 'managed' || status.failed.length === 0 || status.unknown.length > 0 || status.edited.length > 0) return [];
  const withThem = await inspector.drift([...status.applied, ...status.failed]);
  const without = await inspector.drift(status.applied);
  const appliedWhole = withThem.drift.length === 0;
  // Measured without them, a table they create would pass for one of the
  // app's own: it must not exist at all for "not applied".
  const notApplied = without.drift.length === 0 && without.appTables.every((t) => withThem.appTables.includes(t));
  // A migration that changes no schema looks the same either way: run it again.
  if (appliedWhole && !notApplied) {
    await inspector.settleInterrupted(status.failed, 'finished');
    return status.failed;
  }
  if (notApplied) {
    await inspector.settleInterrupted(status.failed, 'rolled-back');
    return status.failed;
  }
  return [];
}

/** Reads the state and plans; the inspector is closed if that fails. */
async function readPlan(inspector: SchemaInspector, migrations: Migration[], opts: { settle: boolean }): Promise<{ state: DatabaseState; plan: MigrationPlan }> {
  try {
    let read = await readStatus(inspector, migrations);
    // Read again only when settling changed the history.
    if (opts.settle && (await settleInterrupted(inspector, read)).length > 0) read = await readStatus(inspector, migrations);
    return { state: read.state, plan: planFor(read.state, read.status) };
  } catch (err) {
    await inspector.close();
    throw err;
  }
}

export async function migrateDatabase(
  target: DatabaseTarget,
  opts: { dryRun: boolean; onBackup?: (file: string) => void },
): Promise<MigrateResult> {
  const migrations = loadMigrations(target.provider);
  const lock = await acquireJobLock(target, 'migrate', MIGRATE_LOCK_WAIT_MS);
  try {
    return await withSignalsHeld(() => migrateLocked(target, migrations, opts));
  } finally {
    await lock.release();
  }
}

async function migrateLocked(target: DatabaseTarget, migrations: Migration[], opts: { dryRun: boolean; onBackup?: (file: string) => void }): Promise<MigrateResult> {
  const inspector = await openInspector(target, migrations, { readonly: false });
  const { state, plan } = await readPlan(inspector, migrations, { settle: !opts.dryRun });
  const changesSchema = plan.apply.length > 0 || plan.adopt;
  let backup: string | null = null;
  if (opts.dryRun || !changesSchema) await inspector.close();
  else backup = await applyPlan(target, inspector, plan, migrations, state.kind !== 'empty', opts.onBackup ?? (() => {}));
  // A dry run on an empty database has no app rows to look at yet.
  if (opts.dryRun && state.kind === 'empty') return { ...plan, dryRun: true, backup: null, repairs: NO_REPAIRS };

  const { openClient } = await import('../db/client.js');
  const client = await openClient(target);
  try {
    if (opts.dryRun) {
      const found = await findAppRowProblems(client);
      return { ...plan, dryRun: true, backup: null, repairs: { fullNamesSet: found.nullFullNames.length, reservedAdmin: found.adminNameFree } };
    }
    // Not a stopping point: this transaction records the schema steps just taken.
    const repairs = await client.$transaction(async (tx) => {
      const done = await repairAppRows(tx);
      if (changesSchema || done.fullNamesSet > 0 || done.reservedAdmin) {
        const repaired = repairSummary(done);
        await writeAudit(tx, {
          command: 'migrate',
          target: target.display,
          summary: [changesSchema ? `${plan.adopt ? 'adopted the app schema; ' : ''}applied ${plan.apply.length} migration(s)` : '', repaired]
            .filter(Boolean)
            .join('; '),
          details: { adopted: plan.adopt, applied: plan.apply, backup, fullNamesSet: done.fullNamesSet, reservedAdmin: done.reservedAdmin },
        });
      }
      return done;
    });
    return { ...plan, dryRun: false, backup, repairs };
  } finally {
    await client.$disconnect();
  }
}

export interface InitOptions {
  adminUsername: string;
  /** Asked only when an admin has to be created, before anything changes. */
  obtainPasswordHash: () => Promise<{ hash: string; generated: string | null; weakAllowed: boolean }>;
  onBackup?: (file: string) => void;
}

export type InitResult =
  | { status: 'already-initialised'; admin: string; pendingMigrations: string[] }
  | {
      status: 'initialised';
      created: boolean;
      adopted: boolean;
      applied: string[];
      backup: string | null;
      admin: string;
      generatedPassword: string | null;
      repairs: AppRowRepairs;
    };

function removeSqliteFiles(file: string): void {
  for (const suffix of ['', '-journal', '-wal', '-shm']) fs.rmSync(file + suffix, { force: true });
}

/** Reads what init-db must know before it asks for a password; changes nothing. */
async function preflight(target: DatabaseTarget, migrations: Migration[], adminUsername: string): Promise<InitResult | null> {
  const inspector = await openInspector(target, migrations, { readonly: true });
  try {
    const { state, status } = await readStatus(inspector, migrations);
    if (state.kind === 'unknown') throw unknownSchemaError(state.problems);
    const admin = await inspector.activeAdmin();
    if (admin) return { status: 'already-initialised', admin, pendingMigrations: status.pending };
    if (await inspector.usernameTaken(adminUsername)) {
      throw conflict('USERNAME_TAKEN', `A user named "${adminUsername}" exists but is not an active admin.`, 'Choose another name with --admin-username.');
    }
    return null;
  } finally {
    await inspector.close();
  }
}

/**
 * Creates (or completes) the database and its first admin. Every check and the
 * password come first, so a refusal changes nothing; a SQLite file this run
 * created is removed again if anything later fails.
 */
export async function initDatabase(target: DatabaseTarget, opts: InitOptions): Promise<InitResult> {
  const migrations = loadMigrations(target.provider);
  let existed = true;
  if (target.provider === 'sqlite') {
    existed = sqliteFileExists(target.file);
    // A missing folder fails now, before the password is asked for.
    if (!existed) requireParentFolder(target.file);
  } else {
    const { ensurePgDatabase } = await import('../db/pg.js');
    existed = !(await ensurePgDatabase(target.url));
  }
  if (existed) {
    const early = await preflight(target, migrations, opts.adminUsername);
    if (early) return early;
  }

  const password = await opts.obtainPasswordHash();
  const lock = await acquireJobLock(target, 'migrate', MIGRATE_LOCK_WAIT_MS);
  let createdFile = false;
  try {
    // Ctrl+C and SIGTERM wait for the step in progress, so the file is
    // never left half-made; a file this run created is then removed.
    return await withSignalsHeld(async () => {
      if (target.provider === 'sqlite' && !existed) {
        createSqliteFile(target.file);
        createdFile = true;
      }
      const inspector = await openInspector(target, migrations, { readonly: false });
      const { state, plan } = await readPlan(inspector, migrations, { settle: true });
      let backup: string | null = null;
      if (plan.apply.length > 0 || plan.adopt) {
        backup = await applyPlan(target, inspector, plan, migrations, state.kind !== 'empty', opts.onBackup ?? (() => {}));
      } else {
        await inspector.close();
      }
      // A Ctrl+C so far removes the file this run created (below).
      stopIfInterrupted();
      const { openClient } = await import('../db/client.js');
      const client = await openClient(target);
      let repairs: AppRowRepairs;
      try {
        repairs = await client.$transaction(async (tx) => {
          const now = new Date();
          await tx.user.create({
            data: {
              username: opts.adminUsername,
              passwordHash: password.hash,
              fullName: 'Administrator',
              isAdmin: true,
              isActive: true,
              createdAt: now,
              updatedAt: now,
            },
          });
          // An admin named otherwise leaves the name `admin` free, and the
          // app would seed admin/admin at its next start.
          const done = await repairAppRows(tx);
          const repaired = repairSummary(done);
          await writeAudit(tx, {
            command: 'init-db',
            target: opts.adminUsername,
            summary: `initialised the database and created admin ${opts.adminUsername}${repaired ? `; ${repaired}` : ''}`,
            details: {
              fullNamesSet: done.fullNamesSet,
              reservedAdmin: done.reservedAdmin,
              adopted: plan.adopt,
              applied: plan.apply,
              backup,
              passwordGenerated: password.generated !== null,
              weakPasswordAllowed: password.weakAllowed,
            },
          });
          return done;
        });
      } finally {
        await client.$disconnect();
      }
      return {
        status: 'initialised',
        created: !existed,
        adopted: plan.adopt,
        applied: plan.apply,
        backup,
        admin: opts.adminUsername,
        generatedPassword: password.generated,
        repairs,
      };
    });
  } catch (err) {
    if (createdFile && target.provider === 'sqlite') removeSqliteFiles(target.file);
    throw err;
  } finally {
    await lock.release();
  }
}
