import { parentPort, workerData } from 'node:worker_threads';
import { verifyPassword } from './password.js';

interface Job {
  users: Array<{ id: number; username: string; hash: string }>;
  candidates: string[];
  /** The app's documented accounts: each is tried with its own password first. */
  accounts: Array<{ username: string; password: string }>;
}

type Reason = 'app-account' | 'username' | 'default';

/** Tries each candidate once per hash; reports which kind matched, never the password. */
async function run({ users, candidates, accounts }: Job) {
  const found: Array<{ id: number; username: string; reason: Reason; account?: string }> = [];
  for (const user of users) {
    const account = accounts.find((a) => a.username === user.username);
    const tries = new Map<string, Reason>();
    if (account) tries.set(account.password, 'app-account');
    if (!tries.has(user.username)) tries.set(user.username, 'username');
    for (const c of candidates) if (!tries.has(c)) tries.set(c, 'default');
    for (const [candidate, reason] of tries) {
      if (await verifyPassword(candidate, user.hash)) {
        found.push({ id: user.id, username: user.username, reason, ...(reason === 'app-account' ? { account: `${account!.username}/${account!.password}` } : {}) });
        break;
      }
    }
  }
  return found;
}

parentPort!.postMessage(await run(workerData as Job));
