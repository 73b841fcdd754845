import { PG_KNOWN_FROM, PG_KNOWN_UNTIL, sqliteBefore, sqliteKnown, sqliteNotBefore } from '../time/timestamps.js';
import type { Provider } from './handle.js';
import { raw, sql, type Sql } from './query.js';

/** A condition from timestamps.ts, SQL text with `?` placeholders, as a fragment. */
function withParams(cond: { sql: string; params: string[] }): Sql {
  return sql(cond.sql.split('?'), ...cond.params);
}

/**
 * A condition true when `column` holds an instant before `at`. PostgreSQL
 * compares real timestamps; SQLite compares text, so it needs the condition
 * from timestamps.ts that handles every text form and offset. A value in no
 * known form (on SQLite an integer or other text; on PostgreSQL infinity,
 * -infinity or a year outside 1 to 9999) is never before anything, and
 * never at or after anything either.
 */
export function before(provider: Provider, column: string, at: Date): Sql {
  if (provider === 'postgresql') return sql`(${raw(column)} < ${at} AND ${raw(`${column} >= TIMESTAMP '${PG_KNOWN_FROM}'`)})`;
  return withParams(sqliteBefore(column, at));
}

/** `column` holds an instant at or after `at`; values in no known form are left out too. */
export function notBefore(provider: Provider, column: string, at: Date): Sql {
  if (provider === 'postgresql') return sql`(${raw(column)} >= ${at} AND ${raw(`${column} < TIMESTAMP '${PG_KNOWN_UNTIL}'`)})`;
  return withParams(sqliteNotBefore(column, at));
}

/** `column` holds a value in no timestamp form authctl can read: the rows neither before nor at or after any instant. */
export function unknownTimestamp(provider: Provider, column: string): Sql {
  if (provider === 'postgresql') {
    return raw(`(${column} IS NULL OR ${column} < TIMESTAMP '${PG_KNOWN_FROM}' OR ${column} >= TIMESTAMP '${PG_KNOWN_UNTIL}')`);
  }
  return raw(`NOT ${sqliteKnown(column)}`);
}
