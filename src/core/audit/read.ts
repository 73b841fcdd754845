import type { Db } from '../db/handle.js';
import { asDate, asNumber, sql } from '../db/query.js';

export interface AuditRow {
  id: number;
  at: string;
  osUser: string;
  host: string;
  command: string;
  target: string | null;
  summary: string;
  details: unknown;
}

interface StoredAuditRow {
  id: number;
  at: string;
  os_user: string;
  host: string;
  command: string;
  target: string | null;
  summary: string;
  details: string | null;
}

/** The newest entries first. */
export async function readAuditLog(db: Db, limit: number): Promise<{ entries: AuditRow[]; total: number }> {
  const conn = await db.sql();
  const rows = await conn.all<StoredAuditRow>(
    sql`SELECT id, at, os_user, host, command, target, summary, details FROM authctl_audit ORDER BY at DESC, id DESC LIMIT ${limit}`,
  );
  const count = await conn.get<{ n: number | string }>(sql`SELECT count(*) AS n FROM authctl_audit`);
  return {
    total: asNumber(count!.n),
    entries: rows.map((r) => ({
      id: r.id,
      at: asDate(r.at).toISOString(),
      osUser: r.os_user,
      host: r.host,
      command: r.command,
      target: r.target,
      summary: r.summary,
      details: r.details ? JSON.parse(r.details) : null,
    })),
  };
}
