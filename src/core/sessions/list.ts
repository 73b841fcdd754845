import { notBefore } from '../db/conditions.js';
import type { Db } from '../db/handle.js';
import { sql, type Sql } from '../db/query.js';
import {
  activeCondition,
  andAll,
  countUnknownExpiry,
  countWhere,
  expiredCondition,
  iterateSummaries,
  ofUser,
  type SessionSummary,
  type TokenType,
} from './summary.js';

export type SessionState = 'active' | 'expired' | 'all';

export interface ListSessionsInput {
  user?: string;
  type?: TokenType;
  state: SessionState;
  limit: number;
  /** Sessions created at or after this instant. */
  since?: Date;
  /** Sessions from exactly this IP address, as the app stored it. */
  ip?: string;
  now?: Date;
}

export interface SessionListTotals {
  /** How many sessions match in all; more than the sessions listed when the limit cut the list. */
  total: number;
  more: boolean;
  /**
   * Sessions (of the whole table) whose expiry is stored in a form authctl
   * cannot read: neither active nor expired, so listed only by `--all`.
   */
  unknownExpiry: number;
}

export interface SessionList extends SessionListTotals {
  state: SessionState;
  sessions: SessionSummary[];
}

export interface SessionListStream {
  state: SessionState;
  /** The matching sessions, newest first, fetched a page at a time. */
  sessions: AsyncGenerator<SessionSummary>;
  /** Call after reading `sessions`, with how many were read. */
  totals(listed: number): Promise<SessionListTotals>;
}

/** Sessions matching the filters, newest first, as they are read from the database. */
export async function streamSessions(db: Db, input: ListSessionsInput): Promise<SessionListStream> {
  const now = input.now ?? new Date();
  const conn = await db.sql();
  const conditions: Sql[] = [];
  if (input.state === 'active') conditions.push(activeCondition(db.provider, now));
  if (input.state === 'expired') conditions.push(expiredCondition(db.provider, now));
  if (input.user !== undefined) conditions.push(await ofUser(conn, input.user));
  if (input.type) conditions.push(sql`s.token_type = ${input.type}`);
  if (input.since) conditions.push(notBefore(db.provider, 's.created_at', input.since));
  if (input.ip !== undefined) conditions.push(sql`s.ip_address = ${input.ip}`);
  const where = andAll(conditions);
  return {
    state: input.state,
    sessions: iterateSummaries(conn, where, now, input.limit),
    async totals(listed) {
      const total = listed < input.limit ? listed : await countWhere(conn, where);
      return { total, more: total > listed, unknownExpiry: await countUnknownExpiry(conn) };
    },
  };
}

/** Sessions matching the filters, newest first, all in memory. */
export async function listSessions(db: Db, input: ListSessionsInput): Promise<SessionList> {
  const stream = await streamSessions(db, input);
  const sessions: SessionSummary[] = [];
  for await (const s of stream.sessions) sessions.push(s);
  return { state: input.state, sessions, ...(await stream.totals(sessions.length)) };
}
