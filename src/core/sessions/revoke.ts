import { writeAudit } from '../audit/write.js';
import type { Db } from '../db/handle.js';
import { chunked, sql, valueList, type Queryable, type Sql } from '../db/query.js';
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

/** Named ids and jtis in one statement at most: far below SQLite's 32,766 and PostgreSQL's 65,535 parameters. */
const CHUNK = 1000;

/** Named sessions beyond this many are counted, not named, in an audit target or an error. */
const NAMED_MAX = 20;

const chunks = <T>(items: readonly T[]): T[][] => chunked(items, CHUNK);

/** `id 1, jti abc`; past {@link NAMED_MAX}, the first ones and how many more. */
function nameAll(names: string[]): string {
  if (names.length <= NAMED_MAX) return names.join(', ');
  return `${names.slice(0, NAMED_MAX).join(', ')} and ${names.length - NAMED_MAX} more`;
}

function describeTarget(target: RevokeTarget): string {
  if (target.kind === 'ids') {
    return nameAll([...target.ids.map((id) => `id ${id}`), ...target.jtis.map((jti) => `jti ${jti}`)]);
  }
  const type = target.type ? ` (${target.type} only)` : '';
  return target.kind === 'user' ? `user ${target.username}${type}` : `all sessions${type}`;
}

/**
 * The ids of the sessions named by id or jti, a chunk of names per
 * statement so that any number of them fits; fails with SESSION_NOT_FOUND,
 * naming the missing ones, unless every name matches a session.
 */
async function namedSessionIds(tx: Queryable, ids: number[], jtis: string[]): Promise<number[]> {
  const found = new Set<number>();
  const foundIds = new Set<number>();
  const foundJtis = new Set<string>();
  for (const part of chunks(ids)) {
    const rows = await tx.all<{ id: number | string }>(sql`SELECT s.id FROM user_sessions s WHERE s.id IN (${valueList(part)})`);
    for (const r of rows) {
      found.add(Number(r.id));
      foundIds.add(Number(r.id));
    }
  }
  for (const part of chunks(jtis)) {
    const rows = await tx.all<{ id: number | string; jti: string }>(sql`SELECT s.id, s.jti FROM user_sessions s WHERE s.jti IN (${valueList(part)})`);
    for (const r of rows) {
      found.add(Number(r.id));
      foundJtis.add(r.jti);
    }
  }
  const missing = [
    ...ids.filter((id) => !foundIds.has(id)).map((id) => `id ${id}`),
    ...jtis.filter((jti) => !foundJtis.has(jti)).map((jti) => `jti ${jti}`),
  ];
  if (missing.length > 0) {
    throw notFound(
      'SESSION_NOT_FOUND',
      `No session with ${nameAll(missing)}; nothing was revoked.`,
      'Check the ids with `authctl sessions list --all`, then run it again.',
    );
  }
  return [...found].sort((a, b) => b - a);
}

/**
 * Revoking a session is deleting its row: the app refuses a request whose
 * session row is gone. Named sessions must all exist, or nothing is deleted;
 * any number of them is revoked in the one transaction, with one audit row.
 */
export async function revokeSessions(db: Db, input: RevokeInput): Promise<RevokeResult> {
  const now = input.now ?? new Date();
  const { target } = input;
  const conn = await db.sql();
  // A dry run only reads, so it does not take the write lock.
  const inTransaction = <T>(fn: (tx: Queryable) => Promise<T>) => (input.dryRun ? fn(conn) : conn.transaction(fn));
  return inTransaction(async (tx) => {
    if (target.kind === 'ids') {
      // Newest first, as listed.
      const ids = await namedSessionIds(tx, target.ids, target.jtis);
      const listed = ids.slice(0, REVOKE_LISTED_MAX);
      const sessions = await selectSummaries(tx, sql`s.id IN (${valueList(listed)})`, now, listed.length);
      const result: RevokeResult = { dryRun: input.dryRun, revoked: ids.length, sessions, more: ids.length > sessions.length };
      if (input.dryRun) return result;
      let deleted = 0;
      for (const part of chunks(ids)) {
        deleted += await tx.run(sql`DELETE FROM user_sessions WHERE id IN (${valueList(part)})`);
      }
      await writeAudit(tx, {
        command: 'sessions revoke',
        target: describeTarget(target),
        summary: `revoked ${deleted} session(s)`,
        details: { revoked: deleted, ids: listed, more: ids.length > listed.length },
      });
      return { ...result, revoked: deleted };
    }
    const conditions: Sql[] = [];
    if (target.kind === 'user') conditions.push(await ofUser(tx, target.username));
    if (target.type) conditions.push(sql`s.token_type = ${target.type}`);
    const where = andAll(conditions);
    const sessions = await selectSummaries(tx, where, now, REVOKE_LISTED_MAX);
    const total = sessions.length < REVOKE_LISTED_MAX ? sessions.length : await countWhere(tx, where);
    const result: RevokeResult = { dryRun: input.dryRun, revoked: total, sessions, more: total > sessions.length };
    if (input.dryRun || total === 0) return result;
    // The alias is not allowed in a DELETE on every provider, so delete through a subquery.
    const deleted = await tx.run(sql`DELETE FROM user_sessions WHERE id IN (SELECT s.id FROM user_sessions s WHERE ${where})`);
    await writeAudit(tx, {
      command: 'sessions revoke',
      target: describeTarget(target),
      summary: `revoked ${deleted} session(s)`,
      details: { revoked: deleted, ids: sessions.map((s) => s.id), more: total > sessions.length },
    });
    return { ...result, revoked: deleted };
  });
}
