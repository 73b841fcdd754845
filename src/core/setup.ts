import fs from 'node:fs';
import type { DatabaseTarget } from './config.js';
import { writeAudit } from './audit.js';
import { conflict, databaseError } from './errors.js';
import { acquireJobLock } from './lock.js';
import { openClient } from './db/client.js';
import { openMigrationEngine } from './db/engine.js';
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
import { backupSqlite, createSqliteFile, openSqlite, requireParentFolder, sqliteFileExists, type SqliteDb } from './db/sqlite.js';
import { inspectSqliteState, PRISMA_MIGRATIONS_TABLE, sqliteDrift } from './db/sqlite-state.js';

/** How long a second `migrate` waits for the first before exiting busy. */
const MIGRATE_LOCK_WAIT_MS = 5000;

function requireSqlite(target: DatabaseTarget): asserts target is Extract<DatabaseTarget, { provider: 'sqlite' }> {
  if (target.provider !== 'sqlite') {
    throw databaseError(
      'PROVIDER_UNSUPPORTED',
      'PostgreSQL databases are not supported by this version of authctl yet.',
      "Point DATABASE_URL (or -d) at the app's SQLite file.",
    );
  }
}

function readStatus(db: SqliteDb, migrations: Migration[]): { state: DatabaseState; status: MigrationStatus } {
  const state = inspectSqliteState(db, migrations);
  const preliminary = statusFrom(state, migrations, []);
  const comparable = state.kind === 'managed' && preliminary.unknown.length === 0 && preliminary.failed.length === 0;
  const drift = comparable ? sqliteDrift(db, migrations, preliminary.applied) : [];
  return { state, status: statusFrom(state, migrations, drift) };
}

export async function getMigrationStatus(target: DatabaseTarget): Promise<MigrationStatus> {
  requireSqlite(target);
  const db = openSqlite(target.file, { readonly: true });
  try {
    return readStatus(db, loadMigrations('sqlite')).status;
  } finally {
    db.close();
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
 * Runs the plan with Prisma's engine. An existing database is backed up next to
 * itself first; the caller holds the migrate lock.
 */
async function applyPlan(
  target: Extract<DatabaseTarget, { provider: 'sqlite' }>,
  db: SqliteDb,
  plan: MigrationPlan,
  migrations: Migration[],
  backupFirst: boolean,
  onBackup: (file: string) => void,
): Promise<string | null> {
  let backup: string | null = null;
  if (backupFirst) {
    backup = await backupSqlite(db, target.file);
    onBackup(backup);
  }
  if (plan.adopt) db.exec(PRISMA_MIGRATIONS_TABLE);
  // The engine takes an exclusive lock on the file; let go of ours first.
  db.close();
  const engine = await openMigrationEngine(target, migrations);
  try {
    if (plan.adopt) await engine.markApplied(BASELINE_MIGRATION);
    await engine.applyMigrations();
  } finally {
    await engine.close();
  }
  return backup;
}

export async function migrateDatabase(
  target: DatabaseTarget,
  opts: { dryRun: boolean; onBackup?: (file: string) => void; command?: string },
): Promise<MigrateResult> {
  requireSqlite(target);
  const migrations = loadMigrations('sqlite');
  const lock = await acquireJobLock(target, 'migrate', MIGRATE_LOCK_WAIT_MS);
  try {
    const db = openSqlite(target.file);
    let closed = false;
    try {
      const { state, status } = readStatus(db, migrations);
      const plan = planFor(state, status);
      if (opts.dryRun || (plan.apply.length === 0 && !plan.adopt)) {
        return { ...plan, dryRun: opts.dryRun, backup: null };
      }
      closed = true;
      const backup = await applyPlan(target, db, plan, migrations, state.kind !== 'empty', opts.onBackup ?? (() => {}));
      const client = await openClient(target);
      try {
        await client.$transaction((tx) =>
          writeAudit(tx, {
            command: opts.command ?? 'migrate',
            target: target.file,
            summary: `${plan.adopt ? 'adopted the app schema; ' : ''}applied ${plan.apply.length} migration(s)`,
            details: { adopted: plan.adopt, applied: plan.apply, backup },
          }),
        );
      } finally {
        await client.$disconnect();
      }
      return { ...plan, dryRun: false, backup };
    } finally {
      if (!closed) db.close();
    }
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

function findActiveAdmin(db: SqliteDb): string | null {
  const hasUsers = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'users'").get();
  if (!hasUsers) return null;
  return (db.prepare('SELECT username FROM users WHERE is_admin = 1 AND is_active = 1 ORDER BY id LIMIT 1').pluck().get() as string) ?? null;
}

function removeSqliteFiles(file: string): void {
  for (const suffix of ['', '-journal', '-wal', '-shm']) fs.rmSync(file + suffix, { force: true });
}

/**
 * Creates (or completes) the database and its first admin. Every check and the
 * password come first, so a refusal changes nothing; a file this run created
 * is removed again if anything later fails.
 */
export async function initDatabase(target: DatabaseTarget, opts: InitOptions): Promise<InitResult> {
  requireSqlite(target);
  const migrations = loadMigrations('sqlite');
  const existed = sqliteFileExists(target.file);
  if (existed) {
    const db = openSqlite(target.file, { readonly: true });
    try {
      const { state, status } = readStatus(db, migrations);
      if (state.kind === 'unknown') throw unknownSchemaError(state.problems);
      const admin = findActiveAdmin(db);
      if (admin) return { status: 'already-initialised', admin, pendingMigrations: status.pending };
      if (state.kind !== 'empty') {
        const taken = (db.prepare('SELECT 1 FROM users WHERE username = ?').get(opts.adminUsername) as unknown) !== undefined;
        if (taken) {
          throw conflict(
            'USERNAME_TAKEN',
            `A user named "${opts.adminUsername}" exists but is not an active admin.`,
            'Choose another name with --admin-username.',
          );
        }
      }
    } finally {
      db.close();
    }
  } else {
    // A missing folder fails now, before the password is asked for.
    requireParentFolder(target.file);
  }

  const password = await opts.obtainPasswordHash();
  const lock = await acquireJobLock(target, 'migrate', MIGRATE_LOCK_WAIT_MS);
  let createdFile = false;
  try {
    if (!existed) {
      createSqliteFile(target.file);
      createdFile = true;
    }
    const db = openSqlite(target.file);
    const { state, status } = readStatus(db, migrations);
    let plan: MigrationPlan;
    try {
      plan = planFor(state, status);
    } catch (err) {
      db.close();
      throw err;
    }
    const backup =
      plan.apply.length > 0 || plan.adopt
        ? await applyPlan(target, db, plan, migrations, state.kind !== 'empty', opts.onBackup ?? (() => {}))
        : (db.close(), null);

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
    if (createdFile) removeSqliteFiles(target.file);
    throw err;
  } finally {
    await lock.release();
  }
}
