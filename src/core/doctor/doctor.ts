import fs from 'node:fs';
import type { AuthctlError } from '../errors/errors.js';
import { getMigrationStatus } from '../setup/status.js';
import type { Db } from '../db/handle.js';
import { before } from '../db/conditions.js';
import { asNumber, sql, type Connection } from '../db/query.js';
import { countUnknownExpiry } from '../sessions/summary.js';
import { describeFinding } from '../passwords/weak.js';
import { shellWord } from '../errors/shell-word.js';
import { findAppRowProblems } from '../users/repairs.js';
import { unreadableFlagSql } from '../users/rows.js';
import { isMissingTable, type CheckStatus } from './check.js';
import type { HashProgress } from '../passwords/weak.js';
import { checkPasswords, type PasswordCheck } from './passwords.js';

interface CheckResult {
  id: string;
  name: string;
  status: CheckStatus;
  detail: string;
  hint?: string;
}

export interface DoctorReport {
  checks: CheckResult[];
  ok: boolean;
}

/** Above this many expired, unpurged sessions the backlog is worth a warning. */
const EXPIRED_BACKLOG_WARN = 10_000;

interface DoctorOptions {
  /** The GPUStack check, when GPUStack is configured; null when it is not. */
  gpustack: (() => Promise<CheckResult>) | null;
  /** Verify every password hash again, ignoring (and refreshing) the memory of checked hashes. */
  deep: boolean;
  /** Told as the password hashes are verified, the slow part. */
  onProgress?: HashProgress;
}

/**
 * What to run for a failed or warning row whose check gave no hint of its
 * own (an error's hint is optional), so that every such row names a next step.
 */
const FALLBACK_HINTS: Record<string, string> = {
  database: 'Check DATABASE_URL (or -d); for a new database, run `authctl init-db`.',
  migrations: 'Run `authctl migrate status` to see why.',
  gpustack: 'Run `authctl gpustack check` for each step of the connection.',
};

export async function runDoctor(db: Db, opts: DoctorOptions): Promise<DoctorReport> {
  const { target } = db;
  const checks: CheckResult[] = [];
  const skip = (id: string, name: string, why: string) => checks.push({ id, name, status: 'skipped', detail: why });

  let client: Connection | null = null;
  try {
    client = await db.sql();
    checks.push({ id: 'database', name: 'database opens', status: 'ok', detail: target.display });
  } catch (err) {
    const e = err as AuthctlError;
    checks.push({ id: 'database', name: 'database opens', status: 'fail', detail: e.message, hint: e.hint });
  }

  if (client) {
    // The password check reads through its own connection and hashes on
    // worker threads while the other checks run.
    const passwords = checkPasswords(target, { deep: opts.deep, onProgress: opts.onProgress }).then(
      (value) => ({ value }),
      (error: unknown) => ({ error }),
    );
    await runDatabaseChecks(db, client, checks, skip, passwords, opts.deep);
  } else {
    for (const [id, name] of DATABASE_CHECKS) {
      if (target.provider === 'sqlite' || (id !== 'file-mode' && id !== 'journal-mode')) skip(id, name, 'the database did not open');
    }
  }

  if (opts.gpustack) checks.push(await opts.gpustack());
  else skip('gpustack', 'GPUStack reachable, credential accepted', 'GPUStack is not configured (GPUSTACK_API_BASE)');

  for (const c of checks) {
    if ((c.status === 'fail' || c.status === 'warn') && !c.hint) c.hint = FALLBACK_HINTS[c.id] ?? 'Run `authctl doctor --json` for the details.';
  }
  return { checks, ok: checks.every((c) => c.status !== 'fail') };
}

const DATABASE_CHECKS = [
  ['migrations', 'migrations up to date'],
  ['weak-passwords', 'no default or trivial passwords'],
  ['active-admin', 'an active admin exists'],
  ['admin-name', 'the app cannot seed admin/admin'],
  ['app-rows', 'every user can be served by the app'],
  ['journal-mode', 'journal mode'],
  ['file-mode', 'database file is private'],
  ['expired-sessions', 'expired-session backlog'],
  ['session-expiry-forms', 'session expiries readable'],
] as const;

async function runDatabaseChecks(
  db: Db,
  client: Connection,
  checks: CheckResult[],
  skip: (id: string, name: string, why: string) => void,
  passwords: Promise<{ value: PasswordCheck } | { error: unknown }>,
  deep: boolean,
): Promise<void> {
  try {
    const status = await getMigrationStatus(db);
    const problems = [
      status.pending.length ? `${status.pending.length} pending` : '',
      status.drift.length ? `${status.drift.length} drift finding(s)` : '',
      status.unknown.length + status.edited.length + status.failed.length ? 'history diverged or failed' : '',
    ].filter(Boolean);
    checks.push(
      status.upToDate
        ? { id: 'migrations', name: 'migrations up to date', status: 'ok', detail: `${status.applied.length} applied` }
        : {
            id: 'migrations',
            name: 'migrations up to date',
            status: 'fail',
            detail: status.state === 'app-unmanaged' ? 'created by the app, not yet adopted' : problems.join(', ') || 'not initialised',
            // An empty database needs its first admin too: migrate alone would leave the app to seed admin/admin.
            hint: status.state === 'empty' ? 'Run `authctl init-db`: it creates the tables and the first admin.' : 'Run `authctl migrate status`, then `authctl migrate`.',
          },
    );
  } catch (err) {
    checks.push({ id: 'migrations', name: 'migrations up to date', status: 'fail', detail: (err as Error).message });
  }

  const weakAt = checks.length;
  let usersTable = true;
  try {
    const admins = asNumber((await client.get<{ n: unknown }>(sql`SELECT count(*) AS n FROM users WHERE is_admin = ${true} AND is_active = ${true}`))?.n ?? 0);
    // A flag another tool stored as something other than 0/1 may hide an admin: name those users.
    const unreadable = admins > 0
      ? []
      : (await client.all<{ username: unknown }>(
          sql`SELECT username FROM users WHERE ${unreadableFlagSql('is_admin')} OR ${unreadableFlagSql('is_active')} ORDER BY id LIMIT 3`,
        )).map((r) => String(r.username));
    checks.push(
      admins > 0
        ? { id: 'active-admin', name: 'an active admin exists', status: 'ok', detail: `${admins} active admin(s)` }
        : {
            id: 'active-admin',
            name: 'an active admin exists',
            status: 'fail',
            detail: unreadable.length
              ? `no active admin that authctl can read; is_admin or is_active holds a value that is not 0 or 1 for ${unreadable.map((u) => `"${u}"`).join(', ')}`
              : 'no active admin',
            hint: unreadable.length
              ? `See the stored values with \`authctl user show ${shellWord(unreadable[0]!)}\`; store readable flags with \`authctl user set ${shellWord(unreadable[0]!)} --admin\` and \`authctl user enable ${shellWord(unreadable[0]!)}\`.`
              : 'Run `authctl user add <name> --admin`, or `authctl user enable <name>` for a disabled admin.',
          },
    );
    const found = await findAppRowProblems(client);
    const users = asNumber((await client.get<{ n: unknown }>(sql`SELECT count(*) AS n FROM users`))?.n ?? 0);
    checks.push(
      users === 0
        ? {
            id: 'admin-name',
            name: 'the app cannot seed admin/admin',
            status: 'fail',
            detail: 'there are no users: the app creates admin/admin, an active admin, at its next start',
            hint: 'Run `authctl user add <name> --admin`, then `authctl migrate`: it keeps a disabled user named "admin" with no password.',
          }
        : found.adminNameFree
        ? {
            id: 'admin-name',
            name: 'the app cannot seed admin/admin',
            status: 'fail',
            detail: 'no user is named "admin": the app creates admin/admin, an active admin, at its next start',
            hint: 'Run `authctl migrate`: it keeps a disabled user named "admin" with no password.',
          }
        : { id: 'admin-name', name: 'the app cannot seed admin/admin', status: 'ok', detail: 'a user named "admin" exists' },
    );
    const shown = found.nullFullNames.slice(0, 5).join(', ') + (found.nullFullNames.length > 5 ? `, and ${found.nullFullNames.length - 5} more` : '');
    checks.push(
      found.nullFullNames.length > 0
        ? {
            id: 'app-rows',
            name: 'every user can be served by the app',
            status: 'fail',
            detail: `${found.nullFullNames.length} user(s) without a full name (${shown}): the app answers 500 to their login and to its user list`,
            hint: 'Run `authctl migrate`: it sets each missing full name to the username.',
          }
        : { id: 'app-rows', name: 'every user can be served by the app', status: 'ok', detail: 'every user has a full name' },
    );
  } catch (err) {
    if (!isMissingTable(err)) throw err;
    usersTable = false;
    skip('active-admin', 'an active admin exists', 'no users table');
    skip('admin-name', 'the app cannot seed admin/admin', 'no users table');
    skip('app-rows', 'every user can be served by the app', 'no users table');
  }

  const { target } = db;
  if (target.provider === 'sqlite') {
    const journal = String((await client.get<{ journal_mode: string }>(sql`PRAGMA journal_mode`))?.journal_mode ?? '').toLowerCase();
    checks.push({
      id: 'journal-mode',
      name: 'journal mode',
      status: 'ok',
      detail:
        journal === 'wal'
          ? 'wal: the app keeps reading and writing while authctl purges'
          : `${journal}: the first \`authctl sessions purge\` switches the file to WAL, so the app keeps writing during purges`,
    });
    // The log and a rollback journal hold the same rows as the file itself
    // (a live -wal holds the newest sessions), so they count too.
    const files = [target.file, `${target.file}-wal`, `${target.file}-journal`].flatMap((file) => {
      try {
        return [{ file, mode: fs.statSync(file).mode & 0o777 }];
      } catch {
        return [];
      }
    });
    const octal = (mode: number) => mode.toString(8).padStart(4, '0');
    const open = files.filter((f) => (f.mode & 0o077) !== 0);
    const modes = files.map((f, i) => (i === 0 ? `mode ${octal(f.mode)}` : `${f.file.slice(target.file.length)} ${octal(f.mode)}`)).join(', ');
    checks.push(
      open.length === 0
        ? { id: 'file-mode', name: 'database file is private', status: 'ok', detail: modes }
        : {
            id: 'file-mode',
            name: 'database file is private',
            status: 'warn',
            detail: `${modes}: ${open.map((f) => `${f.file === target.file ? 'the file' : f.file.slice(target.file.length)} is ${f.mode & 0o004 ? 'world' : 'group'}-readable`).join(', ')}; it holds password hashes and session tokens`,
            hint: `Run \`chmod 600 ${open.map((f) => shellWord(f.file)).join(' ')}\`.`,
          },
    );
  }

  try {
    const row = await client.get<{ n: unknown }>(sql`SELECT count(*) AS n FROM user_sessions WHERE ${before(db.provider, 'expires_at', new Date())}`);
    const backlog = asNumber(row?.n ?? 0);
    checks.push(
      backlog <= EXPIRED_BACKLOG_WARN
        ? { id: 'expired-sessions', name: 'expired-session backlog', status: 'ok', detail: `${backlog} expired session(s)` }
        : {
            id: 'expired-sessions',
            name: 'expired-session backlog',
            status: 'warn',
            detail: `${backlog} expired session(s) not yet purged`,
            hint: 'Run `authctl sessions purge`, and schedule it hourly from cron.',
          },
    );
  } catch (err) {
    if (!isMissingTable(err)) throw err;
    skip('expired-sessions', 'expired-session backlog', 'no user_sessions table');
  }

  // Expiries in no timestamp form (on PostgreSQL: infinity, -infinity, BC): the purge never deletes them.
  try {
    const unknown = await countUnknownExpiry(client);
    checks.push(
      unknown === 0
        ? { id: 'session-expiry-forms', name: 'session expiries readable', status: 'ok', detail: 'every expires_at is a timestamp' }
        : {
            id: 'session-expiry-forms',
            name: 'session expiries readable',
            status: 'warn',
            detail: `${unknown} session(s) have an expires_at in no timestamp form (${db.provider === 'sqlite' ? 'an integer or other text' : 'infinity, -infinity or a year outside 1 to 9999'}); purge skips them`,
            hint: 'See them with `authctl sessions list --all` and remove them with `authctl sessions revoke <id>`.',
          },
    );
  } catch (err) {
    if (!isMissingTable(err)) throw err;
    skip('session-expiry-forms', 'session expiries readable', 'no user_sessions table');
  }

  const outcome = await passwords;
  if ('error' in outcome && !isMissingTable(outcome.error)) throw outcome.error;
  checks.splice(
    weakAt,
    0,
    'value' in outcome && usersTable
      ? weakPasswordResult(outcome.value, deep)
      : { id: 'weak-passwords', name: 'no default or trivial passwords', status: 'skipped', detail: 'no users table' },
  );
}

function weakPasswordResult(check: PasswordCheck, deep: boolean): CheckResult {
  const name = 'no default or trivial passwords';
  const counted = deep
    ? `${check.total} password(s) checked (--deep)`
    : `${check.total} password(s): ${check.checked} checked now, ${check.remembered} already checked earlier`;
  const memory =
    check.memory === 'missing'
      ? '; no memory of checked hashes yet (a pending migration: run `authctl migrate`), so each run checks them all'
      : check.memory === 'unwritable'
        ? '; could not remember the results (the database refused the write), so the next run checks them again'
        : '';
  if (check.weak.length === 0) return { id: 'weak-passwords', name, status: 'ok', detail: counted + memory };
  return {
    id: 'weak-passwords',
    name,
    status: 'fail',
    detail: check.weak.map(describeFinding).join(', '),
    hint: resetHint(check.weak.map((w) => w.username)),
  };
}

/** The commands that replace weak passwords: one per user, the first few named. */
function resetHint(usernames: string[]): string {
  const shown = usernames.slice(0, 3).map((u) => `\`authctl user reset ${shellWord(u)}\``);
  const more = usernames.length > 3 ? `, and the same for the ${usernames.length - 3} other(s) named` : '';
  return `Run ${shown.join(', ')}${more}; or \`authctl user disable ${shellWord(usernames[0]!)}\` if nobody uses the account (the last active admin cannot be disabled: reset it).`;
}
