/**
 * Every DATETIME value authctl writes or compares goes through this module.
 *
 * The app (SQLAlchemy on SQLite) stores naive UTC as `YYYY-MM-DD HH:MM:SS.ffffff`
 * and can parse nothing else, while Prisma's SQLite adapter writes ISO text such
 * as `2026-11-26T20:18:32.723+00:00`. authctl writes only the app's form and
 * reads both.
 */

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

/** The app's own DATETIME text for an instant, in UTC with microseconds. */
export function formatAppTimestamp(date: Date): string {
  if (Number.isNaN(date.getTime())) throw new RangeError('Invalid date');
  return (
    `${pad(date.getUTCFullYear(), 4)}-${pad(date.getUTCMonth() + 1)}-${pad(date.getUTCDate())} ` +
    `${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())}.` +
    `${pad(date.getUTCMilliseconds(), 3)}000`
  );
}

/**
 * The one definition of a stored timestamp authctl can read (a "known form"),
 * shared by the JavaScript reader ({@link tryParseDbTimestamp}) and the SQL
 * conditions ({@link sqliteKnown}), which must agree on every value:
 *
 * - a date `YYYY-MM-DD`, alone or followed by exactly one `T` or space and
 *   `HH:MM`, optionally `:SS`, optionally a `.` and a fraction of any length;
 * - after a time, optionally `Z` or an offset `±HH:MM`;
 * - nothing else: no leading or trailing space, no lowercase `t` or `z`, no
 *   offset without its colon, at most {@link KNOWN_MAX_LENGTH} characters.
 *
 * Fields: month 01-12, a day that exists in that month (no 2026-02-30,
 * which SQLite alone would read as 2026-03-02), hour 00-24 (24:00 is the next
 * day's start, as in SQLite), minutes and seconds 00-59, offset hours 00-14;
 * and an instant no later than the end of year 9999. Naive text is UTC.
 *
 * This is the subset of what SQLite's date functions read that is written as
 * ISO 8601; SQLite alone would also take spaces around the parts and a
 * lowercase `z`, which the app and other readers would not.
 */
const DB_TIMESTAMP =
  /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?(Z|[+-]\d{2}:\d{2})?)?$/;

/** No known form is longer: the longest real one, nanoseconds and an offset, is 35. */
const KNOWN_MAX_LENGTH = 40;

/**
 * Reads a DATETIME value in any form found in the shared database: the app's
 * naive UTC text, ISO text with any offset, a Date from a driver, or epoch
 * milliseconds. Naive text is UTC, never local time. Throws on anything else;
 * {@link tryParseDbTimestamp} returns null instead.
 */
export function parseDbTimestamp(value: string | Date | number | bigint): Date {
  const date = tryParseDbTimestamp(value);
  if (!date) throw new RangeError(`Unrecognised timestamp: ${String(value)}`);
  return date;
}

/** {@link parseDbTimestamp}, or null for a value in no form it knows. */
export function tryParseDbTimestamp(value: string | Date | number | bigint): Date | null {
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value;
  if (typeof value === 'number' || typeof value === 'bigint') {
    const d = new Date(Number(value));
    return Number.isNaN(d.getTime()) ? null : d;
  }
  if (typeof value !== 'string') return null;
  return parseKnownText(value);
}

/**
 * A value exactly as a SQLite DATETIME column returned it (text, an integer
 * or real, a BLOB as a Buffer, NULL) as an instant, or null when it is in no
 * known form: only text can be, as only text passes {@link sqliteKnown}.
 */
export function readStoredTimestamp(value: unknown): Date | null {
  return typeof value === 'string' ? parseKnownText(value) : null;
}

/**
 * Text in the known form as an instant, or null. The instant is the one
 * SQLite's julianday() gives for the same text, to the millisecond: the
 * fraction is read as SQLite reads it (capped at .999, then rounded to the
 * nearest millisecond), so comparisons in SQL and here never differ.
 */
function parseKnownText(text: string): Date | null {
  if (text.length > KNOWN_MAX_LENGTH) return null;
  const m = DB_TIMESTAMP.exec(text);
  if (!m) return null;
  const [, y, mo, d, h = '0', mi = '0', s = '0', frac = '', zone] = m;
  if (+mo! < 1 || +mo! > 12 || +d! < 1 || +d! > 31 || +h > 24 || +mi > 59 || +s > 59) return null;
  // setUTCFullYear, not Date.UTC, which would read years 0-99 as 1900-1999.
  const day = new Date(0);
  day.setUTCFullYear(Number(y), Number(mo) - 1, Number(d));
  if (day.getUTCDate() !== Number(d)) return null;
  let t = day.getTime() + Number(h) * 3_600_000 + Number(mi) * 60_000;
  // SQLite: the fraction's digits as a double, capped at 0.999, then (s * 1000 + 0.5) truncated.
  let fraction = 0;
  let scale = 1;
  for (const digit of frac) {
    fraction = fraction * 10 + (digit.charCodeAt(0) - 48);
    scale *= 10;
  }
  fraction /= scale;
  if (fraction > 0.999) fraction = 0.999;
  t += Math.trunc((Number(s) + fraction) * 1000 + 0.5);
  if (zone && zone !== 'Z') {
    const sign = zone.startsWith('-') ? -1 : 1;
    const [oh, om] = zone.slice(1).split(':').map(Number);
    if (oh! > 14 || om! > 59) return null;
    t -= sign * (oh! * 60 + om!) * 60_000;
  }
  // SQLite's julianday() refuses an instant past the end of year 9999 (UTC).
  if (t > LAST_INSTANT_MS) return null;
  return new Date(t);
}

/** 9999-12-31T23:59:59.999Z, the last instant SQLite's date functions give. */
const LAST_INSTANT_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

const DATE_GLOB = '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]';
/** The app's naive UTC form, `2026-11-30 17:49:05.123456`: a subset of the known form. */
const APP_FORM_GLOB = `${DATE_GLOB} [0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]`;

/**
 * On PostgreSQL, the instants a timestamp column holds that authctl reads:
 * years 1 to 9999, the years the text forms above can write. infinity,
 * -infinity, BC dates and later years are in no known form there, as text
 * in no form is on SQLite: neither expired nor active, never purged.
 */
export const PG_KNOWN_FROM = '0001-01-01 00:00:00';
export const PG_KNOWN_UNTIL = '10000-01-01 00:00:00';

/**
 * A SQLite condition true when `column` holds a timestamp in the known form
 * (see {@link DB_TIMESTAMP}): TEXT, no NUL, a date alone or a date, one `T`
 * or space and `HH:MM`, then only digits, `:`, `.`, `+`, `-` or `Z`; a day
 * past 28 that date() keeps as it is (so one that exists in its month); and
 * readable by julianday(), which checks the rest. Integers, reals, BLOBs,
 * julian-day numbers and other text are in no known form.
 */
export function sqliteKnown(column: string): string {
  // The app's own form is tested first, with one fixed-width GLOB: it passes
  // every test of the general form, which costs about twice as much per row
  // (the `*[^...]*` pattern scans the tail from every position), and a purge
  // evaluates this on every expired row.
  return (
    `(typeof(${column}) = 'text' AND (${column} GLOB '${APP_FORM_GLOB}' OR (length(${column}) <= ${KNOWN_MAX_LENGTH} AND instr(${column}, char(0)) = 0` +
    ` AND (${column} GLOB '${DATE_GLOB}' OR (${column} GLOB '${DATE_GLOB}[ T][0-9][0-9]:[0-9][0-9]*'` +
    ` AND substr(${column}, 17) NOT GLOB '*[^0-9:.+Z-]*'))))` +
    ` AND (substr(${column}, 9, 2) <= '28' OR date(substr(${column}, 1, 10)) = substr(${column}, 1, 10))` +
    ` AND julianday(${column}) IS NOT NULL)`
  );
}

const DAY_MS = 86_400_000;

/**
 * A SQLite condition true when `column` holds an instant strictly before `at`,
 * whichever form and offset the row was written in, and still able to use
 * the column's index. Rows in no known form are never before anything.
 *
 * SQLite compares TEXT byte by byte, which is wrong between forms (' ' sorts
 * before 'T') and between offsets (an offset moves the instant up to 15 hours
 * from the text). So only the date at the start of the text is compared as
 * text: a row dated two days or more before `at`'s UTC day is before it
 * whatever its offset, and one dated two days or more after is not; the rows
 * in between, a few days' worth, are compared as instants with julianday(),
 * which reads every offset form.
 */
export function sqliteBefore(column: string, at: Date): { sql: string; params: string[] } {
  const low = formatAppTimestamp(new Date(at.getTime() - DAY_MS)).slice(0, 10);
  const high = formatAppTimestamp(new Date(at.getTime() + 2 * DAY_MS)).slice(0, 10);
  const known = sqliteKnown(column);
  return {
    // Integers and reals sort below all text, so `>= '0'` also leaves them out of the index range.
    sql: `((${column} >= '0' AND ${column} < ? AND ${known}) OR (${column} >= ? AND ${column} < ? AND ${known} AND julianday(${column}) < julianday(?)))`,
    params: [low, low, high, at.toISOString()],
  };
}

/** `column` holds a readable instant at or after `at`: the complement of {@link sqliteBefore} among known rows. */
export function sqliteNotBefore(column: string, at: Date): { sql: string; params: string[] } {
  const before = sqliteBefore(column, at);
  return { sql: `(${sqliteKnown(column)} AND NOT ${before.sql})`, params: before.params };
}

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** The longest duration accepted anywhere: ten years, far past any session's life, far inside the dates both databases store. */
export const MAX_DURATION_MS = 3650 * 86_400_000;

/**
 * Parses durations such as `30m`, `12h`, `7d` or `1h30m` into milliseconds,
 * from 0 to 3650d ({@link MAX_DURATION_MS}); anything else throws a RangeError.
 */
export function parseDuration(text: string): number {
  const trimmed = text.trim();
  if (/^0+$/.test(trimmed)) return 0;
  const re = /(\d+)\s*([smhdw])/gy;
  let total = 0;
  let consumed = 0;
  for (let m = re.exec(trimmed); m; m = re.exec(trimmed)) {
    total += Number(m[1]) * UNITS[m[2]!]!;
    consumed = re.lastIndex;
  }
  if (consumed === 0 || consumed !== trimmed.length) {
    throw new RangeError(`"${text}" is not a duration; use forms such as 30m, 12h, 7d or 1h30m`);
  }
  // Huge digit strings become Infinity or lose precision: both fail here.
  if (!Number.isSafeInteger(total) || total > MAX_DURATION_MS) {
    throw new RangeError(`"${text}" is longer than 3650d (about ten years); durations go from 0 to 3650d`);
  }
  return total;
}

/** "in 5m", "3h ago": a short human distance from now. */
export function relativeTime(date: Date, now = new Date()): string {
  const diff = date.getTime() - now.getTime();
  const abs = Math.abs(diff);
  const steps: Array<[number, string]> = [
    [86_400_000, 'd'],
    [3_600_000, 'h'],
    [60_000, 'm'],
    [1000, 's'],
  ];
  let text = '0s';
  for (const [size, unit] of steps) {
    if (abs >= size) {
      text = `${Math.floor(abs / size)}${unit}`;
      break;
    }
  }
  return diff >= 0 ? `in ${text}` : `${text} ago`;
}

/** A date, or a date and time with optional seconds, fraction and offset: what `--since` and `--until` take besides a duration. */
const INSTANT = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:?\d{2})?)?$/i;

/**
 * Reads a point in time given to an option: a duration (`24h`, `7d`, `1h30m`)
 * means that long before `now`; `YYYY-MM-DD` is that day's start in UTC;
 * ISO 8601 with a time is UTC unless it carries an offset. Anything else,
 * or an impossible date such as 2026-02-30, throws a RangeError that says
 * which forms work.
 */
export function parseInstant(text: string, now = new Date()): Date {
  const trimmed = text.trim();
  if (/^\d+\s*[smhdw]/i.test(trimmed) || /^0+$/.test(trimmed)) {
    return new Date(now.getTime() - parseDuration(trimmed.toLowerCase()));
  }
  const m = INSTANT.exec(trimmed);
  if (m) {
    const [, y, mo, d, h = '0', mi = '0', s = '0', frac = '', zone] = m;
    const ms = Number(frac.padEnd(3, '0').slice(0, 3));
    let t = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s), ms);
    const date = new Date(t);
    const valid =
      date.getUTCFullYear() === Number(y) && date.getUTCMonth() === Number(mo) - 1 && date.getUTCDate() === Number(d) &&
      date.getUTCHours() === Number(h) && date.getUTCMinutes() === Number(mi) && date.getUTCSeconds() === Number(s);
    if (valid && zone && zone.toUpperCase() !== 'Z') {
      const [oh, om] = [Number(zone.slice(1, 3)), Number(zone.slice(-2))];
      if (oh <= 14 && om <= 59) {
        t -= (zone.startsWith('-') ? -1 : 1) * (oh * 60 + om) * 60_000;
        return new Date(t);
      }
    } else if (valid) {
      return date;
    }
  }
  throw new RangeError(
    `"${text}" is neither a duration nor a date; use forms such as 24h, 7d, 2026-11-30 or 2026-11-30T08:00:00Z (UTC unless an offset is given)`,
  );
}
