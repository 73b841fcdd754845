import { startCli } from './cli.js';
import type { TestDb } from './db.js';

export async function countSessions(db: TestDb, where = 'TRUE'): Promise<number> {
  return Number((await db.query<{ n: number }>(`SELECT count(*) AS n FROM user_sessions WHERE ${where}`))[0]!.n);
}

/** Starts `sessions purge` on this database; a hung purge is killed after 100 s so it never keeps the file busy. */
export function startPurge(db: TestDb, args: string[]) {
  return startCli(['sessions', 'purge', ...args], { cwd: db.cwd, env: db.env, timeoutMs: 100_000 });
}

/** Resolves once rows start disappearing: the purge then holds its lock. */
export async function untilDeleting(db: TestDb, total: number): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if ((await countSessions(db)) < total) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error('the purge never started deleting');
}
