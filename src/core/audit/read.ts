import type { Db } from '../db/handle.js';
import { before, notBefore } from '../db/conditions.js';
import { asNumber, join, raw, sql, type Sql } from '../db/query.js';
import { tryParseDbTimestamp } from '../time/timestamps.js';
import { storedText } from '../users/rows.js';

export interface AuditRow {
  id: number;
  /** ISO 8601 UTC; the stored value as text when it is in no form authctl reads. */
  at: string;
  osUser: string;
  host: string;
  command: string;
  target: string | null;
  summary: string;
  /** The JSON stored with the entry, parsed; the stored text when it is not JSON. */
  details: unknown;
}

interface StoredAuditRow {
  id: number;
  at: unknown;
  os_user: string;
  host: string;
  command: string;
  target: string | null;
  summary: string;
  details: string | null;
}

/**
 * The table is authctl's, but it lives in a database other tools write to:
 * an entry whose time or details were changed by hand is listed as it is
 * stored, never a reason for the whole log to be unreadable.
 */
function readAt(value: unknown): string {
  const date = typeof value === 'string' || value instanceof Date ? tryParseDbTimestamp(value) : null;
  return date ? date.toISOString() : storedText(value);
}

function readDetails(value: string | null): unknown {
  if (value === null || value === '') return null;
  try {
    return JSON.parse(value);
  } catch {
    return storedText(value);
  }
}

export interface AuditFilter {
  limit: number;
  /** Entries at or after this instant. */
  since?: Date;
  /** Entries before this instant. */
  until?: Date;
  /**
   * Entries about this app user: the target is the username, as the user
   * commands write it, or `user <name>`, as `sessions revoke --user` does.
   */
  user?: string;
  /** Entries of this command (`user add`), or of every command of a group (`user`). */
  command?: string;
}

/** `column` is `text`, or starts with `prefix`; written with substr so no character in the value acts as a pattern. */
function equalsOrStarts(column: string, text: string, prefix: string): Sql {
  return sql`(${raw(column)} = ${text} OR substr(${raw(column)}, 1, ${[...prefix].length}) = ${prefix})`;
}

function conditions(db: Db, filter: AuditFilter): Sql {
  const where: Sql[] = [];
  if (filter.since) where.push(notBefore(db.provider, 'at', filter.since));
  if (filter.until) where.push(before(db.provider, 'at', filter.until));
  if (filter.user !== undefined) {
    where.push(sql`(target = ${filter.user} OR ${equalsOrStarts('target', `user ${filter.user}`, `user ${filter.user} (`)})`);
  }
  if (filter.command !== undefined) where.push(equalsOrStarts('command', filter.command, `${filter.command} `));
  return where.length === 0 ? raw('1 = 1') : join(where, ' AND ');
}

/** The newest entries matching the filter first, and how many match in all. */
export async function readAuditLog(db: Db, filter: AuditFilter): Promise<{ entries: AuditRow[]; total: number }> {
  const conn = await db.sql();
  const where = conditions(db, filter);
  // On PostgreSQL as text, as the stored-value checks read it: infinity is no instant.
  const at = raw(db.provider === 'postgresql' ? 'CAST(at AS TEXT) AS at' : 'at');
  const rows = await conn.all<StoredAuditRow>(
    sql`SELECT id, ${at}, os_user, host, command, target, summary, details FROM authctl_audit WHERE ${where} ORDER BY at DESC, id DESC LIMIT ${filter.limit}`,
  );
  const count = await conn.get<{ n: number | string }>(sql`SELECT count(*) AS n FROM authctl_audit WHERE ${where}`);
  return {
    total: asNumber(count!.n),
    entries: rows.map((r) => ({
      id: r.id,
      at: readAt(r.at),
      osUser: r.os_user,
      host: r.host,
      command: r.command,
      target: r.target,
      summary: r.summary,
      details: readDetails(r.details),
    })),
  };
}
