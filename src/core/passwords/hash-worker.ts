import { parentPort, workerData } from 'node:worker_threads';
import { hashPassword } from './password.js';

/** Hashes its share of passwords in order; answers the hashes, in the same order. */
async function run({ passwords, rounds }: { passwords: string[]; rounds: number }): Promise<string[]> {
  const hashes: string[] = [];
  for (const password of passwords) hashes.push(await hashPassword(password, rounds));
  return hashes;
}

parentPort!.postMessage(await run(workerData as { passwords: string[]; rounds: number }));
