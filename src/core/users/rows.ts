import { asDate, asNumber, raw, sql, type Queryable } from '../db/query.js';

/** A user as core reads it: driver values normalised, timestamps as Dates. */
export interface User {
  id: number;
  username: string;
  email: string | null;
  passwordHash: string | null;
  fullName: string | null;
  isAdmin: boolean;
  isActive: boolean;
  gpustackUserId: number | null;
  /** The legacy JSON text the app also reads. */
  preferences: string | null;
  createdAt: Date;
  updatedAt: Date;
  lastLogin: Date | null;
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

/**
 * A boolean column as the drivers give it (true/false, or 1/0 on SQLite).
 * Anything else is a row the app could not have written: it fails, as a
 * schema-bound read would, rather than pass for false.
 */
function readBool(value: unknown, column: string): boolean {
  if (value === true || value === 1 || value === 1n) return true;
  if (value === false || value === 0 || value === 0n) return false;
  throw new TypeError(`users.${column} holds a value that is not a boolean`);
}

export function readUser(row: UserRow): User {
  return {
    id: asNumber(row.id),
    username: row.username,
    email: row.email,
    passwordHash: row.password_hash,
    fullName: row.full_name,
    isAdmin: readBool(row.is_admin, 'is_admin'),
    isActive: readBool(row.is_active, 'is_active'),
    gpustackUserId: row.gpustack_user_id === null ? null : asNumber(row.gpustack_user_id),
    preferences: row.preferences,
    createdAt: asDate(row.created_at),
    updatedAt: asDate(row.updated_at),
    lastLogin: row.last_login === null ? null : asDate(row.last_login),
  };
}

/** One row of `user_preferences`, its timestamp as ISO UTC text. */
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
  return { id: asNumber(row.id), key: row.preference_key, value: row.preference_value, updatedAt: asDate(row.updated_at).toISOString() };
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
