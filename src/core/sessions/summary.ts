import type { AppClient, TxClient } from '../db/client.js';
import { before, Prisma, providerOf } from '../db/sql.js';
import { parseDbTimestamp } from '../timestamps.js';

export type TokenType = 'access' | 'refresh';
export const TOKEN_TYPES: readonly TokenType[] = ['access', 'refresh'];

/**
 * What authctl shows of a session. It deliberately has no token field: the
 * app's session_token is a live credential and is never read, printed or logged.
 */
export interface SessionSummary {
  id: number;
  userId: number;
  username: string | null;
  type: string;
  createdAt: string;
  lastAccessed: string;
  expiresAt: string;
  expired: boolean;
  ipAddress: string | null;
  userAgent: string | null;
  jti: string;
}

/**
 * The columns a SessionSummary is built from; session_token is not among them.
 * Timestamps are read as text: a raw query would otherwise turn the app's
 * naive UTC values into Dates in the machine's local time zone.
 */
export const SUMMARY_COLUMNS = Prisma.sql`s.id, s.user_id, u.username, s.token_type,
  CAST(s.created_at AS TEXT) AS created_at, CAST(s.last_accessed AS TEXT) AS last_accessed, CAST(s.expires_at AS TEXT) AS expires_at,
  s.ip_address, s.user_agent, s.jti`;

export interface SummaryRow {
  id: number | bigint;
  user_id: number | bigint;
  username: string | null;
  token_type: string;
  created_at: string | Date;
  last_accessed: string | Date;
  expires_at: string | Date;
  ip_address: string | null;
  user_agent: string | null;
  jti: string;
}

export function toSummary(row: SummaryRow, now: Date): SessionSummary {
  const expiresAt = parseDbTimestamp(row.expires_at);
  return {
    id: Number(row.id),
    userId: Number(row.user_id),
    username: row.username,
    type: row.token_type,
    createdAt: parseDbTimestamp(row.created_at).toISOString(),
    lastAccessed: parseDbTimestamp(row.last_accessed).toISOString(),
    expiresAt: expiresAt.toISOString(),
    expired: expiresAt.getTime() < now.getTime(),
    ipAddress: row.ip_address,
    userAgent: row.user_agent,
    jti: row.jti,
  };
}

/** Selects summaries of the sessions matching `where` (a condition on alias `s`). */
export async function selectSummaries(
  client: AppClient | TxClient,
  where: Prisma.Sql,
  now: Date,
  limit: number,
): Promise<SessionSummary[]> {
  const rows = await client.$queryRaw<SummaryRow[]>(
    Prisma.sql`SELECT ${SUMMARY_COLUMNS} FROM user_sessions s LEFT JOIN users u ON u.id = s.user_id WHERE ${where} ORDER BY s.id DESC LIMIT ${limit}`,
  );
  return rows.map((r) => toSummary(r, now));
}

export async function countWhere(client: AppClient | TxClient, where: Prisma.Sql): Promise<number> {
  const rows = await client.$queryRaw<Array<{ n: number | bigint }>>(Prisma.sql`SELECT count(*) AS n FROM user_sessions s WHERE ${where}`);
  return Number(rows[0]?.n ?? 0);
}

/** `s.expires_at` is in the past: correct for both text forms on SQLite. */
export function expiredCondition(client: object, now: Date): Prisma.Sql {
  return before(providerOf(client), 's.expires_at', now);
}

export function activeCondition(client: object, now: Date): Prisma.Sql {
  return Prisma.sql`NOT (${expiredCondition(client, now)})`;
}

export function andAll(conditions: Prisma.Sql[]): Prisma.Sql {
  return conditions.length === 0 ? Prisma.sql`1 = 1` : Prisma.join(conditions, ' AND ');
}
