import fs from 'node:fs';
import type { Db } from '../db/handle.js';
import { openInspector } from '../db/inspector.js';
import { loadMigrations, unknownSchemaError, type Migration } from '../db/migrations.js';
import { createSqliteFile, present, requireParentFolder, sqliteFileExists } from '../db/sqlite.js';
import { assertSqliteWritable } from '../db/writable.js';
import { AuthctlError, busy, conflict, databaseError, refused } from '../errors/errors.js';
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

/**
 * Refuses a path where init-db cannot create a file: a symbolic link to a
 * file that does not exist (the file is never created through a link), a
 * folder, or anything else that is not a regular file. Nothing at all there
 * passes.
 */
function requireNothingAt(file: string): void {
  let entry: fs.Stats;
  try {
    entry = fs.lstatSync(file);
  } catch {
    return;
  }
  if (entry.isSymbolicLink()) {
    let points = '';
    try {
      points = ` to ${fs.readlinkSync(file)}`;
    } catch {
      // Named without its target.
    }
    throw databaseError(
      'DATABASE_DANGLING_LINK',
      `${file} is a symbolic link${points}, which does not exist; init-db does not create a database through a link.`,
      'Point DATABASE_URL (or -d) at the real path, or create the file the link points to (`touch` it: init-db then initialises the empty file), or remove the link.',
    );
  }
  throw databaseError(
    'DATABASE_NOT_A_FILE',
    `${file} exists but is ${entry.isDirectory() ? 'a folder' : 'not a regular file'}, so it cannot hold the database.`,
    'Point DATABASE_URL (or -d) at a file path.',
  );
}

/** Another init-db (or the app) created the file while this one waited for the migrate lock. */
function createdMeanwhile(file: string): AuthctlError {
  return busy(
    `Another run created ${file} while this init-db was waiting for it; nothing was changed by this run.`,
    'Run `authctl init-db` again: it reports the admin the other run created, or completes the database.',
  );
}

/** Another init-db made an active admin between this run's checks and its lock (PostgreSQL, or a SQLite file that existed). */
function initialisedMeanwhile(admin: string): AuthctlError {
  return busy(
    `Another run initialised the database while this init-db was waiting for it (active admin "${admin}"); nothing was changed by this run.`,
    'Run `authctl init-db` again to see what the other run made, or `authctl user list` to check the admins.',
  );
}

/** Creates the SQLite file; one that appeared since the first look is another run's. */
function createDatabaseFile(file: string): void {
  if (present(file)) throw createdMeanwhile(file);
  try {
    createSqliteFile(file);
  } catch (err) {
    if (err instanceof AuthctlError && err.code === 'DATABASE_CREATE_FAILED' && present(file)) throw createdMeanwhile(file);
    throw err;
  }
}

/**
 * An empty file init-db takes over (`touch`ed for it, say) is made 0600 like
 * one it creates, before anything is written to it. A file owned by another
 * user keeps its mode: only its owner may change it.
 */
function restrictEmptyFile(file: string): void {
  try {
    const stat = fs.statSync(file);
    if (stat.size === 0 && (stat.mode & 0o077) !== 0) fs.chmodSync(file, stat.mode & 0o700);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') throw err;
  }
}

/**
 * An empty file that every user may read or write, and that this user cannot
 * make private (it belongs to someone else): the admin's hash would go into
 * it for anyone to read, or to replace. Refused before the password. A file
 * shared with a group (0660, a group the database's users share) is a
 * deliberate set-up and passes.
 */
function refuseExposedEmptyFile(file: string): void {
  const stat = fs.statSync(file);
  const uid = process.getuid?.();
  if (stat.size !== 0 || (stat.mode & 0o007) === 0 || uid === undefined || uid === 0 || stat.uid === uid) return;
  throw refused(
    'DATABASE_FILE_EXPOSED',
    `${file} is readable or writable by every user (mode ${(stat.mode & 0o777).toString(8).padStart(4, '0')}) and belongs to uid ${stat.uid}, so authctl cannot make it private; the admin's password hash would be stored in it.`,
    "Ask its owner (or root) to take away other users' access (`chmod o-rwx`), or run init-db as its owner, or remove it and let init-db create the file.",
  );
}

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
    // A dangling link or a missing folder fails now, before the password is asked for.
    if (!existed) {
      requireNothingAt(target.file);
      requireParentFolder(target.file);
    }
  } else {
    const { ensurePgDatabase } = await import('../db/pg.js');
    existed = !(await ensurePgDatabase(target.url));
  }
  if (existed) {
    const early = await preflight(db, migrations, opts.adminUsername);
    if (early) return early;
  }
  // A file or folder this user cannot write fails now, not after the password.
  if (target.provider === 'sqlite') {
    assertSqliteWritable(target.file);
    if (existed) refuseExposedEmptyFile(target.file);
  }

  const password = await opts.obtainPasswordHash();
  const lock = await acquireJobLock(target, MIGRATE_LOCK.job, MIGRATE_LOCK.waitMs);
  let createdFile = false;
  try {
    // Ctrl+C and SIGTERM wait for the step in progress, so the file is
    // never left half-made; a file this run created is then removed.
    return await withSignalsHeld(async () => {
      if (target.provider === 'sqlite' && !existed) {
        createDatabaseFile(target.file);
        createdFile = true;
      } else if (target.provider === 'sqlite') {
        restrictEmptyFile(target.file);
      }
      const inspector = await openInspector(target, migrations, { readonly: false });
      // Checked again under the lock: a run started at the same moment may have finished first.
      const madeMeanwhile = await inspector.activeAdmin();
      if (madeMeanwhile) {
        await inspector.close();
        throw initialisedMeanwhile(madeMeanwhile);
      }
      const { state, plan } = await readPlan(db, inspector, migrations, { settle: true });
      let backup: string | null = null;
      if (plan.apply.length > 0 || plan.adopt) {
        backup = await applyPlan(db, inspector, plan, migrations, state.kind !== 'empty', opts.onBackup);
      } else {
        await inspector.close();
      }
      // A Ctrl+C so far removes the file this run created (below).
      await stopIfInterrupted();
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
