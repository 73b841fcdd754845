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
    `${date.getUTCFullYear()}-${pad(date.getUTCMonth() + 1)}-${pad(date.getUTCDate())} ` +
    `${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())}.` +
    `${pad(date.getUTCMilliseconds(), 3)}000`
  );
}

/** Prisma's ISO form, as its SQLite adapter writes it. */
export function formatIsoTimestamp(date: Date): string {
  return date.toISOString().replace('Z', '+00:00');
}

const DB_TIMESTAMP =
  /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?\s*(Z|[+-]\d{2}:?\d{2})?$/i;

/**
 * Reads a DATETIME value in any form found in the shared database: the app's
 * naive UTC text, Prisma's ISO text with an offset, a Date from a driver, or
 * epoch milliseconds. Naive text is UTC, never local time.
 */
export function parseDbTimestamp(value: string | Date | number | bigint): Date {
  if (value instanceof Date) return value;
  if (typeof value === 'number' || typeof value === 'bigint') return new Date(Number(value));
  const m = DB_TIMESTAMP.exec(value.trim());
  if (!m) throw new RangeError(`Unrecognised timestamp: ${value}`);
  const [, y, mo, d, h = '0', mi = '0', s = '0', frac = '', zone] = m;
  const ms = Number(frac.padEnd(3, '0').slice(0, 3));
  let t = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s), ms);
  if (zone && zone.toUpperCase() !== 'Z') {
    const sign = zone.startsWith('-') ? -1 : 1;
    const digits = zone.slice(1).replace(':', '');
    t -= sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4))) * 60_000;
  }
  return new Date(t);
}

/**
 * A SQLite condition true when `column` holds an instant strictly before `at`,
 * whichever of the two text forms the row was written in, and still able to
 * use the column's index.
 *
 * SQLite compares TEXT byte by byte and ' ' sorts before 'T', so a single
 * comparison is wrong between the forms on the same day. App-form rows are
 * compared against the app form of `at`; ISO rows on earlier days already sort
 * below it, and ISO rows on the same day are compared against the ISO form.
 */
export function sqliteBefore(column: string, at: Date): { sql: string; params: string[] } {
  const day = formatAppTimestamp(at).slice(0, 10);
  return {
    sql: `(${column} < ? OR (${column} >= ? AND ${column} < ?))`,
    params: [formatAppTimestamp(at), `${day}T`, formatIsoTimestamp(at)],
  };
}

/** The negation of {@link sqliteBefore}: `column` is at or after `at`. */
export function sqliteNotBefore(column: string, at: Date): { sql: string; params: string[] } {
  const before = sqliteBefore(column, at);
  return { sql: `NOT ${before.sql}`, params: before.params };
}

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** Parses durations such as `30m`, `12h`, `7d` or `1h30m` into milliseconds. */
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
