import type { DatabaseTarget } from '../config/config.js';
import type { AppClient } from './client.js';

export type Provider = DatabaseTarget['provider'];

/**
 * The one way core takes the database, whatever the provider. It names the
 * provider (core branches on this, never on the client), keeps the target
 * for jobs that open their own raw connections (purge, migrate), and opens
 * the Prisma client only when something first asks for it, so commands that
 * never query through Prisma never pay its start-up.
 */
export interface Db {
  readonly provider: Provider;
  readonly target: DatabaseTarget;
  /** The Prisma client on this database, opened on first use and kept until {@link close}. */
  prisma(): Promise<AppClient>;
  close(): Promise<void>;
}

export function openDb(target: DatabaseTarget): Db {
  let client: Promise<AppClient> | undefined;
  return {
    provider: target.provider,
    target,
    prisma() {
      // Loaded here, not at the top, so the CLI starts without Prisma.
      client ??= import('./client.js').then(({ openClient }) => openClient(target));
      return client;
    },
    async close() {
      if (!client) return;
      const opened = await client.catch(() => null);
      client = undefined;
      await opened?.$disconnect();
    },
  };
}
