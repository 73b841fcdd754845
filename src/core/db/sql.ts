import { Prisma } from '../../generated/sqlite/client.js';
import type { DatabaseTarget } from '../config.js';
import { sqliteBefore } from '../timestamps.js';

export type Provider = DatabaseTarget['provider'];

const providers = new WeakMap<object, Provider>();

/** Remembers which provider a client talks to, so core code can stay provider-free. */
export function rememberProvider<T extends object>(client: T, provider: Provider): T {
  providers.set(client, provider);
  return client;
}

export function providerOf(client: object): Provider {
  return providers.get(client) ?? 'sqlite';
}

/**
 * A condition true when `column` holds an instant before `at`. PostgreSQL
 * compares real timestamps; SQLite compares text, so it needs the condition
 * from timestamps.ts that handles both text forms.
 */
export function before(provider: Provider, column: string, at: Date): Prisma.Sql {
  if (provider === 'postgresql') return Prisma.sql`${Prisma.raw(column)} < ${at}`;
  const cond = sqliteBefore(column, at);
  const parts = cond.sql.split('?');
  return Prisma.sql(parts, ...cond.params);
}

export { Prisma };
