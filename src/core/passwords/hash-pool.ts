import os from 'node:os';
import { Worker } from 'node:worker_threads';

/**
 * Hashes many passwords at one bcrypt cost on one worker thread per core
 * (bcryptjs is pure JavaScript and holds its thread for the whole hash).
 * Each worker takes an equal, contiguous share, so the hashes come back in
 * the order of `passwords`.
 */
export async function hashPasswords(passwords: string[], rounds: number): Promise<string[]> {
  if (passwords.length === 0) return [];
  const workers = Math.min(passwords.length, Math.max(1, os.availableParallelism()));
  const script = new URL('./hash-worker.js', import.meta.url);
  const shares: string[][] = [];
  for (let w = 0, start = 0; w < workers; w++) {
    const size = Math.floor(passwords.length / workers) + (w < passwords.length % workers ? 1 : 0);
    shares.push(passwords.slice(start, start + size));
    start += size;
  }
  const parts = await Promise.all(
    shares.map(
      (share) =>
        new Promise<string[]>((resolve, reject) => {
          const worker = new Worker(script, { workerData: { passwords: share, rounds } });
          worker.once('message', resolve);
          worker.once('error', reject);
          worker.once('exit', (code) => {
            if (code !== 0) reject(new Error(`password hashing worker exited with ${code}`));
          });
        }),
    ),
  );
  return parts.flat();
}
