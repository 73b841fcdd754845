// Wall time of every everyday command, as a ratio to a bare `node -e 0`
// measured in the same run (the machines are shared and noisy, so absolute
// times mislead), on a SQLite database with 10 users and 1,000 sessions.
// Goals: --version and --help <= 2.5x; read commands <= 3x and <= 80 MiB
// peak memory; write commands <= 4x (user add at bcrypt cost 10).
// BENCH_RUNS (default 5) runs per median; the best median of 3 rounds counts.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const bin = path.join(root, 'bin', 'authctl');
const runs = Number(process.env.BENCH_RUNS ?? 5);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'authctl-bench-startup-'));
const file = path.join(dir, 'gpustack_ui.db');
const env = { ...process.env, NO_COLOR: '1', AUTHCTL_BCRYPT_ROUNDS: '10' };
delete env.DATABASE_URL;

function authctl(args, input) {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: dir, env, encoding: 'utf8', input });
  if (r.status !== 0) throw new Error(`authctl ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return r;
}

// The database: the first admin, nine users and 1,000 sessions as the app writes them.
authctl(['init-db', '--generate-password']);
for (let i = 1; i <= 9; i++) authctl(['user', 'add', `user${i}`, '--password-stdin'], `Bench-password-${i}-long\n`);
const db = new Database(file);
const stamp = (d) => d.toISOString().replace('T', ' ').replace('Z', '000');
const insert = db.prepare(
  'INSERT INTO user_sessions (user_id, session_token, token_type, jti, created_at, last_accessed, expires_at, ip_address, user_agent) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
);
db.transaction(() => {
  const now = Date.now();
  for (let i = 0; i < 1000; i++) {
    const created = new Date(now - (i % 200) * 3_600_000);
    const type = i % 2 ? 'refresh' : 'access';
    const life = type === 'access' ? 30 * 60_000 : 7 * 86_400_000;
    const at = stamp(created);
    insert.run((i % 10) + 1, `token-${i}`, type, `jti-${i}`, at, at, stamp(new Date(created.getTime() + life)), '127.0.0.1', 'Mozilla/5.0 bench');
  }
})();
const activate = db.prepare("UPDATE users SET is_active = 1 WHERE username = 'user5'");
let sessionId = 0;
// user disable revokes user5's sessions, so revoke others'.
const sessionIds = db.prepare("SELECT id FROM user_sessions WHERE user_id <> (SELECT id FROM users WHERE username = 'user5') ORDER BY id").pluck().all();
let newUser = 0;

/** name, kind, args, and what must happen before each run (outside the timing) */
const cases = [
  ['authctl --version', 'start', ['--version']],
  ['authctl --help', 'start', ['--help']],
  ['user list', 'read', ['user', 'list']],
  ['user show', 'read', ['user', 'show', 'user3']],
  ['sessions list', 'read', ['sessions', 'list']],
  ['sessions stats', 'read', ['sessions', 'stats']],
  ['audit', 'read', ['audit']],
  ['migrate status', 'read', ['migrate', 'status']],
  ['sessions purge --dry-run', 'read', ['sessions', 'purge', '--dry-run']],
  ['user add', 'write', () => ['user', 'add', `new${++newUser}`, '--password-stdin', '--rounds', '10'], 'New-bench-password-1\n'],
  ['user disable', 'write', () => (activate.run(), ['user', 'disable', 'user5'])],
  ['sessions revoke', 'write', () => ['sessions', 'revoke', String(sessionIds[sessionId++])]],
];
const goals = { start: 2.5, read: 3, write: 4 };
const MEMORY_GOAL_MIB = 80;

function timeOnce(args, input) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, args, { cwd: dir, env, encoding: 'utf8', input });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return ms;
}

function median(argsOf, input) {
  const times = [];
  for (let i = 0; i < runs + 1; i++) {
    const ms = timeOnce(argsOf(), input);
    if (i > 0) times.push(ms); // the first run only warms the file cache
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

/** Peak resident memory of one run, from GNU time when the system has it. */
function peakMiB(args, input) {
  if (!fs.existsSync('/usr/bin/time')) return null;
  const r = spawnSync('/usr/bin/time', ['-f', '%M', process.execPath, ...args], { cwd: dir, env, encoding: 'utf8', input });
  const kb = Number(r.stderr.trim().split('\n').pop());
  return Number.isFinite(kb) ? kb / 1024 : null;
}

const base = [];
const results = new Map(cases.map(([name]) => [name, []]));
// Interleave the measurements so a burst of load hits all of them alike.
for (let round = 0; round < 3; round++) {
  base.push(median(() => ['-e', '0']));
  for (const [name, , args, input] of cases) {
    const argsOf = typeof args === 'function' ? () => [bin, ...args()] : () => [bin, ...args];
    results.get(name).push(median(argsOf, input));
  }
}
const baseMs = Math.min(...base);
let failed = false;
console.log(`median of ${runs} runs, best of 3 rounds; node -e 0 = ${baseMs.toFixed(1)} ms; database: 10 users, 1,000 sessions`);
console.log(`${'command'.padEnd(26)} ${'ms'.padStart(7)}  ${'ratio'.padStart(6)}  goal    peak MiB (reads <= ${MEMORY_GOAL_MIB})`);
for (const [name, kind, args, input] of cases) {
  const ms = Math.min(...results.get(name));
  const ratio = ms / baseMs;
  const mib = peakMiB(typeof args === 'function' ? [bin, ...args()] : [bin, ...args], input);
  const memoryOk = kind !== 'read' || mib === null || mib <= MEMORY_GOAL_MIB;
  const ok = ratio <= goals[kind] && memoryOk;
  failed ||= !ok;
  const memory = mib === null ? '-' : mib.toFixed(0);
  console.log(`${name.padEnd(26)} ${ms.toFixed(1).padStart(7)}  ${ratio.toFixed(2).padStart(5)}x  <= ${goals[kind]}x  ${memory.padStart(8)}  ${ok ? 'ok' : 'OVER'}`);
}
db.close();
fs.rmSync(dir, { recursive: true, force: true });
process.exitCode = failed ? 1 : 0;
