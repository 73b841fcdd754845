import { parentPort, workerData } from 'node:worker_threads';
import { verifyPassword } from './password.js';

/** One bcrypt verification: does `password` (a public default) match the hash? */
interface Job {
  key: number;
  hash: string;
  password: string;
}

/** Verifies each job; answers the keys that matched, never a password or hash. */
async function run(jobs: Job[]): Promise<number[]> {
  const matched: number[] = [];
  for (const job of jobs) if (await verifyPassword(job.password, job.hash)) matched.push(job.key);
  return matched;
}

parentPort!.postMessage(await run(workerData as Job[]));
