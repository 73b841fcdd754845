import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { startCli } from './cli.js';
import type { TestDb } from './db.js';

export async function countSessions(db: TestDb, where = 'TRUE'): Promise<number> {
  return Number((await db.query<{ n: number }>(`SELECT count(*) AS n FROM user_sessions WHERE ${where}`))[0]!.n);
}

/** Starts `sessions purge` on this database; a hung purge is killed after 100 s so it never keeps the file busy. */
export function startPurge(db: TestDb, args: string[]) {
  return startCli(['sessions', 'purge', ...args], { cwd: db.cwd, env: db.env, timeoutMs: 100_000 });
}

/** Resolves once rows start disappearing: the purge then holds its lock. */
export async function untilDeleting(db: TestDb, total: number): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if ((await countSessions(db)) < total) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error('the purge never started deleting');
}

/**
 * Prints a line each time any process opens `path`, through inotify (Linux;
 * Node's fs.watch does not report opens). "ready" once watching.
 */
const OPEN_WATCHER = String.raw`
import ctypes, os, struct, sys
libc = ctypes.CDLL(None, use_errno=True)
fd = libc.inotify_init()
if fd < 0 or libc.inotify_add_watch(fd, sys.argv[1].encode(), 0x20) < 0:
    sys.exit("inotify: " + os.strerror(ctypes.get_errno()))
print("ready", flush=True)
while True:
    buf = os.read(fd, 4096)
    off = 0
    while off < len(buf):
        _wd, mask, _cookie, size = struct.unpack_from("iIII", buf, off)
        off += 16 + size
        if mask & 0x20:
            print("open", flush=True)
`;

/**
 * Counts the tries another run makes at `job`'s lock while the test holds it
 * (holdJobLock): on SQLite each try opens the lock's side file twice (a
 * descriptor of its own, then SQLite's); on PostgreSQL each is a new
 * pg_try_advisory_lock query. Start it before the run that will wait.
 */
export async function watchLockTries(db: TestDb, job: string): Promise<{ tries(n: number): Promise<void>; stop(): void }> {
  const deadline = (n: number) => new Error(`fewer than ${n} tries at the ${job} lock in 30 s`);
  if (db.provider === 'sqlite') {
    const watcher = spawn('python3', ['-c', OPEN_WATCHER, `${db.url.slice('sqlite:///'.length)}.authctl-${job}.lock`], { stdio: ['ignore', 'pipe', 'pipe'] });
    let opens = 0;
    let ready: () => void;
    const started = new Promise<void>((resolve, reject) => {
      ready = resolve;
      watcher.on('error', reject);
      watcher.on('exit', (code) => reject(new Error(`the lock watcher exited (${code})`)));
    });
    const waiters: Array<{ opens: number; resolve: () => void }> = [];
    createInterface({ input: watcher.stdout! }).on('line', (line) => {
      if (line === 'ready') ready();
      else opens++;
      for (const w of waiters.filter((w) => opens >= w.opens)) w.resolve();
    });
    await started;
    return {
      tries(n) {
        return new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(deadline(n)), 30_000);
          // The nth try has begun once its first open is seen.
          waiters.push({ opens: 2 * n - 1, resolve: () => (clearTimeout(timer), resolve()) });
          if (opens >= 2 * n - 1) resolve();
        });
      },
      stop: () => void watcher.kill(),
    };
  }
  return {
    async tries(n) {
      const seen = new Set<string>();
      for (let i = 0; i < 1500; i++) {
        const rows = await db.query<{ at: string }>(
          "SELECT query_start::text AS at FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND query LIKE '%pg_try_advisory_lock%'",
        );
        for (const r of rows) seen.add(r.at);
        if (seen.size >= n) return;
        await new Promise((r) => setTimeout(r, 20));
      }
      throw deadline(n);
    },
    stop() {},
  };
}
