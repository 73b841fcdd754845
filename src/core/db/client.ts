import type { SqlDriverAdapter, SqlMigrationAwareDriverAdapterFactory, SqlQuery } from '@prisma/driver-adapter-utils';
import type { DatabaseTarget } from '../config/config.js';
import { formatAppTimestamp, parseDbTimestamp } from '../time/timestamps.js';
import { PrismaClient } from '../../generated/sqlite/client.js';
import { BUSY_TIMEOUT_MS } from './sqlite.js';

export type AppClient = PrismaClient;

/**
 * Rewrites every DateTime argument into the app's own text form before it
 * reaches SQLite, so that no row authctl writes breaks the app's parser. The
 * stock adapter would write Prisma's ISO form, which the app cannot read.
 */
function toAppTimestamps(query: SqlQuery): SqlQuery {
  if (!query.argTypes.some((t) => t?.scalarType === 'datetime')) return query;
  return {
    ...query,
    args: query.args.map((arg, i) =>
      query.argTypes[i]?.scalarType === 'datetime' && arg !== null && arg !== undefined
        ? formatAppTimestamp(parseDbTimestamp(arg as string | Date))
        : arg,
    ),
    argTypes: query.argTypes.map((t) => (t?.scalarType === 'datetime' ? { ...t, scalarType: 'string' as const } : t)),
  };
}

function wrapQueryable<T extends { queryRaw(q: SqlQuery): unknown; executeRaw(q: SqlQuery): unknown }>(inner: T): T {
  return new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === 'queryRaw' || prop === 'executeRaw') {
        return (q: SqlQuery) => target[prop](toAppTimestamps(q));
      }
      if (prop === 'startTransaction') {
        return async (...args: unknown[]) =>
          wrapQueryable(await (target as unknown as SqlDriverAdapter).startTransaction(...(args as [])));
      }
      const value = Reflect.get(target, prop, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/**
 * Makes the adapter open its transactions with BEGIN IMMEDIATE instead of a
 * plain BEGIN. A plain BEGIN takes the write lock only at the first write,
 * after the transaction has read; if the app commits in between, SQLite
 * answers SQLITE_BUSY at once rather than waiting (waiting could deadlock),
 * so `user add` failed whenever the app was writing. IMMEDIATE waits for the
 * app's write lock up front, with the usual busy timeout. The adapter runs
 * its BEGIN through its better-sqlite3 handle (`client`, pinned at 7.10.0),
 * so that handle's prepare is what is adjusted.
 */
function beginImmediate<T>(adapter: T): T {
  const db = (adapter as { client?: { prepare?: (sql: string) => unknown } }).client;
  if (db && typeof db.prepare === 'function') {
    const prepare = db.prepare.bind(db);
    db.prepare = (sql: string) => prepare(sql === 'BEGIN' ? 'BEGIN IMMEDIATE' : sql);
  }
  return adapter;
}

function withAppTimestamps(factory: SqlMigrationAwareDriverAdapterFactory): SqlMigrationAwareDriverAdapterFactory {
  return {
    provider: factory.provider,
    adapterName: factory.adapterName,
    connect: async () => wrapQueryable(beginImmediate(await factory.connect())),
    connectToShadowDb: async () => wrapQueryable(beginImmediate(await factory.connectToShadowDb())),
  };
}

/** A Prisma client on the shared database, writing timestamps the app can read. */
export async function openClient(target: DatabaseTarget): Promise<AppClient> {
  if (target.provider === 'sqlite') {
    const { PrismaBetterSqlite3 } = await import('@prisma/adapter-better-sqlite3');
    const adapter = withAppTimestamps(new PrismaBetterSqlite3({ url: target.file, timeout: BUSY_TIMEOUT_MS }));
    const client = new PrismaClient({ adapter });
    await client.$connect();
    return client;
  }
  // Both generated clients expose the same models; PostgreSQL's adapter already
  // writes timestamps as naive UTC, which is what the app stores there.
  const [{ PrismaPg }, { PrismaClient: PgClient }, { pgPoolConfig }] = await Promise.all([
    import('@prisma/adapter-pg'),
    import('../../generated/postgresql/client.js'),
    import('./pg.js'),
  ]);
  const client = new PgClient({ adapter: new PrismaPg(await pgPoolConfig(target.url)) }) as unknown as AppClient;
  try {
    await client.$connect();
    await client.$queryRawUnsafe('SELECT 1');
  } catch (err) {
    await client.$disconnect().catch(() => {});
    const { pgConnectionError } = await import('./pg.js');
    throw pgConnectionError(target.url, (err as { cause?: unknown }).cause ?? err);
  }
  return client;
}
