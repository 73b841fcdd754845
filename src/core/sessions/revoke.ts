import { writeAudit } from '../audit/write.js';
import type { Db } from '../db/handle.js';
import { join, sql, type Queryable, type Sql } from '../db/query.js';
import { notFound } from '../errors/errors.js';
import { andAll, countWhere, ofUser, selectSummaries, type SessionSummary, type TokenType } from './summary.js';

/** Exactly one kind of target; the command layer rejects mixtures. */
export type RevokeTarget =
  | { kind: 'ids'; ids: number[]; jtis: string[] }
  | { kind: 'user'; username: string; type?: TokenType }
  | { kind: 'all'; type?: TokenType };

export interface RevokeInput {
  target: RevokeTarget;
  dryRun: boolean;
  now?: Date;
}

/** At most this many revoked sessions are itemised; the count is always exact. */
const REVOKE_LISTED_MAX = 100;

export interface RevokeResult {
  dryRun: boolean;
  /** Sessions deleted (or, with dryRun, that would be). */
  revoked: number;
  sessions: SessionSummary[];
  more: boolean;
}

function describeTarget(target: RevokeTarget): string {
  if (target.kind === 'ids') {
    return [...target.ids.map((id) => `id ${id}`), ...target.jtis.map((jti) => `jti ${jti}`)].join(', ');
  }
  const type = target.type ? ` (${target.type} only)` : '';
  return target.kind === 'user' ? `user ${target.username}${type}` : `all sessions${type}`;
}

/**
 * Revoking a session is deleting its row: the app refuses a request whose
 * session row is gone. Named sessions must all exist, or nothing is deleted.
 */
export async function revokeSessions(db: Db, input: RevokeInput): Promise<RevokeResult> {
  const now = input.now ?? new Date();
  const { target } = input;
  const conn = await db.sql();
  // A dry run only reads, so it does not take the write lock.
  const inTransaction = <T>(fn: (tx: Queryable) => Promise<T>) => (input.dryRun ? fn(conn) : conn.transaction(fn));
  return inTransaction(async (tx) => {
    const conditions: Sql[] = [];
    if (target.kind === 'ids') {
      const parts: Sql[] = [];
      if (target.ids.length) parts.push(sql`s.id IN (${join(target.ids.map((id) => sql`${id}`), ', ')})`);
      if (target.jtis.length) parts.push(sql`s.jti IN (${join(target.jtis.map((jti) => sql`${jti}`), ', ')})`);
      conditions.push(sql`(${join(parts, ' OR ')})`);
    } else {
      if (target.kind === 'user') conditions.push(await ofUser(tx, target.username));
      if (target.type) conditions.push(sql`s.token_type = ${target.type}`);
    }
    const where = andAll(conditions);
    const limit = target.kind === 'ids' ? target.ids.length + target.jtis.length : REVOKE_LISTED_MAX;
    const sessions = await selectSummaries(tx, where, now, Math.max(limit, 1));
    if (target.kind === 'ids') {
      const missing = [
        ...target.ids.filter((id) => !sessions.some((s) => s.id === id)).map((id) => `id ${id}`),
        ...target.jtis.filter((jti) => !sessions.some((s) => s.jti === jti)).map((jti) => `jti ${jti}`),
      ];
      if (missing.length > 0) {
        throw notFound(
          'SESSION_NOT_FOUND',
          `No session with ${missing.join(', ')}; nothing was revoked.`,
          'Check the ids with `authctl sessions list --all`, then run it again.',
        );
      }
    }
    const total = sessions.length < limit ? sessions.length : await countWhere(tx, where);
    const result: RevokeResult = { dryRun: input.dryRun, revoked: total, sessions, more: total > sessions.length };
    if (input.dryRun || total === 0) return result;
    // The alias is not allowed in a DELETE on every provider, so delete through a subquery.
    const deleted = await tx.run(sql`DELETE FROM user_sessions WHERE id IN (SELECT s.id FROM user_sessions s WHERE ${where})`);
    await writeAudit(tx, {
      command: 'sessions revoke',
      target: describeTarget(target),
      summary: `revoked ${deleted} session(s)`,
      details: { revoked: deleted, ids: sessions.slice(0, REVOKE_LISTED_MAX).map((s) => s.id), more: total > sessions.length },
    });
    return { ...result, revoked: deleted };
  });
}
