import { createHash } from 'node:crypto';
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import { APP_DEFAULT_ACCOUNTS, DEFAULT_PASSWORDS } from './password.js';
import type { WorkerMessage } from './weak-worker.js';

/** Told after each bcrypt verification: how many are done of how many in all. */
export type HashProgress = (done: number, total: number) => void;

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

/** Admins and the app's documented accounts: checked on every run, never remembered. */
export function alwaysChecked(user: { username: string; isAdmin: boolean }): boolean {
  return user.isAdmin || APP_DEFAULT_ACCOUNTS.some((a) => a.username === user.username);
}

/**
 * What doctor remembers of a hash it found not weak: the SHA-256 (hex) of
 * the candidate list, the username (a candidate itself) and the hash. A new
 * password, a rename or a longer candidate list gives another digest, which
 * is then checked again. Neither the hash nor a password can be read back.
 */
export function checkedDigest(user: { username: string; hash: string }, candidates = DEFAULT_PASSWORDS): string {
  return createHash('sha256').update(JSON.stringify([candidates, user.username, user.hash])).digest('hex');
}

export function describeFinding(f: WeakPasswordFinding): string {
  if (f.reason === 'app-account') {
    const origin = APP_DEFAULT_ACCOUNTS.find((a) => a.username === f.username)?.origin ?? 'documented by the app';
    return `${f.username} (still the app's default account ${f.account}, ${origin})`;
  }
  return `${f.username} (${f.reason === 'username' ? 'password is the username' : 'a well-known default password'})`;
}

type Reason = WeakPasswordFinding['reason'];

/** The passwords tried on one user, in the order a match is reported: its documented one, its username, the defaults. */
function triesFor(user: HashedUser, candidates: readonly string[]): Map<string, Reason> {
  const account = APP_DEFAULT_ACCOUNTS.find((a) => a.username === user.username);
  const tries = new Map<string, Reason>();
  if (account) tries.set(account.password, 'app-account');
  if (!tries.has(user.username)) tries.set(user.username, 'username');
  for (const c of candidates) if (!tries.has(c)) tries.set(c, 'default');
  return tries;
}

/**
 * Finds users whose hash verifies against a default password or their own
 * username. Each verification is a full bcrypt run (about a quarter of a
 * second at cost 12), so every (user, password) pair is a job of its own,
 * spread evenly over one worker thread per core: a single admin's checks
 * take a fraction of the time one thread would.
 */
export async function findWeakPasswords(
  users: HashedUser[],
  onProgress?: HashProgress,
  candidates: readonly string[] = DEFAULT_PASSWORDS,
): Promise<WeakPasswordFinding[]> {
  const pairs = users.flatMap((user) => [...triesFor(user, candidates)].map(([password, reason]) => ({ user, password, reason })));
  if (pairs.length === 0) return [];
  let done = 0;
  onProgress?.(0, pairs.length);
  const workers = Math.min(pairs.length, Math.max(1, os.availableParallelism()));
  const chunks: Array<Array<{ key: number; hash: string; password: string }>> = Array.from({ length: workers }, () => []);
  pairs.forEach((p, key) => chunks[key % workers]!.push({ key, hash: p.user.hash, password: p.password }));
  const script = new URL('./weak-worker.js', import.meta.url);
  const matched = await Promise.all(
    chunks.map(
      (jobs) =>
        new Promise<number[]>((resolve, reject) => {
          const worker = new Worker(script, { workerData: jobs });
          worker.on('message', (message: WorkerMessage) => {
            if ('matched' in message) resolve(message.matched);
            else onProgress?.(++done, pairs.length);
          });
          worker.once('error', reject);
          worker.once('exit', (code) => {
            if (code !== 0) reject(new Error(`password check worker exited with ${code}`));
          });
        }),
    ),
  );
  // Pairs are in try order per user, so the first match per user is the one to report.
  const found = new Map<number, WeakPasswordFinding>();
  for (const key of matched.flat().sort((a, b) => a - b)) {
    const { user, password, reason } = pairs[key]!;
    if (found.has(user.id)) continue;
    found.set(user.id, { id: user.id, username: user.username, reason, ...(reason === 'app-account' ? { account: `${user.username}/${password}` } : {}) });
  }
  return [...found.values()].sort((a, b) => a.id - b.id);
}
