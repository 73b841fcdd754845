import fs from 'node:fs';
import type { DatabaseTarget } from './config.js';
import { AuthctlError } from './errors.js';
import { getMigrationStatus } from './setup.js';
import { openSqlite, type SqliteDb } from './db/sqlite.js';
import { sqliteBefore } from './timestamps.js';
import { findWeakPasswords } from './weak-passwords.js';

export type CheckStatus = 'ok' | 'warn' | 'fail' | 'skipped';

export interface CheckResult {
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
export const EXPIRED_BACKLOG_WARN = 10_000;

export interface DoctorOptions {
  /** The GPUStack check, when GPUStack is configured; null when it is not. */
  gpustack: (() => Promise<CheckResult>) | null;
  expiredWarnThreshold?: number;
}

function tableExists(db: SqliteDb, name: string): boolean {
  return db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(name) !== undefined;
}

export async function runDoctor(target: DatabaseTarget, opts: DoctorOptions): Promise<DoctorReport> {
  const checks: CheckResult[] = [];
  const skip = (id: string, name: string, why: string) => checks.push({ id, name, status: 'skipped', detail: why });

  let db: SqliteDb | null = null;
  if (target.provider === 'sqlite') {
    try {
      db = openSqlite(target.file, { readonly: true });
      checks.push({ id: 'database', name: 'database opens', status: 'ok', detail: target.file });
    } catch (err) {
      const e = err as AuthctlError;
      checks.push({ id: 'database', name: 'database opens', status: 'fail', detail: e.message, hint: e.hint });
    }
  } else {
    checks.push({ id: 'database', name: 'database opens', status: 'fail', detail: 'PostgreSQL is not supported by this version of authctl yet.' });
  }

  try {
    if (db && target.provider === 'sqlite') {
      try {
        const status = await getMigrationStatus(target);
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
                detail: status.state === 'app-unmanaged' ? 'created by the app, not yet adopted' : problems.join(', '),
                hint: 'Run `authctl migrate status`, then `authctl migrate`.',
              },
        );
      } catch (err) {
        checks.push({ id: 'migrations', name: 'migrations up to date', status: 'fail', detail: (err as Error).message });
      }

      if (tableExists(db, 'users')) {
        const hashed = db
          .prepare("SELECT id, username, password_hash AS hash FROM users WHERE is_active = 1 AND password_hash IS NOT NULL AND password_hash <> ''")
          .all() as Array<{ id: number; username: string; hash: string }>;
        const weak = await findWeakPasswords(hashed);
        checks.push(
          weak.length === 0
            ? { id: 'weak-passwords', name: 'no default or trivial passwords', status: 'ok', detail: `${hashed.length} password(s) checked` }
            : {
                id: 'weak-passwords',
                name: 'no default or trivial passwords',
                status: 'fail',
                detail: weak.map((w) => `${w.username} (${w.reason === 'username' ? 'password is the username' : 'a well-known default password'})`).join(', '),
                hint: `Replace it: authctl user reset ${weak[0]!.username}`,
              },
        );
        const admins = db.prepare('SELECT count(*) FROM users WHERE is_admin = 1 AND is_active = 1').pluck().get() as number;
        checks.push(
          admins > 0
            ? { id: 'active-admin', name: 'an active admin exists', status: 'ok', detail: `${admins} active admin(s)` }
            : { id: 'active-admin', name: 'an active admin exists', status: 'fail', detail: 'no active admin', hint: 'Create one: authctl user add <name> --admin' },
        );
      } else {
        skip('weak-passwords', 'no default or trivial passwords', 'no users table');
        skip('active-admin', 'an active admin exists', 'no users table');
      }

      const mode = fs.statSync(target.file).mode & 0o777;
      checks.push(
        (mode & 0o077) === 0
          ? { id: 'file-mode', name: 'database file is private', status: 'ok', detail: `mode ${mode.toString(8).padStart(4, '0')}` }
          : {
              id: 'file-mode',
              name: 'database file is private',
              status: 'warn',
              detail: `mode ${mode.toString(8).padStart(4, '0')}: ${mode & 0o004 ? 'world' : 'group'}-readable; it holds password hashes and session tokens`,
              hint: `chmod 600 ${target.file}`,
            },
      );

      if (tableExists(db, 'user_sessions')) {
        const expired = sqliteBefore('expires_at', new Date());
        const backlog = db.prepare(`SELECT count(*) FROM user_sessions WHERE ${expired.sql}`).pluck().get(...expired.params) as number;
        const threshold = opts.expiredWarnThreshold ?? EXPIRED_BACKLOG_WARN;
        checks.push(
          backlog <= threshold
            ? { id: 'expired-sessions', name: 'expired-session backlog', status: 'ok', detail: `${backlog} expired session(s)` }
            : {
                id: 'expired-sessions',
                name: 'expired-session backlog',
                status: 'warn',
                detail: `${backlog} expired session(s) not yet purged`,
                hint: 'Run `authctl sessions purge`, and schedule it hourly from cron.',
              },
        );
      } else {
        skip('expired-sessions', 'expired-session backlog', 'no user_sessions table');
      }
    } else {
      for (const [id, name] of [
        ['migrations', 'migrations up to date'],
        ['weak-passwords', 'no default or trivial passwords'],
        ['active-admin', 'an active admin exists'],
        ['file-mode', 'database file is private'],
        ['expired-sessions', 'expired-session backlog'],
      ] as const) {
        skip(id, name, 'the database did not open');
      }
    }
  } finally {
    db?.close();
  }

  if (opts.gpustack) checks.push(await opts.gpustack());
  else skip('gpustack', 'GPUStack reachable, credential accepted', 'GPUStack is not configured (GPUSTACK_API_BASE)');

  return { checks, ok: checks.every((c) => c.status !== 'fail') };
}
