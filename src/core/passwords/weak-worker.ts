import { parentPort, workerData } from 'node:worker_threads';
import { verifyPassword } from './password.js';

/** One bcrypt verification: does `password` (a public default) match the hash? */
interface Job {
  key: number;
  hash: string;
  password: string;
}

/** A `progress` message after each verification, then the keys that matched; never a password or hash. */
export type WorkerMessage = { progress: true } | { matched: number[] };

async function run(jobs: Job[]): Promise<number[]> {
  const matched: number[] = [];
  for (const job of jobs) {
    if (await verifyPassword(job.password, job.hash)) matched.push(job.key);
    parentPort!.postMessage({ progress: true } satisfies WorkerMessage);
  }
  return matched;
}

parentPort!.postMessage({ matched: await run(workerData as Job[]) } satisfies WorkerMessage);
