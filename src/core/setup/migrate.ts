import { writeAudit } from '../audit/write.js';
import type { Db } from '../db/handle.js';
import { openInspector } from '../db/inspector.js';
import { sql, type Queryable } from '../db/query.js';
import { loadMigrations } from '../db/migrations.js';
import { withSignalsHeld } from '../signals/interrupt.js';
import { findAppRowProblems, repairAppRows, type AppRowRepairs } from '../users/repairs.js';
import { applyPlan, readPlan, repairSummary } from './plan.js';

/** What `migrate` did, or would do in a dry run; its --json document. */
export interface MigrateResult {
  dryRun: boolean;
  /** The app's tables are adopted: the baseline is recorded, not run. */
  adopt: boolean;
  apply: string[];
  backup: string | null;
  /** Rows the app could not serve, repaired in the transaction that writes the audit row (counted only in a dry run). */
  repairs: AppRowRepairs;
  /** No user at all (an empty database migrated, or would be): the app seeds admin/admin at its next start. */
  noUsers: boolean;
}

const NO_REPAIRS: AppRowRepairs = { fullNamesSet: 0, reservedAdmin: false };

/**
 * Applies pending migrations (adopting the app's own tables first) and repairs
 * the rows the app cannot serve. The caller holds the migrate lock; Ctrl+C and
 * SIGTERM wait for the step in progress.
 */
export async function migrateDatabase(db: Db, opts: { dryRun: boolean; onBackup: (file: string) => void }): Promise<MigrateResult> {
  return withSignalsHeld(() => migrateHeld(db, opts));
}

async function migrateHeld(db: Db, opts: { dryRun: boolean; onBackup: (file: string) => void }): Promise<MigrateResult> {
  const migrations = loadMigrations(db.provider);
  const inspector = await openInspector(db.target, migrations, { readonly: false });
  const { state, plan } = await readPlan(db, inspector, migrations, { settle: !opts.dryRun });
  const changesSchema = plan.apply.length > 0 || plan.adopt;
  let backup: string | null = null;
  if (opts.dryRun || !changesSchema) await inspector.close();
  else backup = await applyPlan(db, inspector, plan, migrations, state.kind !== 'empty', opts.onBackup);
  // A dry run on an empty database has no app rows to look at yet.
  if (opts.dryRun && state.kind === 'empty') return { dryRun: true, ...plan, backup: null, repairs: NO_REPAIRS, noUsers: true };

  // Opened after the schema engine has finished, so it sees the migrated schema.
  const conn = await db.sql();
  if (opts.dryRun) {
    const found = await findAppRowProblems(conn);
    return { dryRun: true, ...plan, backup: null, repairs: { fullNamesSet: found.nullFullNames.length, reservedAdmin: found.adminNameFree }, noUsers: await noUsers(conn) };
  }
  // Not a stopping point: this transaction records the schema steps just taken.
  const repairs = await conn.transaction(async (tx) => {
    const done = await repairAppRows(tx);
    if (changesSchema || done.fullNamesSet > 0 || done.reservedAdmin) {
      const repaired = repairSummary(done);
      await writeAudit(tx, {
        command: 'migrate',
        target: db.target.display,
        summary: [changesSchema ? `${plan.adopt ? 'adopted the app schema; ' : ''}applied ${plan.apply.length} migration(s)` : '', repaired]
          .filter(Boolean)
          .join('; '),
        details: { adopted: plan.adopt, applied: plan.apply, backup, fullNamesSet: done.fullNamesSet, reservedAdmin: done.reservedAdmin },
      });
    }
    return done;
  });
  return { dryRun: false, ...plan, backup, repairs, noUsers: await noUsers(conn) };
}

async function noUsers(conn: Queryable): Promise<boolean> {
  return (await conn.get(sql`SELECT id FROM users LIMIT 1`)) === undefined;
}
