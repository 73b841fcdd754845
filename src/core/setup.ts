import fs from 'node:fs';
import type { DatabaseTarget } from './config.js';
import { writeAudit } from './audit.js';
import { conflict } from './errors.js';
import { acquireJobLock } from './lock.js';
import { openInspector, type SchemaInspector } from './db/inspector.js';
import {
  assertHistoryMatches,
  BASELINE_MIGRATION,
  loadMigrations,
  statusFrom,
  unknownSchemaError,
  type DatabaseState,
  type Migration,
  type MigrationStatus,
} from './db/migrations.js';
import { createSqliteFile, requireParentFolder, sqliteFileExists } from './db/sqlite.js';

/** How long a second `migrate` waits for the first before exiting busy. */
const MIGRATE_LOCK_WAIT_MS = 5000;

async function readStatus(inspector: SchemaInspector, migrations: Migration[]): Promise<{ state: DatabaseState; status: MigrationStatus }> {
  const state = await inspector.state();
  const preliminary = statusFrom(state, migrations, []);
  const comparable = state.kind === 'managed' && preliminary.unknown.length === 0 && preliminary.failed.length === 0;
  const drift = comparable ? await inspector.drift(preliminary.applied) : [];
  return { state, status: statusFrom(state, migrations, drift) };
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
    if (plan.adopt) await inspector.createHistoryTable();
  } finally {
    await inspector.close();
  }
  const { openMigrationEngine } = await import('./db/engine.js');
  const engine = await openMigrationEngine(target, migrations);
  try {
    if (plan.adopt) await engine.markApplied(BASELINE_MIGRATION);
    await engine.applyMigrations();
  } finally {
    await engine.close();
  }
  return backup;
}

/** Reads the state and plans; the inspector is closed if that fails. */
async function readPlan(inspector: SchemaInspector, migrations: Migration[]): Promise<{ state: DatabaseState; plan: MigrationPlan }> {
  try {
    const { state, status } = await readStatus(inspector, migrations);
    return { state, plan: planFor(state, status) };
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
    const inspector = await openInspector(target, migrations, { readonly: false });
    const { state, plan } = await readPlan(inspector, migrations);
    if (opts.dryRun || (plan.apply.length === 0 && !plan.adopt)) {
      await inspector.close();
      return { ...plan, dryRun: opts.dryRun, backup: null };
    }
    const backup = await applyPlan(target, inspector, plan, migrations, state.kind !== 'empty', opts.onBackup ?? (() => {}));
    const { openClient } = await import('./db/client.js');
    const client = await openClient(target);
    try {
      await client.$transaction((tx) =>
        writeAudit(tx, {
          command: 'migrate',
          target: target.display,
          summary: `${plan.adopt ? 'adopted the app schema; ' : ''}applied ${plan.apply.length} migration(s)`,
          details: { adopted: plan.adopt, applied: plan.apply, backup },
        }),
      );
    } finally {
      await client.$disconnect();
    }
    return { ...plan, dryRun: false, backup };
  } finally {
    await lock.release();
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
    const { ensurePgDatabase } = await import('./db/pg.js');
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
    if (target.provider === 'sqlite' && !existed) {
      createSqliteFile(target.file);
      createdFile = true;
    }
    const inspector = await openInspector(target, migrations, { readonly: false });
    const { state, plan } = await readPlan(inspector, migrations);
    let backup: string | null = null;
    if (plan.apply.length > 0 || plan.adopt) {
      backup = await applyPlan(target, inspector, plan, migrations, state.kind !== 'empty', opts.onBackup ?? (() => {}));
    } else {
      await inspector.close();
    }

    const { openClient } = await import('./db/client.js');
    const client = await openClient(target);
    try {
      await client.$transaction(async (tx) => {
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
        await writeAudit(tx, {
          command: 'init-db',
          target: opts.adminUsername,
          summary: `initialised the database and created admin ${opts.adminUsername}`,
          details: {
            adopted: plan.adopt,
            applied: plan.apply,
            backup,
            passwordGenerated: password.generated !== null,
            weakPasswordAllowed: password.weakAllowed,
          },
        });
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
    };
  } catch (err) {
    if (createdFile && target.provider === 'sqlite') removeSqliteFiles(target.file);
    throw err;
  } finally {
    await lock.release();
  }
}
