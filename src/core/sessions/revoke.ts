import { writeAuditPrisma } from '../audit/write.js';
import type { Db } from '../db/handle.js';
import { Prisma } from '../db/sql.js';
import { notFound } from '../errors/errors.js';
import { findUser } from '../users/users.js';
import { andAll, countWhere, selectSummaries, type SessionSummary, type TokenType } from './summary.js';

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
  const userId = target.kind === 'user' ? (await findUser(await db.sql(), target.username)).id : null;
  const client = await db.prisma();
  return client.$transaction(async (tx) => {
    const conditions: Prisma.Sql[] = [];
    if (target.kind === 'ids') {
      const parts: Prisma.Sql[] = [];
      if (target.ids.length) parts.push(Prisma.sql`s.id IN (${Prisma.join(target.ids)})`);
      if (target.jtis.length) parts.push(Prisma.sql`s.jti IN (${Prisma.join(target.jtis)})`);
      conditions.push(Prisma.sql`(${Prisma.join(parts, ' OR ')})`);
    } else {
      if (target.kind === 'user') conditions.push(Prisma.sql`s.user_id = ${userId}`);
      if (target.type) conditions.push(Prisma.sql`s.token_type = ${target.type}`);
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
    const deleted = await tx.$executeRaw(Prisma.sql`DELETE FROM user_sessions WHERE id IN (SELECT s.id FROM user_sessions s WHERE ${where})`);
    await writeAuditPrisma(tx, {
      command: 'sessions revoke',
      target: describeTarget(target),
      summary: `revoked ${deleted} session(s)`,
      details: { revoked: deleted, ids: sessions.slice(0, REVOKE_LISTED_MAX).map((s) => s.id), more: total > sessions.length },
    });
    return { ...result, revoked: deleted };
  });
}
