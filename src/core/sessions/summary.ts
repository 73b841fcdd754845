import { before, notBefore, unknownTimestamp } from '../db/conditions.js';
import { asNumber, join, raw, sql, type Queryable, type Sql } from '../db/query.js';
import type { Provider } from '../db/handle.js';
import { readStoredTimestamp } from '../time/timestamps.js';
import { readText } from '../users/rows.js';
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
 * Timestamps are read in whichever form the row holds them: on SQLite as
 * stored (text, or an integer, real or BLOB the JavaScript reader rejects as
 * the SQL does), on PostgreSQL as the naive UTC text. `expired` is decided
 * by the same SQL conditions that `list --expired`, `stats` and `purge` use,
 * so a row is never expired in one and unknown in another: 1, 0, or NULL for
 * an expiry in no known form.
 */
export function summaryColumns(provider: Provider, now: Date): Sql {
  const at = (column: string) => (provider === 'postgresql' ? `CAST(${column} AS TEXT)` : column);
  return sql`s.id, s.user_id, u.username, s.token_type,
  ${raw(`${at('s.created_at')} AS created_at, ${at('s.last_accessed')} AS last_accessed, ${at('s.expires_at')} AS expires_at,`)}
  CASE WHEN ${expiredCondition(provider, now)} THEN 1 WHEN ${activeCondition(provider, now)} THEN 0 END AS expired,
  s.ip_address, s.user_agent, s.jti`;
}

type StoredTimestamp = string | number | bigint | Buffer | null;

export interface SummaryRow {
  id: number;
  user_id: number;
  username: string | null;
  token_type: string;
  created_at: StoredTimestamp;
  last_accessed: StoredTimestamp;
  expires_at: StoredTimestamp;
  expired: number | boolean | null;
  ip_address: string | null;
  user_agent: string | null;
  jti: string;
}

/**
 * ISO 8601 UTC for a timestamp in the known form; the stored value for
 * anything else. Only text is a timestamp here: neither the app nor authctl
 * writes a number or a BLOB, and the SQL that decides expiry rejects them too.
 */
function isoOrRaw(value: StoredTimestamp): string {
  const date = readStoredTimestamp(value);
  if (date) return date.toISOString();
  return Buffer.isBuffer(value) ? value.toString('utf8') : String(value);
}

export function toSummary(row: SummaryRow): SessionSummary {
  return {
    id: Number(row.id),
    userId: Number(row.user_id),
    username: readText(row.username),
    type: readText(row.token_type) ?? '',
    createdAt: isoOrRaw(row.created_at),
    lastAccessed: isoOrRaw(row.last_accessed),
    expiresAt: isoOrRaw(row.expires_at),
    expired: row.expired === null ? null : Boolean(Number(row.expired)),
    // Text as text: a blob another tool stored shows as x'hex', as in the user views.
    ipAddress: readText(row.ip_address),
    userAgent: readText(row.user_agent),
    jti: readText(row.jti) ?? '',
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
      sql`SELECT ${summaryColumns(q.provider, now)} FROM user_sessions s LEFT JOIN users u ON u.id = s.user_id WHERE ${cond} ORDER BY s.id DESC LIMIT ${page}`,
    );
    for (const r of rows) yield toSummary(r);
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
 * as an integer or free text on SQLite, or infinity on PostgreSQL: the purge
 * skips them and doctor reports them.
 */
export async function countUnknownExpiry(q: Queryable): Promise<number> {
  return countWhere(q, unknownExpiryCondition(q.provider));
}

/** `s.user_id` is the id of the user named `username`; fails with USER_NOT_FOUND as the user commands do. */
export async function ofUser(q: Queryable, username: string): Promise<Sql> {
  return sql`s.user_id = ${(await findUser(q, username)).id}`;
}

export function andAll(conditions: Sql[]): Sql {
  return conditions.length === 0 ? raw('1 = 1') : join(conditions, ' AND ');
}
