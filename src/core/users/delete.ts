import { writeAudit } from '../audit/write.js';
import type { Db } from '../db/handle.js';
import { asNumber, sql, type Queryable } from '../db/query.js';
import { refused } from '../errors/errors.js';
import { APP_SEEDED_ADMIN } from './admin-placeholder.js';
import type { User } from './rows.js';
import { findUser, guardsLastAdmin, summarise, unreadableFlag, type UserSummary } from './users.js';

/** Rows that go with a deleted user. */
export interface OwnedRows {
  sessions: number;
  preferences: number;
  /** 0 when the app's chat tables do not exist (before app v2.3.0). */
  conversations: number;
  messages: number;
}

export interface DeleteUserResult {
  dryRun: boolean;
  user: UserSummary;
  /** Deleted with the user (or, with dryRun, that would be). */
  deleted: OwnedRows;
  /** The app's chat history (`conversations`, and `messages` with it) exists in this database. */
  chatTables: boolean;
  /** The GPUStack link --force overrode. */
  forced: boolean;
}

/** Whether a table exists in the database (SQLite) or in the current schema (PostgreSQL). */
async function tableExists(q: Queryable, name: string): Promise<boolean> {
  const row =
    q.provider === 'sqlite'
      ? await q.get(sql`SELECT 1 AS found FROM sqlite_master WHERE type = 'table' AND name = ${name}`)
      : await q.get(sql`SELECT 1 AS found FROM pg_tables WHERE schemaname = current_schema() AND tablename = ${name}`);
  return row !== undefined;
}

async function count(q: Queryable, query: ReturnType<typeof sql>): Promise<number> {
  const row = await q.get<{ n: unknown }>(query);
  return asNumber(row!.n);
}

/** Which of the app's chat tables exist: they appear with app v2.3.0, at its first start. */
interface ChatTables {
  conversations: boolean;
  messages: boolean;
}

async function ownedRows(q: Queryable, user: User, chat: ChatTables): Promise<OwnedRows> {
  const id = user.id;
  return {
    sessions: await count(q, sql`SELECT count(*) AS n FROM user_sessions WHERE user_id = ${id}`),
    preferences: await count(q, sql`SELECT count(*) AS n FROM user_preferences WHERE user_id = ${id}`),
    conversations: chat.conversations ? await count(q, sql`SELECT count(*) AS n FROM conversations WHERE user_id = ${id}`) : 0,
    messages: chat.messages
      ? await count(q, sql`SELECT count(*) AS n FROM messages WHERE conversation_id IN (SELECT id FROM conversations WHERE user_id = ${id})`)
      : 0,
  };
}

/**
 * Deletes a user with everything that points at it, in one transaction:
 * sessions, preferences and, when asked, the app's conversations and their
 * messages, so nothing is left dangling (SQLite does not enforce the foreign
 * keys; PostgreSQL does). With dryRun, runs the same checks and counts.
 */
export async function deleteUser(
  db: Db,
  username: string,
  opts: { dryRun: boolean; deleteConversations: boolean; force: boolean },
): Promise<DeleteUserResult> {
  const conn = await db.sql();
  const inTransaction = <T>(fn: (tx: Queryable) => Promise<T>) => (opts.dryRun ? fn(conn) : conn.transaction(fn));
  return inTransaction(async (tx) => {
    const user = await findUser(tx, username);
    if (user.username === APP_SEEDED_ADMIN) {
      throw refused(
        'ADMIN_NAME_RESERVED',
        `The user named "${APP_SEEDED_ADMIN}" cannot be deleted: without it the app seeds admin/admin at its next start.`,
        `Disable it instead: \`authctl user disable ${APP_SEEDED_ADMIN}\` (and \`authctl user reset ${APP_SEEDED_ADMIN}\` to change its password).`,
      );
    }
    if (await guardsLastAdmin(tx, user)) {
      if (user.isAdmin === null || user.isActive === null) throw unreadableFlag(user, 'deleting it', null);
      throw refused(
        'LAST_ADMIN',
        `${username} is the last active admin; deleting it would lock every admin out.`,
        `Make another user an admin first (\`authctl user set <name> --admin\`), or keep the account and disable it: \`authctl user disable ${username} --force\`.`,
      );
    }
    if (user.gpustackUserId !== null && !opts.force) {
      throw refused(
        'GPUSTACK_LINKED',
        `${username} is linked to GPUStack user ${user.gpustackUserId}: the next \`gpustack sync\` would create it again (and the app, at its next login, when it has a GPUStack key).`,
        `Remove the user in GPUStack first, or \`authctl user disable ${username}\`; pass --force to delete it anyway.`,
      );
    }
    const hasConversations = await tableExists(tx, 'conversations');
    const chat: ChatTables = { conversations: hasConversations, messages: hasConversations && (await tableExists(tx, 'messages')) };
    const chatTables = chat.conversations;
    const owned = await ownedRows(tx, user, chat);
    if (owned.conversations > 0 && !opts.deleteConversations) {
      throw refused(
        'OWNS_CONVERSATIONS',
        `${username} owns ${owned.conversations} conversation(s) with ${owned.messages} message(s) in the app's chat history.`,
        'Pass --delete-conversations to delete them with the user, or `authctl user disable` the user to keep them.',
      );
    }
    const result: DeleteUserResult = { dryRun: opts.dryRun, user: summarise(user), deleted: owned, chatTables, forced: user.gpustackUserId !== null };
    if (opts.dryRun) return result;

    const id = user.id;
    // Children first: PostgreSQL enforces the app's foreign keys.
    const deleted: OwnedRows = { sessions: 0, preferences: 0, conversations: 0, messages: 0 };
    if (chat.messages) deleted.messages = await tx.run(sql`DELETE FROM messages WHERE conversation_id IN (SELECT id FROM conversations WHERE user_id = ${id})`);
    if (chat.conversations) deleted.conversations = await tx.run(sql`DELETE FROM conversations WHERE user_id = ${id}`);
    deleted.sessions = await tx.run(sql`DELETE FROM user_sessions WHERE user_id = ${id}`);
    deleted.preferences = await tx.run(sql`DELETE FROM user_preferences WHERE user_id = ${id}`);
    await tx.run(sql`DELETE FROM users WHERE id = ${id}`);
    await writeAudit(tx, {
      command: 'user delete',
      target: username,
      summary: `deleted ${user.isAdmin ? 'admin' : 'user'} ${username} with ${describeOwned(deleted, chatTables)}`,
      details: { userId: id, username, ...deleted, ...(result.forced ? { forced: 'gpustack-linked' } : {}) },
    });
    return { ...result, deleted };
  });
}

/** "3 session(s), 1 preference(s), 2 conversation(s), 9 message(s)"; the chat counts only where the app's chat tables exist. */
export function describeOwned(rows: OwnedRows, chatTables: boolean): string {
  const chat = chatTables ? `, ${rows.conversations} conversation(s), ${rows.messages} message(s)` : '';
  return `${rows.sessions} session(s), ${rows.preferences} preference(s)${chat}`;
}
