import { asNumber, raw, sql, type Queryable, type Sql } from '../db/query.js';
import { tryParseDbTimestamp } from '../time/timestamps.js';

/**
 * A column of a user's row holding a value authctl cannot read: a timestamp
 * in no known form (`''`, `infinity` on PostgreSQL), a boolean that is not
 * 0/1. The row may have been written by another tool; authctl shows such a
 * value as it is stored and keeps working on the rest of the row.
 */
export interface UnreadableColumn {
  column: 'is_admin' | 'is_active' | 'created_at' | 'updated_at' | 'last_login';
  /** The stored value as text (a blob as x'hex'). */
  value: string;
}

/** A user as core reads it: driver values normalised, timestamps as Dates. */
export interface User {
  id: number;
  username: string;
  email: string | null;
  passwordHash: string | null;
  fullName: string | null;
  /** null when the stored value is unreadable (see `unreadable`). */
  isAdmin: boolean | null;
  isActive: boolean | null;
  gpustackUserId: number | null;
  /** The legacy JSON text the app also reads. */
  preferences: string | null;
  /** null when the stored value is unreadable (see `unreadable`). */
  createdAt: Date | null;
  updatedAt: Date | null;
  /** null when never logged in, and when the stored value is unreadable (see `unreadable`). */
  lastLogin: Date | null;
  /** The columns whose stored value could not be read, with that value; empty for a row the app wrote. */
  unreadable: UnreadableColumn[];
}

/** A row of `users` as the driver returns it. */
export interface UserRow {
  id: unknown;
  username: string;
  email: string | null;
  password_hash: string | null;
  full_name: string | null;
  is_admin: unknown;
  is_active: unknown;
  gpustack_user_id: unknown;
  preferences: string | null;
  created_at: unknown;
  updated_at: unknown;
  last_login: unknown;
}

export const USER_COLUMNS = raw(
  'id, username, email, password_hash, full_name, is_admin, is_active, gpustack_user_id, preferences, created_at, updated_at, last_login',
);

/** A stored value as text for people: a blob as x'hex', anything else as it reads. */
export function storedText(value: unknown): string {
  if (Buffer.isBuffer(value) || value instanceof Uint8Array) return `x'${Buffer.from(value).toString('hex')}'`;
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? 'Invalid Date' : value.toISOString();
  return value === null || value === undefined ? 'NULL' : String(value);
}

/** A text column as text: a number or blob another tool stored there is read as its text. */
export function readText(value: unknown): string | null {
  return value === null || value === undefined || typeof value === 'string' ? (value ?? null) : storedText(value);
}

/** SQL: `column` (is_admin, is_active) holds a value that is not a boolean, in the rows {@link readBool} reads as null. */
export function unreadableFlagSql(column: 'is_admin' | 'is_active'): Sql {
  return sql`(${raw(column)} IS NULL OR ${raw(column)} NOT IN (${true}, ${false}))`;
}

/**
 * A boolean column as the drivers give it (true/false, or 1/0 on SQLite);
 * null for anything else, a value the app could not have written, which
 * must not pass for false.
 */
export function readBool(value: unknown): boolean | null {
  if (value === true || value === 1 || value === 1n) return true;
  if (value === false || value === 0 || value === 0n) return false;
  return null;
}

/** `The is_admin column of user "bob" holds "true", not a boolean (0 or 1)`: how a refusal names a flag it cannot read. */
export function unreadableFlagText(username: string, column: 'is_admin' | 'is_active', value: string): string {
  return `The ${column} column of user "${username}" holds ${JSON.stringify(value)}, not a boolean (0 or 1)`;
}

/** The command that stores a readable value in that flag. */
export function readableFlagCommand(username: string, column: 'is_admin' | 'is_active'): string {
  return column === 'is_admin' ? `authctl user set ${username} --admin` : `authctl user enable ${username}`;
}

/** A timestamp in any form the app or authctl writes; null for a value in no known form (a number is never one). */
function readTimestamp(value: unknown): Date | null {
  if (typeof value === 'string' || value instanceof Date) return tryParseDbTimestamp(value);
  return null;
}

export function readUser(row: UserRow): User {
  const unreadable: UnreadableColumn[] = [];
  const bool = (column: 'is_admin' | 'is_active') => {
    const v = readBool(row[column]);
    if (v === null) unreadable.push({ column, value: storedText(row[column]) });
    return v;
  };
  const time = (column: 'created_at' | 'updated_at' | 'last_login') => {
    if (column === 'last_login' && row[column] === null) return null;
    const v = readTimestamp(row[column]);
    if (v === null) unreadable.push({ column, value: storedText(row[column]) });
    return v;
  };
  return {
    id: asNumber(row.id),
    username: readText(row.username) ?? '',
    email: readText(row.email),
    passwordHash: readText(row.password_hash),
    fullName: readText(row.full_name),
    isAdmin: bool('is_admin'),
    isActive: bool('is_active'),
    gpustackUserId: row.gpustack_user_id === null ? null : asNumber(row.gpustack_user_id),
    preferences: readText(row.preferences),
    createdAt: time('created_at'),
    updatedAt: time('updated_at'),
    lastLogin: time('last_login'),
    unreadable,
  };
}

/** One row of `user_preferences`, its timestamp as ISO UTC text (or, when unreadable, the stored value as text). */
export interface StoredPreference {
  id: number;
  key: string;
  value: string | null;
  updatedAt: string;
}

interface PreferenceDbRow {
  id: unknown;
  preference_key: string;
  preference_value: string | null;
  updated_at: unknown;
}

const PREFERENCE_COLUMNS = raw('id, preference_key, preference_value, updated_at');

function readPreference(row: PreferenceDbRow): StoredPreference {
  const updated = readTimestamp(row.updated_at);
  return { id: asNumber(row.id), key: row.preference_key, value: readText(row.preference_value), updatedAt: updated ? updated.toISOString() : storedText(row.updated_at) };
}

/** The user's preference rows, by key. */
export async function selectPreferences(q: Queryable, userId: number): Promise<StoredPreference[]> {
  const rows = await q.all<PreferenceDbRow>(sql`SELECT ${PREFERENCE_COLUMNS} FROM user_preferences WHERE user_id = ${userId} ORDER BY preference_key ASC`);
  return rows.map(readPreference);
}

export async function selectPreference(q: Queryable, userId: number, key: string): Promise<StoredPreference | null> {
  const row = await q.get<PreferenceDbRow>(sql`SELECT ${PREFERENCE_COLUMNS} FROM user_preferences WHERE user_id = ${userId} AND preference_key = ${key}`);
  return row ? readPreference(row) : null;
}
