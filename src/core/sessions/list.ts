import type { AppClient } from '../db/client.js';
import { Prisma } from '../db/sql.js';
import { findUser } from '../users/users.js';
import { activeCondition, andAll, countWhere, expiredCondition, selectSummaries, type SessionSummary, type TokenType } from './summary.js';

export type SessionState = 'active' | 'expired' | 'all';

export const DEFAULT_LIST_LIMIT = 50;

export interface ListSessionsInput {
  user?: string;
  type?: TokenType;
  state: SessionState;
  limit: number;
  now?: Date;
}

export interface SessionList {
  state: SessionState;
  sessions: SessionSummary[];
  /** How many sessions match in all; more than `sessions.length` when the limit cut the list. */
  total: number;
  more: boolean;
}

/** Sessions matching the filters, newest first. */
export async function listSessions(client: AppClient, input: ListSessionsInput): Promise<SessionList> {
  const now = input.now ?? new Date();
  const conditions: Prisma.Sql[] = [];
  if (input.state === 'active') conditions.push(activeCondition(client, now));
  if (input.state === 'expired') conditions.push(expiredCondition(client, now));
  if (input.user !== undefined) conditions.push(Prisma.sql`s.user_id = ${(await findUser(client, input.user)).id}`);
  if (input.type) conditions.push(Prisma.sql`s.token_type = ${input.type}`);
  const where = andAll(conditions);
  const sessions = await selectSummaries(client, where, now, input.limit);
  const total = sessions.length < input.limit ? sessions.length : await countWhere(client, where);
  return { state: input.state, sessions, total, more: total > sessions.length };
}
