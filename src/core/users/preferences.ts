import type { Db } from '../db/handle.js';
import { writeAudit } from '../audit/write.js';
import { notFound, usageError } from '../errors/errors.js';
import { sql } from '../db/query.js';
import { selectPreference, selectPreferences } from './rows.js';
import { findUser } from './users.js';
import { KNOWN_PREFERENCES } from './preference-keys.js';

/** A decimal number as Python's float() and JSON read it: no hex, no Infinity, no NaN. */
const FLOAT = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** Python refuses to read an int of more digits than this (sys.int_info.str_digits_check_threshold's default limit). */
const MAX_INT_DIGITS = 4300;

/**
 * A float as Python's str()/repr() writes it, which the app reads back with
 * json.loads: the shortest digits that round-trip (as in JavaScript), fixed
 * notation with at least one decimal for exponents from -4 to 15 (`0.0001`,
 * `1e+16` after that, `1e-05` below), a two-digit exponent with its sign, and
 * `-0.0` for negative zero.
 */
function pythonFloatRepr(n: number): string {
  if (!Number.isFinite(n)) throw new RangeError('not a finite number');
  const sign = n < 0 || Object.is(n, -0) ? '-' : '';
  const [mantissa, exp] = Math.abs(n).toExponential().split('e') as [string, string];
  const digits = mantissa.replace('.', '');
  // The value is 0.<digits> x 10^point.
  const point = Number(exp) + 1;
  if (n === 0) return `${sign}0.0`;
  if (point > -4 && point <= 16) {
    if (point <= 0) return `${sign}0.${'0'.repeat(-point)}${digits}`;
    if (point >= digits.length) return `${sign}${digits}${'0'.repeat(point - digits.length)}.0`;
    return `${sign}${digits.slice(0, point)}.${digits.slice(point)}`;
  }
  const e = point - 1;
  return `${sign}${digits[0]}${digits.length > 1 ? `.${digits.slice(1)}` : ''}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`;
}

const TRUE = new Set(['true', 'yes', 'on', '1']);
const FALSE = new Set(['false', 'no', 'off', '0']);

/**
 * Encodes a value as the app stores it: Python's str() for scalars (so
 * booleans are "True"/"False" and floats keep a ".0"), JSON text for
 * structured values, and plain text otherwise.
 */
export function encodePreference(key: string, raw: string): string {
  const kind = KNOWN_PREFERENCES[key];
  switch (kind) {
    case 'bool': {
      const v = raw.trim().toLowerCase();
      if (TRUE.has(v)) return 'True';
      if (FALSE.has(v)) return 'False';
      throw usageError(`${key} is a yes/no setting; "${raw}" is neither.`, 'Use true or false.');
    }
    case 'int': {
      const text = raw.trim();
      if (!/^[+-]?\d+$/.test(text)) throw usageError(`${key} takes a whole number, not ${JSON.stringify(raw)}.`, 'Give a whole number, such as 50, without a decimal point or unit.');
      // Exact digits, as Python's str() writes them: a float would round 99999999999999999999 and write 1e+22.
      const digits = BigInt(text).toString();
      if (digits.replace('-', '').length > MAX_INT_DIGITS) {
        throw usageError(`${key} is ${digits.replace('-', '').length} digits long; the app reads at most ${MAX_INT_DIGITS} (Python's int() limit).`, 'Give a smaller number.');
      }
      return digits;
    }
    case 'float': {
      const text = raw.trim();
      const n = Number(text);
      if (!FLOAT.test(text) || !Number.isFinite(n)) {
        throw usageError(`${key} takes a number, such as 0.7 or 1e-3, not ${JSON.stringify(raw)}.`, 'Give a finite decimal number.');
      }
      return pythonFloatRepr(n);
    }
    default:
      return raw;
  }
}

export function isKnownPreference(key: string): boolean {
  return Object.hasOwn(KNOWN_PREFERENCES, key);
}

function validateKey(key: string): void {
  if (!key || key.length > 255 || /\s/.test(key)) {
    throw usageError(`"${key}" is not a preference key.`, 'Keys are up to 255 characters without spaces, such as theme or default_model.');
  }
}

/**
 * A key `set` would add: no control or invisible format characters either,
 * as for emails and full names. A stored key that holds some (another tool
 * wrote it) can still be read, changed and unset by its exact name.
 */
function validateNewKey(key: string): void {
  if (/[\p{Cc}\p{Cf}\u2028\u2029]/u.test(key)) {
    throw usageError(`"${key}" is not a preference key: it holds control or invisible characters.`, 'Keys are letters, digits and punctuation, such as theme or default_model.');
  }
}

export interface PreferenceRow {
  key: string;
  value: string | null;
  known: boolean;
  updatedAt: string;
}

export async function listPreferences(db: Db, username: string): Promise<PreferenceRow[]> {
  const conn = await db.sql();
  const user = await findUser(conn, username);
  const rows = await selectPreferences(conn, user.id);
  return rows.map((r) => ({ key: r.key, value: r.value, known: isKnownPreference(r.key), updatedAt: r.updatedAt }));
}

function noSuchPreference(username: string, key: string) {
  return notFound('PREFERENCE_NOT_FOUND', `${username} has no preference "${key}".`, `List them with \`authctl user prefs ${username}\`.`);
}

export async function getPreference(db: Db, username: string, key: string): Promise<PreferenceRow> {
  validateKey(key);
  const conn = await db.sql();
  const user = await findUser(conn, username);
  const row = await selectPreference(conn, user.id, key);
  if (!row) throw noSuchPreference(username, key);
  return { key, value: row.value, known: isKnownPreference(key), updatedAt: row.updatedAt };
}

export async function setPreference(
  db: Db,
  username: string,
  key: string,
  raw: string,
): Promise<{ row: PreferenceRow; previous: string | null; changed: boolean }> {
  validateKey(key);
  const value = encodePreference(key, raw);
  const conn = await db.sql();
  return conn.transaction(async (tx) => {
    const user = await findUser(tx, username);
    const existing = await selectPreference(tx, user.id, key);
    if (!existing) validateNewKey(key);
    if (existing && existing.value === value) {
      return { row: { key, value, known: isKnownPreference(key), updatedAt: existing.updatedAt }, previous: value, changed: false };
    }
    const now = new Date();
    if (existing) {
      await tx.run(sql`UPDATE user_preferences SET preference_value = ${value}, updated_at = ${now} WHERE id = ${existing.id}`);
    } else {
      await tx.run(sql`
        INSERT INTO user_preferences (user_id, preference_key, preference_value, created_at, updated_at)
        VALUES (${user.id}, ${key}, ${value}, ${now}, ${now})`);
    }
    await writeAudit(tx, {
      command: 'user prefs set',
      target: username,
      summary: `set preference ${key} of ${username}`,
      details: { key, value, previous: existing?.value ?? null },
    });
    return { row: { key, value, known: isKnownPreference(key), updatedAt: now.toISOString() }, previous: existing?.value ?? null, changed: true };
  });
}

export async function unsetPreference(db: Db, username: string, key: string): Promise<{ previous: string | null }> {
  validateKey(key);
  const conn = await db.sql();
  return conn.transaction(async (tx) => {
    const user = await findUser(tx, username);
    const existing = await selectPreference(tx, user.id, key);
    if (!existing) throw noSuchPreference(username, key);
    await tx.run(sql`DELETE FROM user_preferences WHERE id = ${existing.id}`);
    await writeAudit(tx, { command: 'user prefs unset', target: username, summary: `removed preference ${key} of ${username}`, details: { key, previous: existing.value } });
    return { previous: existing.value };
  });
}
