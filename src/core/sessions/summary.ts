import { before, notBefore, unknownTimestamp } from '../db/conditions.js';
import type { Provider } from '../db/handle.js';
import { asNumber, join, raw, sql, type Queryable, type Sql } from '../db/query.js';
import { tryParseDbTimestamp } from '../time/timestamps.js';
import { findUser } from '../users/users.js';

export type TokenType = 'access' | 'refresh';

/**
 * What authctl shows of a session. It deliberately has no token field: the
 * app's session_token is a live credential and is never read, printed or logged.
 */
export interface SessionSummary {
  id: number;
  userId: number;
  username: string | null;
  type: string;
  /**
   * Timestamps are ISO 8601 UTC; a value stored in a form authctl cannot read
   * (an integer, other text) is passed on as the raw text instead.
   */
  createdAt: string;
  lastAccessed: string;
  expiresAt: string;
  /** null when the stored expiry is in no known form: neither active nor expired. */
  expired: boolean | null;
  ipAddress: string | null;
  userAgent: string | null;
  jti: string;
}

/**
 * The columns a SessionSummary is built from; session_token is not among them.
 * Timestamps are read as text in whichever form the row holds them (on
 * PostgreSQL, the naive UTC text); toSummary reads them.
 */
export const SUMMARY_COLUMNS = raw(`s.id, s.user_id, u.username, s.token_type,
  CAST(s.created_at AS TEXT) AS created_at, CAST(s.last_accessed AS TEXT) AS last_accessed, CAST(s.expires_at AS TEXT) AS expires_at,
  s.ip_address, s.user_agent, s.jti`);

export interface SummaryRow {
  id: number;
  user_id: number;
  username: string | null;
  token_type: string;
  created_at: string;
  last_accessed: string;
  expires_at: string;
  ip_address: string | null;
  user_agent: string | null;
  jti: string;
}

/**
 * ISO 8601 UTC for a readable timestamp; the stored value for anything else.
 * A number is never a timestamp here: neither the app nor authctl writes one,
 * and the SQL that decides expiry counts it as an unknown form too.
 */
function isoOrRaw(value: string | Date | number | bigint | null): { iso: string; date: Date | null } {
  const date = value === null || typeof value === 'number' || typeof value === 'bigint' ? null : tryParseDbTimestamp(value);
  return date ? { iso: date.toISOString(), date } : { iso: String(value), date: null };
}

export function toSummary(row: SummaryRow, now: Date): SessionSummary {
  const expires = isoOrRaw(row.expires_at);
  return {
    id: Number(row.id),
    userId: Number(row.user_id),
    username: row.username,
    type: row.token_type,
    createdAt: isoOrRaw(row.created_at).iso,
    lastAccessed: isoOrRaw(row.last_accessed).iso,
    expiresAt: expires.iso,
    expired: expires.date ? expires.date.getTime() < now.getTime() : null,
    ipAddress: row.ip_address,
    userAgent: row.user_agent,
    jti: row.jti,
  };
}

/** Selects summaries of the sessions matching `where` (a condition on alias `s`), newest first. */
export async function selectSummaries(
  q: Queryable,
  where: Sql,
  now: Date,
  limit: number,
): Promise<SessionSummary[]> {
  const sessions: SessionSummary[] = [];
  for await (const s of iterateSummaries(q, where, now, limit)) sessions.push(s);
  return sessions;
}

/** Rows fetched per query by {@link iterateSummaries}. */
const PAGE_ROWS = 5000;

/**
 * The same sessions one page at a time, newest first, so a long listing holds
 * one page of rows rather than all of them. Pages follow each other by id;
 * rows added meanwhile have higher ids and are not picked up half way.
 */
export async function* iterateSummaries(
  q: Queryable,
  where: Sql,
  now: Date,
  limit: number,
): AsyncGenerator<SessionSummary> {
  let left = limit;
  let lastId: number | null = null;
  while (left > 0) {
    const page = Math.min(PAGE_ROWS, left);
    const cond: Sql = lastId === null ? where : sql`(${where}) AND s.id < ${lastId}`;
    const rows = await q.all<SummaryRow>(
      sql`SELECT ${SUMMARY_COLUMNS} FROM user_sessions s LEFT JOIN users u ON u.id = s.user_id WHERE ${cond} ORDER BY s.id DESC LIMIT ${page}`,
    );
    for (const r of rows) yield toSummary(r, now);
    if (rows.length < page) return;
    left -= rows.length;
    lastId = Number(rows[rows.length - 1]!.id);
  }
}

export async function countWhere(q: Queryable, where: Sql): Promise<number> {
  const row = await q.get<{ n: number | string }>(sql`SELECT count(*) AS n FROM user_sessions s WHERE ${where}`);
  return asNumber(row?.n ?? 0);
}

/** `s.expires_at` is in the past, in whichever form a SQLite row holds it. */
export function expiredCondition(provider: Provider, now: Date): Sql {
  return before(provider, 's.expires_at', now);
}

/** `s.expires_at` is now or later; rows whose expiry is in no known form are neither active nor expired. */
export function activeCondition(provider: Provider, now: Date): Sql {
  return notBefore(provider, 's.expires_at', now);
}

/** `s.expires_at` holds a value in no timestamp form authctl can read (SQLite only). */
function unknownExpiryCondition(provider: Provider): Sql {
  return unknownTimestamp(provider, 's.expires_at');
}

/**
 * Sessions whose expires_at is in no timestamp form authctl can read, such
 * as an integer or free text: the purge skips them and doctor reports them.
 * PostgreSQL stores real timestamps, so there it is always 0.
 */
export async function countUnknownExpiry(q: Queryable): Promise<number> {
  if (q.provider === 'postgresql') return 0;
  return countWhere(q, unknownExpiryCondition(q.provider));
}

/** `s.user_id` is the id of the user named `username`; fails with USER_NOT_FOUND as the user commands do. */
export async function ofUser(q: Queryable, username: string): Promise<Sql> {
  return sql`s.user_id = ${(await findUser(q, username)).id}`;
}

export function andAll(conditions: Sql[]): Sql {
  return conditions.length === 0 ? raw('1 = 1') : join(conditions, ' AND ');
}
