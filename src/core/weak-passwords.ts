import os from 'node:os';
import { Worker } from 'node:worker_threads';
import { DEFAULT_PASSWORDS } from './password.js';

export interface HashedUser {
  id: number;
  username: string;
  hash: string;
}

export interface WeakPasswordFinding {
  id: number;
  username: string;
  reason: 'username' | 'default';
}

/**
 * Finds users whose hash verifies against a default password or their own
 * username. Each check is a full bcrypt verification (about a quarter of a
 * second at cost 12), so the users are spread over one worker thread per core.
 */
export async function findWeakPasswords(users: HashedUser[], candidates = DEFAULT_PASSWORDS): Promise<WeakPasswordFinding[]> {
  if (users.length === 0) return [];
  const workers = Math.min(users.length, Math.max(1, os.availableParallelism()));
  const chunks: HashedUser[][] = Array.from({ length: workers }, () => []);
  users.forEach((user, i) => chunks[i % workers]!.push(user));
  const script = new URL('./weak-password-worker.js', import.meta.url);
  const results = await Promise.all(
    chunks.map(
      (chunk) =>
        new Promise<WeakPasswordFinding[]>((resolve, reject) => {
          const worker = new Worker(script, { workerData: { users: chunk, candidates } });
          worker.once('message', resolve);
          worker.once('error', reject);
          worker.once('exit', (code) => {
            if (code !== 0) reject(new Error(`password check worker exited with ${code}`));
          });
        }),
    ),
  );
  return results.flat().sort((a, b) => a.id - b.id);
}
