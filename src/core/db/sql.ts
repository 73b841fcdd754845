import { Prisma } from '../../generated/sqlite/client.js';
import { sqliteBefore } from '../time/timestamps.js';
import type { Provider } from './handle.js';

/** SQL text with `?` placeholders as a Prisma fragment. */
function withParams(cond: { sql: string; params: string[] }): Prisma.Sql {
  return Prisma.sql(cond.sql.split('?'), ...cond.params);
}

/**
 * A condition true when `column` holds an instant before `at`. PostgreSQL
 * compares real timestamps; SQLite compares text, so it needs the condition
 * from timestamps.ts that handles every text form and offset. A SQLite value
 * in no known form (an integer, other text) is never before anything.
 */
export function before(provider: Provider, column: string, at: Date): Prisma.Sql {
  if (provider === 'postgresql') return Prisma.sql`${Prisma.raw(column)} < ${at}`;
  return withParams(sqliteBefore(column, at));
}

export { Prisma };
