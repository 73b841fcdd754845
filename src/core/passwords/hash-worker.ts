import { parentPort, workerData } from 'node:worker_threads';
import bcrypt from 'bcryptjs';

/**
 * Hashes its share of passwords in order, as `$2b$` hashes like
 * hashPassword. The synchronous calls are the fast ones: this thread has
 * nothing else to do.
 */
function run({ passwords, rounds }: { passwords: string[]; rounds: number }): string[] {
  return passwords.map((password) => bcrypt.hashSync(password, bcrypt.genSaltSync(rounds)));
}

parentPort!.postMessage(run(workerData as { passwords: string[]; rounds: number }));
