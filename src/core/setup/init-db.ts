import fs from 'node:fs';
import type { Db } from '../db/handle.js';
import { openInspector } from '../db/inspector.js';
import { loadMigrations, unknownSchemaError, type Migration } from '../db/migrations.js';
import { createSqliteFile, requireParentFolder, sqliteFileExists } from '../db/sqlite.js';
import { conflict } from '../errors/errors.js';
import { acquireJobLock } from '../locks/job-lock.js';
import { stopIfInterrupted, withSignalsHeld } from '../signals/interrupt.js';
import { createUser } from '../users/create.js';
import { repairAppRows, type AppRowRepairs } from '../users/repairs.js';
import { MIGRATE_LOCK } from './lock.js';
import { applyPlan, readPlan, repairSummary } from './plan.js';
import { readStatus } from './status.js';

interface InitOptions {
  adminUsername: string;
  /** Asked only when an admin has to be created, before anything changes. */
  obtainPasswordHash: () => Promise<{ hash: string; generated: string | null; weakAllowed: boolean }>;
  onBackup: (file: string) => void;
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
async function preflight(db: Db, migrations: Migration[], adminUsername: string): Promise<InitResult | null> {
  const inspector = await openInspector(db.target, migrations, { readonly: true });
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
 *
 * The migrate lock is taken here, after the password, not around the whole
 * command: a second run must not wait on someone typing a password.
 */
export async function initDatabase(db: Db, opts: InitOptions): Promise<InitResult> {
  const { target } = db;
  const migrations = loadMigrations(db.provider);
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
    const early = await preflight(db, migrations, opts.adminUsername);
    if (early) return early;
  }

  const password = await opts.obtainPasswordHash();
  const lock = await acquireJobLock(target, MIGRATE_LOCK.job, MIGRATE_LOCK.waitMs);
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
      const { state, plan } = await readPlan(db, inspector, migrations, { settle: true });
      let backup: string | null = null;
      if (plan.apply.length > 0 || plan.adopt) {
        backup = await applyPlan(db, inspector, plan, migrations, state.kind !== 'empty', opts.onBackup);
      } else {
        await inspector.close();
      }
      // A Ctrl+C so far removes the file this run created (below).
      stopIfInterrupted();
      // Opened after the schema engine has finished, so it sees the migrated schema.
      const conn = await db.sql();
      const repairs = await conn.transaction(async (tx) => {
        let done!: AppRowRepairs;
        await createUser(
          tx,
          { username: opts.adminUsername, email: null, fullName: 'Administrator', passwordHash: password.hash, isAdmin: true },
          async () => {
            // An admin named otherwise leaves the name `admin` free, and the
            // app would seed admin/admin at its next start.
            done = await repairAppRows(tx);
            const repaired = repairSummary(done);
            return {
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
            };
          },
        );
        return done;
      });
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
    if (createdFile && target.provider === 'sqlite') {
      // Nothing may keep the file open while it goes.
      await db.close();
      removeSqliteFiles(target.file);
    }
    throw err;
  } finally {
    await lock.release();
  }
}
