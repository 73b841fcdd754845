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
  /** `app-account`: one of the accounts the app documents, still with its documented password. */
  reason: 'app-account' | 'username' | 'default';
  /** For `app-account`: the documented credentials, e.g. `admin/admin` (public, so safe to name). */
  account?: string;
}

/**
 * The accounts the app documents with fixed passwords: the admin it seeds at
 * every start, and the two its setup script (`database/init_db.py
 * --test-users`) creates on request.
 */
const APP_DEFAULT_ACCOUNTS = [
  { username: 'admin', password: 'admin', origin: 'seeded by the app' },
  { username: 'testuser', password: 'testpass', origin: "created by the app's setup script" },
  { username: 'admin2', password: 'admin123', origin: "created by the app's setup script" },
] as const;

export function describeFinding(f: WeakPasswordFinding): string {
  if (f.reason === 'app-account') {
    const origin = APP_DEFAULT_ACCOUNTS.find((a) => a.username === f.username)?.origin ?? 'documented by the app';
    return `${f.username} (still the app's default account ${f.account}, ${origin})`;
  }
  return `${f.username} (${f.reason === 'username' ? 'password is the username' : 'a well-known default password'})`;
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
  const script = new URL('./weak-worker.js', import.meta.url);
  const results = await Promise.all(
    chunks.map(
      (chunk) =>
        new Promise<WeakPasswordFinding[]>((resolve, reject) => {
          const worker = new Worker(script, { workerData: { users: chunk, candidates, accounts: APP_DEFAULT_ACCOUNTS } });
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
