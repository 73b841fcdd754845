import { parentPort, workerData } from 'node:worker_threads';
import { verifyPassword } from './password.js';

interface Job {
  users: Array<{ id: number; username: string; hash: string }>;
  candidates: string[];
}

/** Tries each candidate against each hash; reports which kind matched, never the password. */
async function run({ users, candidates }: Job) {
  const found: Array<{ id: number; username: string; reason: 'username' | 'default' }> = [];
  for (const user of users) {
    if (await verifyPassword(user.username, user.hash)) {
      found.push({ id: user.id, username: user.username, reason: 'username' });
      continue;
    }
    for (const candidate of candidates) {
      if (await verifyPassword(candidate, user.hash)) {
        found.push({ id: user.id, username: user.username, reason: 'default' });
        break;
      }
    }
  }
  return found;
}

parentPort!.postMessage(await run(workerData as Job));
