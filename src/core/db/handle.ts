import type { DatabaseTarget } from '../config/config.js';
import type { AppClient } from './client.js';
import type { Connection, RawConnection } from './query.js';

export type Provider = DatabaseTarget['provider'];

/**
 * The one way core takes the database, whatever the provider. It names the
 * provider (core branches on this, never on the client), keeps the target
 * for jobs that open their own connections (purge, migrate), and opens each
 * layer only when something first asks for it:
 * - `sql()`: one plain driver connection (better-sqlite3 or pg), which
 *   everyday commands and the readiness check share; it starts in
 *   milliseconds;
 * - `prisma()`: the Prisma client, whose start-up costs about half a second.
 */
export interface Db {
  readonly provider: Provider;
  readonly target: DatabaseTarget;
  sql(): Promise<Connection & RawConnection>;
  prisma(): Promise<AppClient>;
  close(): Promise<void>;
}

export function openDb(target: DatabaseTarget): Db {
  let client: Promise<AppClient> | undefined;
  let conn: Promise<Connection & RawConnection> | undefined;
  return {
    provider: target.provider,
    target,
    sql() {
      conn ??= import('./query.js').then(({ connect }) => connect(target));
      return conn;
    },
    prisma() {
      // Loaded here, not at the top, so the CLI starts without Prisma.
      client ??= import('./client.js').then(({ openClient }) => openClient(target));
      return client;
    },
    async close() {
      const opened = await Promise.all([client?.catch(() => null), conn?.catch(() => null)]);
      client = undefined;
      conn = undefined;
      await opened[0]?.$disconnect();
      await opened[1]?.close();
    },
  };
}
