import type { Db } from '../db/handle.js';
import { writeAudit } from '../audit/write.js';
import { createUser } from './create.js';
import { becomesActiveAdmin } from './active-admin.js';
import { checkAdminPassword, enforceAdminPassword, type AdminPasswordCheck } from './admin-password.js';
import { AuthctlError, conflict, databaseError, notFound, refused } from '../errors/errors.js';
import { before, notBefore } from '../db/conditions.js';
import { asBool, asNumber, join, raw, sql, type Queryable, type Sql } from '../db/query.js';
import { readableFlagCommand, readUser, selectPreferences, unreadableFlagSql, unreadableFlagText, USER_COLUMNS, type UnreadableColumn, type User, type UserRow } from './rows.js';

/** How a user can log in: with a local password, through GPUStack, both, or not at all. */
export type LoginMethod = 'password' | 'gpustack' | 'password+gpustack' | 'none';

export interface UserSummary {
  id: number;
  username: string;
  email: string | null;
  fullName: string | null;
  /** null when the stored value is not a boolean; see `unreadable`. */
  isAdmin: boolean | null;
  isActive: boolean | null;
  login: LoginMethod;
  gpustackUserId: number | null;
  /** ISO 8601 UTC; a value stored in a form authctl cannot read is passed on as its text, as `sessions list` does. */
  createdAt: string;
  updatedAt: string;
  lastLogin: string | null;
  /** Only when some column holds a value authctl cannot read: that column and its stored value as text. */
  unreadable?: Record<string, string>;
}

function loginMethod(user: Pick<User, 'passwordHash' | 'gpustackUserId'>): LoginMethod {
  const local = Boolean(user.passwordHash);
  const remote = user.gpustackUserId !== null;
  return local && remote ? 'password+gpustack' : local ? 'password' : remote ? 'gpustack' : 'none';
}

/** Never includes the password hash. */
export function summarise(user: User): UserSummary {
  const stored = (column: UnreadableColumn['column']) => user.unreadable.find((u) => u.column === column)?.value;
  return {
    id: user.id,
    username: user.username,
    email: user.email,
    fullName: user.fullName,
    isAdmin: user.isAdmin,
    isActive: user.isActive,
    login: loginMethod(user),
    gpustackUserId: user.gpustackUserId,
    createdAt: user.createdAt ? user.createdAt.toISOString() : stored('created_at')!,
    updatedAt: user.updatedAt ? user.updatedAt.toISOString() : stored('updated_at')!,
    lastLogin: user.lastLogin ? user.lastLogin.toISOString() : (stored('last_login') ?? null),
    ...(user.unreadable.length > 0 ? { unreadable: Object.fromEntries(user.unreadable.map((u) => [u.column, u.value])) } : {}),
  };
}

/** Whether the user may be an active admin: a flag whose stored value cannot be read counts as "may be". */
function mayBeActiveAdmin(user: User): boolean {
  return user.isAdmin !== false && user.isActive !== false;
}

/**
 * Whether changing the user (disabling, demoting, renaming, deleting it)
 * could leave no active admin: it may be one, and no other user is a
 * readable active admin.
 */
export async function guardsLastAdmin(q: Queryable, user: User): Promise<boolean> {
  if (!mayBeActiveAdmin(user)) return false;
  const other = await q.get(sql`SELECT id FROM users WHERE is_admin = ${true} AND is_active = ${true} AND id <> ${user.id} LIMIT 1`);
  return !other;
}

/**
 * The refusal when the last-admin check cannot decide because the user's
 * admin or active flag holds a value that is not a boolean (exit 5): it
 * names the user, the column and the stored value, and what to do.
 */
export function unreadableFlag(user: User, action: string, force: string | null): AuthctlError {
  const flag = user.unreadable.find((u) => u.column === 'is_admin') ?? user.unreadable.find((u) => u.column === 'is_active')!;
  const column = flag.column as 'is_admin' | 'is_active';
  const store = `\`${readableFlagCommand(user.username, column)}\` stores a readable ${column === 'is_admin' ? 'admin' : 'active'} flag`;
  return databaseError(
    'UNREADABLE_VALUE',
    `${unreadableFlagText(user.username, column, flag.value)}: authctl cannot tell whether ${action} would leave no active admin.`,
    `${store}${force ? `; or ${force}` : ''}.`,
  );
}

export async function findUser(q: Queryable, username: string): Promise<User> {
  const row = await q.get<UserRow>(sql`SELECT ${USER_COLUMNS} FROM users WHERE username = ${username}`);
  if (!row) {
    throw notFound('USER_NOT_FOUND', `No user named "${username}".`, 'List users with `authctl user list --all`.');
  }
  return readUser(row);
}

/** The user as `user show` and the password prompts see it; fails with USER_NOT_FOUND. */
export async function getUser(db: Db, username: string): Promise<UserSummary> {
  return summarise(await findUser(await db.sql(), username));
}

/** The error `user add` fails with when the username belongs to someone. */
function usernameTaken(username: string) {
  return conflict('USERNAME_TAKEN', `The username "${username}" is already taken.`, 'Choose another username, or change that user with `authctl user reset`.');
}

/** Fails as addUser would on a taken name, so a command can check before it asks for a password. */
export async function assertUsernameFree(db: Db, username: string): Promise<void> {
  const conn = await db.sql();
  if (await conn.get(sql`SELECT id FROM users WHERE username = ${username}`)) throw usernameTaken(username);
}

/** The error `user add` fails with when the email belongs to someone. */
function emailTaken(email: string) {
  return conflict('EMAIL_TAKEN', `The email ${email} already belongs to another user.`, 'Use another email, or omit --email.');
}

/** Fails as addUser would on a taken email, so a command can check before it asks for a password. */
export async function assertEmailFree(db: Db, email: string): Promise<void> {
  const conn = await db.sql();
  if (await conn.get(sql`SELECT id FROM users WHERE email = ${email}`)) throw emailTaken(email);
}

export interface NewUser {
  username: string;
  email?: string;
  /** Defaults to the username. */
  fullName?: string;
  isAdmin: boolean;
  passwordHash: string;
  passwordGenerated: boolean;
  weakPasswordAllowed: boolean;
}

export async function addUser(db: Db, input: NewUser): Promise<UserSummary> {
  const conn = await db.sql();
  return conn.transaction(async (tx) => {
    if (await tx.get(sql`SELECT id FROM users WHERE username = ${input.username}`)) {
      throw usernameTaken(input.username);
    }
    if (input.email && (await tx.get(sql`SELECT id FROM users WHERE email = ${input.email}`))) {
      throw emailTaken(input.email);
    }
    const user = await createUser(
      tx,
      {
        username: input.username,
        email: input.email ?? null,
        // The app's own sync falls back to the username, and so does authctl.
        fullName: input.fullName || input.username,
        passwordHash: input.passwordHash,
        isAdmin: input.isAdmin,
      },
      () => ({
        command: 'user add',
        target: input.username,
        summary: `added ${input.isAdmin ? 'admin' : 'user'} ${input.username}`,
        details: { admin: input.isAdmin, email: input.email ?? null, passwordGenerated: input.passwordGenerated, weakPasswordAllowed: input.weakPasswordAllowed },
      }),
    );
    return summarise(user);
  });
}

export interface ResetResult {
  user: UserSummary;
  revokedSessions: number;
}

export async function resetPassword(
  db: Db,
  username: string,
  change: { passwordHash: string; keepSessions: boolean; passwordGenerated: boolean; weakPasswordAllowed: boolean },
): Promise<ResetResult> {
  const conn = await db.sql();
  return conn.transaction(async (tx) => {
    const existing = await findUser(tx, username);
    const now = new Date();
    await tx.run(sql`UPDATE users SET password_hash = ${change.passwordHash}, updated_at = ${now} WHERE id = ${existing.id}`);
    const user: User = { ...existing, passwordHash: change.passwordHash, updatedAt: now, unreadable: existing.unreadable.filter((u) => u.column !== 'updated_at') };
    const revoked = change.keepSessions ? 0 : await revokeAllSessions(tx, existing.id);
    await writeAudit(tx, {
      command: 'user reset',
      target: username,
      summary: `reset the password of ${username}${change.keepSessions ? ', sessions kept' : `, revoked ${revoked} session(s)`}`,
      details: { revokedSessions: revoked, keepSessions: change.keepSessions, passwordGenerated: change.passwordGenerated, weakPasswordAllowed: change.weakPasswordAllowed },
    });
    return { user: summarise(user), revokedSessions: revoked };
  });
}

/** Deletes every session of the user; returns how many there were. */
function revokeAllSessions(tx: Queryable, userId: number): Promise<number> {
  return tx.run(sql`DELETE FROM user_sessions WHERE user_id = ${userId}`);
}

export interface ActivationResult {
  user: UserSummary;
  changed: boolean;
  revokedSessions: number;
  /** An admin enabled with a well-known password, allowed by --allow-weak-password. */
  weakPasswordAllowed: boolean;
}

export async function setUserActive(
  db: Db,
  username: string,
  active: boolean,
  opts: { force: boolean; allowWeakPassword?: boolean },
): Promise<ActivationResult> {
  const conn = await db.sql();
  // Enabling an admin tries its password against the well-known ones first,
  // outside the write lock (a few bcrypt runs).
  const reenablesAdmin = (u: User) => active && becomesActiveAdmin(u, { isAdmin: u.isAdmin, isActive: true });
  let passwordCheck: AdminPasswordCheck | undefined;
  if (active) {
    const before = await findUser(conn, username);
    if (reenablesAdmin(before)) passwordCheck = await checkAdminPassword(before);
  }
  return conn.transaction(async (tx) => {
    const existing = await findUser(tx, username);
    const weakPassword = reenablesAdmin(existing)
      ? enforceAdminPassword(existing, passwordCheck, `Enabling admin ${username}`, Boolean(opts.allowWeakPassword))
      : undefined;
    if (!active && !opts.force && (await guardsLastAdmin(tx, existing))) {
      if (existing.isAdmin === null || existing.isActive === null) throw unreadableFlag(existing, 'disabling it', 'pass --force to disable it anyway');
      throw refused(
        'LAST_ADMIN',
        `${username} is the last active admin; disabling it would lock every admin out.`,
        'Add or enable another admin first, or pass --force.',
      );
    }
    // Disabling always revokes: a disabled user must not keep a live session.
    const revoked = active ? 0 : await revokeAllSessions(tx, existing.id);
    if (existing.isActive === active) {
      if (revoked > 0) {
        await writeAudit(tx, { command: 'user disable', target: username, summary: `revoked ${revoked} session(s) of disabled user ${username}`, details: { revokedSessions: revoked } });
      }
      return { user: summarise(existing), changed: false, revokedSessions: revoked, weakPasswordAllowed: false };
    }
    const now = new Date();
    await tx.run(sql`UPDATE users SET is_active = ${active}, updated_at = ${now} WHERE id = ${existing.id}`);
    const user: User = { ...existing, isActive: active, updatedAt: now, unreadable: existing.unreadable.filter((u) => u.column !== 'is_active' && u.column !== 'updated_at') };
    await writeAudit(tx, {
      command: active ? 'user enable' : 'user disable',
      target: username,
      summary: active ? `enabled ${username}` : `disabled ${username}, revoked ${revoked} session(s)`,
      details: {
        revokedSessions: revoked,
        forced: opts.force && !active,
        ...(existing.isActive === null ? { storedActive: existing.unreadable.find((u) => u.column === 'is_active')?.value } : {}),
        ...weakPassword,
      },
    });
    return { user: summarise(user), changed: true, revokedSessions: revoked, weakPasswordAllowed: weakPassword !== undefined };
  });
}

export interface ListFilter {
  admins?: boolean;
  /** 'active' (default), 'inactive' or 'all'. */
  state: 'active' | 'inactive' | 'all';
  search?: string;
  /** At most this many users, in username order; every match when absent. */
  limit?: number;
}

export interface ListedUser extends UserSummary {
  activeSessions: number;
}

export interface UserList {
  users: ListedUser[];
  /** How many users match in all; more than listed when the limit cut the list. */
  total: number;
  more: boolean;
  /**
   * Users whose is_active holds a value that is not a boolean: neither active
   * nor disabled, so listed only with state 'all'. 0 when state is 'all'.
   */
  unreadableActive: number;
}

async function activeSessionCounts(q: Queryable, userIds: number[]): Promise<Map<number, number>> {
  if (userIds.length === 0) return new Map();
  const active = notBefore(q.provider, 'expires_at', new Date());
  const rows = await q.all<{ user_id: unknown; n: unknown }>(sql`SELECT user_id, count(*) AS n FROM user_sessions WHERE ${active} GROUP BY user_id`);
  return new Map(rows.map((r) => [asNumber(r.user_id), asNumber(r.n)]));
}

/** `--search`: the needle (lower case) in the username, email or full name, folded as JavaScript folds case. */
function matchesSearch(u: User, needle: string): boolean {
  return [u.username, u.email, u.fullName].some((v) => v?.toLowerCase().includes(needle));
}

export async function listUsers(db: Db, filter: ListFilter): Promise<UserList> {
  const conn = await db.sql();
  const conditions: Sql[] = [];
  if (filter.state !== 'all') conditions.push(sql`is_active = ${filter.state === 'active'}`);
  if (filter.admins) conditions.push(sql`is_admin = ${true}`);
  const where = conditions.length > 0 ? sql` WHERE ${join(conditions, ' AND ')}` : raw('');
  let users: User[];
  let total: number;
  if (filter.search) {
    // Matched here rather than in SQL: SQLite's lower() folds ASCII only, and a search for "élise" must find "Élise".
    const rows = await conn.all<UserRow>(sql`SELECT ${USER_COLUMNS} FROM users${where} ORDER BY username ASC`);
    const needle = filter.search.toLowerCase();
    const found = rows.map(readUser).filter((u) => matchesSearch(u, needle));
    total = found.length;
    users = filter.limit === undefined ? found : found.slice(0, filter.limit);
  } else {
    const limit = filter.limit === undefined ? raw('') : sql` LIMIT ${filter.limit}`;
    users = (await conn.all<UserRow>(sql`SELECT ${USER_COLUMNS} FROM users${where} ORDER BY username ASC${limit}`)).map(readUser);
    total = filter.limit === undefined || users.length < filter.limit
      ? users.length
      : asNumber((await conn.get<{ n: unknown }>(sql`SELECT count(*) AS n FROM users${where}`))!.n);
  }
  const counts = await activeSessionCounts(conn, users.map((u) => u.id));
  // The users left out for an unreadable is_active, counted under the same --admins and --search as the listing.
  let unreadableActive = 0;
  if (filter.state !== 'all') {
    const admins = filter.admins ? sql` AND is_admin = ${true}` : raw('');
    const odd = (await conn.all<UserRow>(sql`SELECT ${USER_COLUMNS} FROM users WHERE ${unreadableFlagSql('is_active')}${admins}`)).map(readUser);
    const needle = filter.search?.toLowerCase();
    unreadableActive = needle === undefined ? odd.length : odd.filter((u) => matchesSearch(u, needle)).length;
  }
  return {
    users: users.map((u) => ({ ...summarise(u), activeSessions: counts.get(u.id) ?? 0 })),
    total,
    more: total > users.length,
    unreadableActive,
  };
}

export interface UserDetails extends UserSummary {
  /** unknownExpiry: sessions whose expiry is in no known form, neither active nor expired. */
  sessions: { active: number; expired: number; activeAccess: number; activeRefresh: number; unknownExpiry: number };
  preferences: Array<{ key: string; value: string | null; updatedAt: string }>;
  /** The legacy JSON blob in users.preferences, which the app also reads. */
  legacyPreferences: unknown;
}

export async function showUser(db: Db, username: string): Promise<UserDetails> {
  const conn = await db.sql();
  const user = await findUser(conn, username);
  const now = new Date();
  // 1 expired, 0 active, NULL for an expiry in no known form: counted apart, as sessions list does.
  const rows = await conn.all<{ token_type: string; expired: unknown; n: unknown }>(
    sql`SELECT token_type, CASE WHEN ${before(db.provider, 'expires_at', now)} THEN 1 WHEN ${notBefore(db.provider, 'expires_at', now)} THEN 0 END AS expired,
        count(*) AS n FROM user_sessions WHERE user_id = ${user.id} GROUP BY 1, 2`,
  );
  const sessions = { active: 0, expired: 0, activeAccess: 0, activeRefresh: 0, unknownExpiry: 0 };
  for (const r of rows) {
    const n = asNumber(r.n);
    if (r.expired === null) sessions.unknownExpiry += n;
    else if (asBool(r.expired)) sessions.expired += n;
    else {
      sessions.active += n;
      if (r.token_type === 'access') sessions.activeAccess += n;
      if (r.token_type === 'refresh') sessions.activeRefresh += n;
    }
  }
  const prefs = await selectPreferences(conn, user.id);
  let legacy: unknown = null;
  if (user.preferences) {
    try {
      legacy = JSON.parse(user.preferences);
    } catch {
      legacy = user.preferences;
    }
  }
  return {
    ...summarise(user),
    sessions,
    preferences: prefs.map((p) => ({ key: p.key, value: p.value, updatedAt: p.updatedAt })),
    legacyPreferences: legacy,
  };
}
