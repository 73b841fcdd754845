import os from 'node:os';
import { asNumber, sql, type Queryable, type Sql } from '../db/query.js';
import type { SqliteDb } from '../db/sqlite.js';

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

function auditDetails(entry: AuditInput): string | null {
  return entry.details ? JSON.stringify(entry.details) : null;
}

/** One audit row as an INSERT that returns its id; every writer below runs this statement. */
function auditInsert(entry: AuditInput): Sql {
  const actor = auditActor();
  const details = auditDetails(entry);
  return sql`INSERT INTO authctl_audit (at, os_user, host, command, target, summary, details)
    VALUES (${new Date()}, ${actor.osUser}, ${actor.host}, ${entry.command}, ${entry.target ?? null}, ${entry.summary}, ${details})
    RETURNING id`;
}

/** Writes one audit row and returns its id; call it inside the transaction that makes the change. */
export async function writeAudit(q: Queryable, entry: AuditInput): Promise<number> {
  const row = await q.get<{ id: number | string }>(auditInsert(entry));
  return asNumber(row!.id);
}

/**
 * The same audit row through a raw better-sqlite3 handle, for bulk jobs that
 * write in a synchronous loop; call it inside the transaction that makes the change.
 */
export function writeAuditSqlite(db: SqliteDb, entry: AuditInput): number {
  const { text, params } = auditInsert(entry).render('sqlite');
  return (db.prepare(text).get(...params) as { id: number }).id;
}

/** The smallest part of a pg client that writeAuditPg needs. */
interface PgQueryable {
  query(sql: string, params: unknown[]): Promise<{ rows: Array<{ id: number }> }>;
}

/**
 * The same audit row through a raw pg connection, for bulk jobs that hold
 * their own; run it inside the transaction that makes the change.
 */
export async function writeAuditPg(client: PgQueryable, entry: AuditInput): Promise<number> {
  const { text, params } = auditInsert(entry).render('postgresql');
  const { rows } = await client.query(text, params);
  return rows[0]!.id;
}
