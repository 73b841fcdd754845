import { sqliteBefore, sqliteKnown, sqliteNotBefore } from '../time/timestamps.js';
import type { Provider } from './handle.js';
import { raw, sql, type Sql } from './query.js';

/** A condition from timestamps.ts, SQL text with `?` placeholders, as a fragment. */
function withParams(cond: { sql: string; params: string[] }): Sql {
  return sql(cond.sql.split('?'), ...cond.params);
}

/**
 * A condition true when `column` holds an instant before `at`. PostgreSQL
 * compares real timestamps; SQLite compares text, so it needs the condition
 * from timestamps.ts that handles every text form and offset. A SQLite value
 * in no known form (an integer, other text) is never before anything.
 */
export function before(provider: Provider, column: string, at: Date): Sql {
  if (provider === 'postgresql') return sql`${raw(column)} < ${at}`;
  return withParams(sqliteBefore(column, at));
}

/** `column` holds an instant at or after `at`; on SQLite, values in no known form are left out too. */
export function notBefore(provider: Provider, column: string, at: Date): Sql {
  if (provider === 'postgresql') return sql`${raw(column)} >= ${at}`;
  return withParams(sqliteNotBefore(column, at));
}

/** `column` holds a value in no timestamp form authctl can read: only possible on SQLite. */
export function unknownTimestamp(provider: Provider, column: string): Sql {
  if (provider === 'postgresql') return sql`${raw(column)} IS NULL`;
  return raw(`NOT ${sqliteKnown(column)}`);
}
