import os from 'node:os';
import type { TxClient } from '../db/client.js';
import { raw, sql, type Queryable } from '../db/query.js';
import type { SqliteDb } from '../db/sqlite.js';
import { formatAppTimestamp } from '../time/timestamps.js';

export interface AuditInput {
  command: string;
  target?: string | null;
  summary: string;
  /** Structured facts (counts, flags). Never a password, hash or token. */
  details?: Record<string, unknown>;
}

function osUser(): string {
  try {
    return os.userInfo().username;
  } catch {
    return process.env.USER ?? process.env.LOGNAME ?? 'unknown';
  }
}

function auditActor(): { osUser: string; host: string } {
  return { osUser: osUser(), host: os.hostname() };
}

/** Writes one audit row; call it inside the transaction that makes the change. */
export async function writeAudit(q: Queryable, entry: AuditInput): Promise<void> {
  const [at, osUser, host, command, target, summary, details] = auditValues(entry);
  await q.run(sql`INSERT INTO ${raw(AUDIT_COLUMNS)} VALUES (${at}, ${osUser}, ${host}, ${command}, ${target}, ${summary}, ${details})`);
}

/** {@link writeAudit} inside a Prisma transaction, for the commands not yet on the plain drivers. */
export async function writeAuditPrisma(tx: TxClient, entry: AuditInput): Promise<void> {
  await tx.auditEntry.create({
    data: {
      at: new Date(),
      ...auditActor(),
      command: entry.command,
      target: entry.target ?? null,
      summary: entry.summary,
      details: entry.details ? JSON.stringify(entry.details) : null,
    },
  });
}

const AUDIT_COLUMNS = 'authctl_audit (at, os_user, host, command, target, summary, details)';

/** One audit row's values, in AUDIT_COLUMNS order, for the raw drivers. */
function auditValues(entry: AuditInput): unknown[] {
  const actor = auditActor();
  return [
    formatAppTimestamp(new Date()),
    actor.osUser,
    actor.host,
    entry.command,
    entry.target ?? null,
    entry.summary,
    entry.details ? JSON.stringify(entry.details) : null,
  ];
}

/**
 * The same audit row through a raw better-sqlite3 handle, for bulk jobs that
 * write without Prisma; call it inside the transaction that makes the change.
 */
export function writeAuditSqlite(db: SqliteDb, entry: AuditInput): number {
  const result = db.prepare(`INSERT INTO ${AUDIT_COLUMNS} VALUES (?, ?, ?, ?, ?, ?, ?)`).run(...auditValues(entry));
  return Number(result.lastInsertRowid);
}

/** The smallest part of a pg client that writeAuditPg needs. */
interface PgQueryable {
  query(sql: string, params: unknown[]): Promise<{ rows: Array<{ id: number }> }>;
}

/**
 * The same audit row through a raw pg connection, for bulk jobs that write
 * without Prisma; run it inside the transaction that makes the change.
 */
export async function writeAuditPg(client: PgQueryable, entry: AuditInput): Promise<number> {
  const { rows } = await client.query(`INSERT INTO ${AUDIT_COLUMNS} VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`, auditValues(entry));
  return rows[0]!.id;
}
