// `sessions list` benchmark: `npm run bench:list` (after `npm run build`).
//
// Builds an app-style SQLite file with 100,000 active sessions (the app's
// DDL, its timestamp format, two users, browser user agents), adopts it, then
// times `authctl sessions list --limit 100000` as a table and with --json,
// each run BENCH_RUNS times (median), with output to a file as cron or a
// pager would take it. Goal: the table within 3x the --json time.
//
// Env: BENCH_ROWS (default 100000, at most 100000: the --limit maximum),
// BENCH_RUNS (default 3), BENCH_DIR (default a temp folder), BENCH_KEEP=1
// keeps the files.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const BIN = path.join(ROOT, 'bin', 'authctl');
const ROWS = Math.min(100_000, Number(process.env.BENCH_ROWS ?? 100_000));
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const dir = process.env.BENCH_DIR ?? fs.mkdtempSync(path.join(os.tmpdir(), 'authctl-bench-list-'));
const file = path.join(dir, 'list.db');

const pad = (n, w = 2) => String(n).padStart(w, '0');
/** SQLAlchemy's DATETIME text: naive UTC with microseconds. */
const appTs = (ms) => {
  const d = new Date(ms);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}.${pad(d.getUTCMilliseconds(), 3)}${pad(Math.floor(Math.random() * 1000), 3)}`;
};

function build() {
  for (const suffix of ['', '-wal', '-shm', '-journal']) fs.rmSync(file + suffix, { force: true });
  const db = new Database(file);
  db.exec(fs.readFileSync(path.join(ROOT, 'prisma', 'migrations', '20261126000000_app_baseline', 'migration.sql'), 'utf8'));
  const now = Date.now();
  const insertUser = db.prepare('INSERT INTO users (username, is_admin, is_active, created_at, updated_at) VALUES (?, ?, 1, ?, ?)');
  insertUser.run('admin', 1, appTs(now), appTs(now));
  insertUser.run('alice', 0, appTs(now), appTs(now));
  const insert = db.prepare(
    'INSERT INTO user_sessions (user_id, session_token, jti, token_type, expires_at, created_at, last_accessed, ip_address, user_agent) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
  );
  const agents = [
    'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36',
    'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_2) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Safari/605.1.15',
    'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0',
  ];
  db.transaction(() => {
    for (let i = 0; i < ROWS; i++) {
      const created = now - (ROWS - i) * 5000;
      insert.run(
        1 + (i % 2), randomBytes(32).toString('hex'), randomBytes(16).toString('hex'), i % 3 ? 'access' : 'refresh',
        appTs(now + 7 * 86_400_000 + i), appTs(created), appTs(created + 60_000), `10.0.${(i >> 8) & 255}.${i & 255}`, agents[i % 3],
      );
    }
  })();
  db.close();
  const r = spawnSync(process.execPath, [BIN, 'migrate', '-q'], { env: { ...process.env, DATABASE_URL: `sqlite:///${file}` }, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`authctl migrate exited ${r.status}: ${r.stderr}`);
}

/** Wall time of one run, output to a file; also its peak memory. */
function run(args) {
  const out = path.join(dir, 'out.txt');
  const fd = fs.openSync(out, 'w');
  const t = performance.now();
  const command = [process.execPath, BIN, ...args, 'sessions', 'list', '--limit', String(ROWS)];
  // GNU time reports the peak memory; without it, only the time is measured.
  const [exe, ...argv] = TIME ? [TIME, '-f', '%M', ...command] : command;
  const r = spawnSync(exe, argv, {
    env: { ...process.env, DATABASE_URL: `sqlite:///${file}`, NO_COLOR: '1' },
    stdio: ['ignore', fd, 'pipe'],
    encoding: 'utf8',
  });
  const ms = performance.now() - t;
  fs.closeSync(fd);
  if (r.status !== 0) throw new Error(`authctl ${args.join(' ')} sessions list exited ${r.status}: ${r.stderr}`);
  const bytes = fs.statSync(out).size;
  const maxKb = TIME ? Number(r.stderr.trim().split('\n').at(-1)) : NaN;
  return { ms, bytes, maxKb };
}

const TIME = fs.existsSync('/usr/bin/time') ? '/usr/bin/time' : null;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const t0 = performance.now();
build();
console.log(`built ${ROWS} sessions in ${((performance.now() - t0) / 1000).toFixed(1)} s (${file})`);
const results = { table: [], json: [] };
for (let i = 0; i < RUNS; i++) {
  results.json.push(run(['--json']));
  results.table.push(run([]));
}
const report = (name, rs) => {
  const ms = median(rs.map((r) => r.ms));
  console.log(`${name.padEnd(5)} median ${(ms / 1000).toFixed(2)} s of ${rs.map((r) => (r.ms / 1000).toFixed(2)).join(', ')}; ${(rs[0].bytes / 1e6).toFixed(1)} MB out; peak RSS ${TIME ? `${Math.round(Math.max(...rs.map((r) => r.maxKb)) / 1024)} MB` : 'not measured'}`);
  return ms;
};
const table = report('table', results.table);
const json = report('json', results.json);
const ratio = table / json;
console.log(`table / json = ${ratio.toFixed(2)} (goal <= 3)`);
if (!process.env.BENCH_KEEP && !process.env.BENCH_DIR) fs.rmSync(dir, { recursive: true, force: true });
process.exitCode = ratio <= 3 ? 0 : 1;
