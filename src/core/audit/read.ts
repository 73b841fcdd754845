import type { Db } from '../db/handle.js';

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

/** The newest entries first. */
export async function readAuditLog(db: Db, limit: number): Promise<{ entries: AuditRow[]; total: number }> {
  const client = await db.prisma();
  const [rows, total] = await Promise.all([
    client.auditEntry.findMany({ orderBy: [{ at: 'desc' }, { id: 'desc' }], take: limit }),
    client.auditEntry.count(),
  ]);
  return {
    total,
    entries: rows.map((r) => ({
      id: r.id,
      at: r.at.toISOString(),
      osUser: r.osUser,
      host: r.host,
      command: r.command,
      target: r.target,
      summary: r.summary,
      details: r.details ? JSON.parse(r.details) : null,
    })),
  };
}
