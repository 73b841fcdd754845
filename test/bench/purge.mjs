// Purge benchmark: `npm run bench:purge` (after `npm run build`).
//
// Builds an app-style SQLite file with 1,000,000 sessions (the app's DDL and
// six session indexes, random 64-hex tokens and 32-hex jtis, 800,000 expired,
// the app's timestamp format), then on two copies:
//   (a) one plain `DELETE ... WHERE expires_at < now`: the floor, measured
//       before and again after (b), and averaged, so that the machine's
//       speed drifting during a run moves both sides of the ratio alike;
//   (b) `authctl sessions purge`, while an app-like writer in a separate
//       process (Python's sqlite3 with its defaults, as the app uses it)
//       inserts one session every 20 ms and records its worst wait;
//   (c) the same writer alone on the same file for as long as (b) took (at
//       most 2 minutes): the waits this machine's disk causes with no purge.
// Goals: worst wait <= 250 ms; purge wall time <= 3x the plain DELETE.
//
// `-- --slow` makes the machine slower in a repeatable way for the whole run
// (both measurements): one spinning process pinned to CPU 0 with taskset.
// `-- --random-expiry` inserts the same sessions in a random order, so expiry
// no longer follows id (as with variable token lifetimes).
//
// Env: BENCH_ROWS (default 1000000), BENCH_FLOOR_BATCH (default 4000, with
// --floor), BENCH_DIR (default a temp folder),
// BENCH_KEEP=1 keeps the files, BENCH_REUSE=1 reuses the base file a kept run
// left in BENCH_DIR (its sessions keep expiring as time passes, so use it for
// comparing changes within an hour, not for the figures).
//
// `-- --floor` measures instead what deleting in short transactions costs
// here before any pause for the app (benchFloor), as a floor under (b).
//
// `npm run bench:purge -- --postgres` runs the same measurement on a throwaway
// PostgreSQL server instead (purge-postgres.mjs).
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const BIN = path.join(ROOT, 'bin', 'authctl');
const ROWS = Number(process.env.BENCH_ROWS ?? 1_000_000);
const SLOW = process.argv.includes('--slow');
const LAYOUT = process.argv.includes('--random-expiry') ? 'random' : 'app';
const EXPIRED = Math.round(ROWS * 0.8);
const FLOOR_BATCH = Number(process.env.BENCH_FLOOR_BATCH ?? 4000);
if (!Number.isInteger(FLOOR_BATCH) || FLOOR_BATCH < 1) {
  console.error('BENCH_FLOOR_BATCH must be a whole number of rows, 1 or more');
  process.exit(2);
}
const dir = process.env.BENCH_DIR ?? fs.mkdtempSync(path.join(os.tmpdir(), 'authctl-bench-purge-'));
const base = path.join(dir, 'base.db');

const pad = (n, w = 2) => String(n).padStart(w, '0');
/** SQLAlchemy's DATETIME text: naive UTC with microseconds. */
const appTs = (ms) => {
  const d = new Date(ms);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}.${pad(d.getUTCMilliseconds(), 3)}${pad(Math.floor(Math.random() * 1000), 3)}`;
};

function removeDb(file) {
  for (const suffix of ['', '-wal', '-shm', '-journal']) fs.rmSync(file + suffix, { force: true });
}

function cli(args, file) {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    env: { ...process.env, DATABASE_URL: `sqlite:///${file}`, NO_COLOR: '1' },
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`authctl ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

/**
 * Sessions as the app accumulates them: ids grow with created_at over two
 * weeks, 30-minute access and 7-day refresh tokens, 1,000 users. The older
 * half has all expired; in the newer half exactly enough access tokens are
 * mixed in to make 80% expired, and nothing expires during the run.
 */
function buildBase() {
  const t0 = Date.now();
  removeDb(base);
  const db = new Database(base);
  db.exec(fs.readFileSync(path.join(ROOT, 'prisma', 'migrations', '20261126000000_app_baseline', 'migration.sql'), 'utf8'));
  const now = Date.now();
  const H = 3_600_000;
  const D = 24 * H;
  const insertUser = db.prepare('INSERT INTO users (username, is_admin, is_active, created_at, updated_at) VALUES (?, 0, 1, ?, ?)');
  const insertSession = db.prepare(
    'INSERT INTO user_sessions (user_id, session_token, jti, token_type, expires_at, created_at, last_accessed, ip_address, user_agent) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
  );
  const agents = [
    'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36',
    'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_2) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Safari/605.1.15',
    'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0',
  ];
  const old = Math.round(ROWS / 2);
  const recentAccess = EXPIRED - old;
  const recentTypes = new Uint8Array(ROWS - old);
  recentTypes.fill(1, 0, recentAccess);
  for (let i = recentTypes.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [recentTypes[i], recentTypes[j]] = [recentTypes[j], recentTypes[i]];
  }
  const createdAt = new Float64Array(ROWS);
  const isAccess = new Uint8Array(ROWS);
  for (let i = 0; i < ROWS; i++) {
    if (i < old) {
      createdAt[i] = now - 14 * D + (i / old) * (7 * D - H);
      isAccess[i] = Math.random() < 0.6 ? 1 : 0;
    } else {
      createdAt[i] = now - 7 * D + H + ((i - old) / (ROWS - old)) * (7 * D - 2 * H);
      isAccess[i] = recentTypes[i - old];
    }
  }
  // The random layout inserts the same sessions in a shuffled order, so ids
  // (and the table's pages) no longer follow expiry.
  const order = Uint32Array.from({ length: ROWS }, (_, i) => i);
  if (LAYOUT === 'random') {
    for (let i = ROWS - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1));
      [order[i], order[j]] = [order[j], order[i]];
    }
  }
  db.exec('BEGIN');
  for (let u = 1; u <= 1000; u++) insertUser.run(`user${u}`, appTs(now - 30 * D), appTs(now - 30 * D));
  for (let i = 0; i < ROWS; i++) {
    const created = createdAt[order[i]];
    const access = isAccess[order[i]] === 1;
    insertSession.run(
      1 + Math.floor(Math.random() * 1000),
      randomBytes(32).toString('hex'),
      randomBytes(16).toString('hex'),
      access ? 'access' : 'refresh',
      appTs(created + (access ? 30 * 60_000 : 7 * D)),
      appTs(created),
      appTs(created),
      `10.${i % 250}.${(i >> 8) % 250}.${i % 200}`,
      agents[i % agents.length],
    );
    if (i % 100_000 === 99_999) {
      db.exec('COMMIT');
      db.exec('BEGIN');
    }
  }
  db.exec('COMMIT');
  const expired = db.prepare('SELECT count(*) FROM user_sessions WHERE expires_at < ?').pluck().get(appTs(Date.now()));
  db.close();
  // Adopt it as an operator would; the backup migrate makes is not needed here.
  cli(['migrate', '-q'], base);
  for (const f of fs.readdirSync(dir)) if (f.includes('.bak-')) fs.rmSync(path.join(dir, f));
  console.log(`built ${ROWS} sessions (${expired} expired), ${(fs.statSync(base).size / 1e6).toFixed(0)} MB, in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  if (expired !== EXPIRED) throw new Error(`expected ${EXPIRED} expired sessions, built ${expired}`);
}

function copyOf(name) {
  const file = path.join(dir, name);
  removeDb(file);
  fs.copyFileSync(base, file);
  return file;
}

/** (a) The floor: one DELETE, WAL and synchronous=NORMAL like the purge, a 200 MB cache. */
function plainDelete() {
  const file = copyOf('plain.db');
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('cache_size = -200000');
  const t = performance.now();
  const { changes } = db.prepare('DELETE FROM user_sessions WHERE expires_at < ?').run(appTs(Date.now()).slice(0, 19));
  db.pragma('wal_checkpoint(TRUNCATE)');
  const ms = performance.now() - t;
  db.close();
  removeDb(file);
  return { deleted: changes, ms };
}

// The app's stack: Python's sqlite3 with its defaults (synchronous FULL, 5 s
// busy timeout, SQLite's own busy handler). Each iteration is one login's
// INSERT + COMMIT; its duration is the wait the app would see. The COMMIT's
// own part (its fsync of the log) is kept apart too: a long wait made of it
// was spent behind the disk, not behind the purge's lock.
const WRITER = String.raw`
import sqlite3, sys, time, os, json, secrets, datetime
db = sqlite3.connect(sys.argv[1], timeout=5.0)
stop = sys.argv[2]
waits, long_waits, errors, wal_peak, commit_worst, lock_worst = [], [], 0, 0, 0.0, 0.0
while not os.path.exists(stop):
    t = time.perf_counter()
    now = datetime.datetime.utcnow()
    commit_ms = 0.0
    try:
        db.execute("INSERT INTO user_sessions (user_id, session_token, jti, token_type, expires_at, created_at, last_accessed, ip_address, user_agent) VALUES (?,?,?,?,?,?,?,?,?)",
                   (1, secrets.token_hex(32), secrets.token_hex(16), 'access', str(now + datetime.timedelta(minutes=30)), str(now), str(now), '10.0.0.1', 'bench-writer'))
        c = time.perf_counter()
        db.commit()
        commit_ms = (time.perf_counter() - c) * 1000
        commit_worst = max(commit_worst, commit_ms)
    except sqlite3.OperationalError:
        errors += 1
        db.rollback()
    waits.append((time.perf_counter() - t) * 1000)
    lock_worst = max(lock_worst, waits[-1] - commit_ms)
    if waits[-1] > 250:
        long_waits.append({"ms": round(waits[-1], 1), "commitMs": round(commit_ms, 1)})
    try:
        wal_peak = max(wal_peak, os.path.getsize(sys.argv[1] + "-wal"))
    except OSError:
        pass
    time.sleep(0.02)
waits.sort()
print(json.dumps({"inserts": len(waits), "errors": errors, "worstMs": round(waits[-1], 1),
                  "p99Ms": round(waits[int(len(waits) * 0.99)], 1), "medianMs": round(waits[len(waits) // 2], 1),
                  "over250": sum(1 for w in waits if w > 250), "walPeakMb": round(wal_peak / 1e6),
                  "commitWorstMs": round(commit_worst, 1), "lockWorstMs": round(lock_worst, 1), "longWaits": long_waits}))
`;

/** Starts the app-like writer on `file`; `stop()` ends it and returns its figures. */
function startWriter(file) {
  const stopFile = path.join(dir, 'stop-writer');
  fs.rmSync(stopFile, { force: true });
  const writer = spawn('python3', ['-c', WRITER, file, stopFile], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  writer.stdout.on('data', (d) => (out += d));
  const closed = new Promise((res) => writer.on('close', res));
  return {
    async stop() {
      fs.writeFileSync(stopFile, '');
      const code = await closed;
      fs.rmSync(stopFile, { force: true });
      if (code !== 0) throw new Error(`the app-like writer exited ${code}`);
      return JSON.parse(out);
    },
  };
}

/** The longest the writer alone runs after the purge (c). */
const ALONE_MAX_MS = 120_000;

/**
 * (b) authctl sessions purge with the app-like writer running alongside;
 * then (c) the same writer alone on the same file, now in WAL mode, for as
 * long as the purge took (at most ALONE_MAX_MS): what this machine's disk
 * makes a login wait with no purge at all, measured in the same run.
 */
async function purgeWithWriter() {
  const file = copyOf('purge.db');
  // The app would already be running; let the purge switch the file to WAL itself.
  const writer = startWriter(file);
  await new Promise((r) => setTimeout(r, 1000));
  const t = performance.now();
  const r = spawnSync(process.execPath, [BIN, 'sessions', 'purge', '--json'], {
    env: { ...process.env, DATABASE_URL: `sqlite:///${file}`, NO_COLOR: '1' },
    encoding: 'utf8',
  });
  const ms = performance.now() - t;
  // Measured while the writer still has the file open; its close removes the log.
  const walAfter = fs.existsSync(`${file}-wal`) ? fs.statSync(`${file}-wal`).size : 0;
  await new Promise((res) => setTimeout(res, 500));
  const during = await writer.stop();
  if (r.status !== 0) throw new Error(`purge exited ${r.status}: ${r.stderr}`);
  const summary = JSON.parse(r.stdout);
  const db = new Database(file, { readonly: true });
  const left = db.prepare('SELECT count(*) FROM user_sessions').pluck().get();
  db.close();
  const aloneMs = Math.min(ms, ALONE_MAX_MS);
  const lone = startWriter(file);
  await new Promise((res) => setTimeout(res, aloneMs));
  const alone = await lone.stop();
  removeDb(file);
  return { ms, summary, writer: during, alone, aloneMs, left, walAfter };
}

/**
 * `--floor`: what deleting in short transactions costs on this machine
 * before any pause for the app, as a floor under the purge's ratio. The
 * purge's own statements and connection settings (kept in step with
 * src/core/sessions/purge/sqlite.ts) run back to back on a copy, in batches
 * of BENCH_FLOOR_BATCH rows (default 4,000: what the purge's holds of about
 * 115 ms take here). Between batches a second connection writes one row, as
 * the app's logins do, which empties the batches' page cache. The log is
 * copied back into the database file either after every batch or once every
 * FLOOR_EVERY batches (about one log restart's worth), each measured on its
 * own copy.
 */
const FLOOR_EVERY = 12;

function floorRun(copyEvery) {
  const file = copyOf('floor.db');
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('wal_autocheckpoint = 0');
  db.pragma('cache_size = -131072');
  const app = new Database(file);
  app.pragma('synchronous = NORMAL');
  app.pragma('wal_autocheckpoint = 0');
  const login = app.prepare('UPDATE users SET updated_at = updated_at WHERE id = 1');
  const cutoff = appTs(Date.now()).slice(0, 19);
  const pick = db.prepare('SELECT id FROM user_sessions WHERE expires_at < ? LIMIT ?').pluck();
  const remove = db.prepare('DELETE FROM user_sessions WHERE id IN (SELECT value FROM json_each(?))');
  const copyBack = db.prepare('PRAGMA wal_checkpoint(PASSIVE)');
  let deleted = 0;
  let batches = 0;
  let holdMs = 0;
  let copyMs = 0;
  let done = false;
  const t = performance.now();
  while (!done) {
    const held = performance.now();
    db.exec('BEGIN IMMEDIATE');
    let rows = 0;
    while (rows < FLOOR_BATCH) {
      const want = Math.min(1000, FLOOR_BATCH - rows);
      const ids = pick.all(cutoff, want);
      if (ids.length) rows += remove.run(JSON.stringify(ids)).changes;
      if (ids.length < want) {
        done = true;
        break;
      }
    }
    db.exec('COMMIT');
    holdMs += performance.now() - held;
    deleted += rows;
    batches++;
    const copying = performance.now();
    if (batches % copyEvery === 0) copyBack.get();
    copyMs += performance.now() - copying;
    login.run();
  }
  const copying = performance.now();
  db.pragma('wal_checkpoint(TRUNCATE)');
  copyMs += performance.now() - copying;
  const ms = performance.now() - t;
  app.close();
  db.close();
  removeDb(file);
  return { deleted, batches, ms, holdMs, copyMs };
}

function benchFloor() {
  const before = plainDelete();
  console.log(`(a) plain DELETE: ${before.deleted} rows in ${(before.ms / 1000).toFixed(1)} s`);
  const runs = [1, FLOOR_EVERY].map((every) => ({ every, ...floorRun(every) }));
  const after = plainDelete();
  const plainMs = (before.ms + after.ms) / 2;
  console.log(`(a) plain DELETE again: ${(after.ms / 1000).toFixed(1)} s; mean ${(plainMs / 1000).toFixed(1)} s`);
  for (const r of runs) {
    console.log(
      `(f) ${r.deleted} rows in ${r.batches} transactions of ${FLOOR_BATCH}, copied back ${r.every === 1 ? 'after every one' : `every ${r.every}`}: ${(r.ms / 1000).toFixed(1)} s = ${(r.ms / plainMs).toFixed(2)}x the plain DELETE (in the transactions ${(r.holdMs / 1000).toFixed(1)} s = ${(r.holdMs / plainMs).toFixed(2)}x, copying back ${(r.copyMs / 1000).toFixed(1)} s)`,
    );
  }
}

/** (a) against (b), with the app-like writer's waits. */
async function benchPurge() {
  const before = plainDelete();
  console.log(`(a) plain DELETE: ${before.deleted} rows in ${(before.ms / 1000).toFixed(1)} s`);
  const purge = await purgeWithWriter();
  const { summary, writer, alone } = purge;
  console.log(
    `(b) authctl sessions purge: ${summary.deleted} rows in ${(purge.ms / 1000).toFixed(1)} s wall (${summary.batches} batches, ${summary.remaining} expired remain, ${purge.left} sessions left, -wal file ${(purge.walAfter / 1e6).toFixed(1)} MB after)`,
  );
  console.log(
    `    app-like writer: ${writer.inserts} inserts, worst wait ${writer.worstMs} ms, p99 ${writer.p99Ms} ms, median ${writer.medianMs} ms, ${writer.over250} over 250 ms, ${writer.errors} errors; -wal file peaked at ${writer.walPeakMb} MB`,
  );
  console.log(
    `    the writer's own commit (its fsync): worst ${writer.commitWorstMs} ms; its wait for the lock alone: worst ${writer.lockWorstMs} ms${writer.longWaits.length ? `; waits over 250 ms (total / commit): ${writer.longWaits.map((w) => `${w.ms} / ${w.commitMs}`).join(', ')}` : ''}`,
  );
  console.log(
    `(c) the same writer alone, no purge, ${(purge.aloneMs / 1000).toFixed(1)} s on the same file: ${alone.inserts} inserts, worst wait ${alone.worstMs} ms (its own commit: worst ${alone.commitWorstMs} ms), p99 ${alone.p99Ms} ms, median ${alone.medianMs} ms, ${alone.over250} over 250 ms, ${alone.errors} errors`,
  );
  const after = plainDelete();
  const plainMs = (before.ms + after.ms) / 2;
  console.log(`(a) plain DELETE again: ${(after.ms / 1000).toFixed(1)} s; mean ${(plainMs / 1000).toFixed(1)} s`);
  const ratio = purge.ms / plainMs;
  console.log(
    `ratio purge/plain: ${ratio.toFixed(2)}x (goal <= 3x) · worst wait ${writer.worstMs} ms (goal <= 250 ms; ${writer.lockWorstMs} ms of it waiting for the lock; ${alone.worstMs} ms with no purge)`,
  );
}

/** The slowed mode: one busy process on CPU 0 until the run ends. */
function startSpinner() {
  if (!SLOW) return () => {};
  const spinner = spawn('taskset', ['-c', '0', process.execPath, '-e', 'for (;;) {}'], { stdio: 'ignore' });
  spinner.on('error', (err) => {
    console.error(`--slow needs taskset (util-linux): ${err.message}`);
    process.exit(1);
  });
  console.log('slowed mode: one busy process pinned to CPU 0 for the whole run');
  return () => spinner.kill('SIGKILL');
}

let stopSpinner = () => {};
process.on('exit', () => stopSpinner());

if (process.argv.includes('--postgres')) {
  stopSpinner = startSpinner();
  // The SQLite files' folder is not needed; the server gets its own.
  if (!process.env.BENCH_DIR) fs.rmSync(dir, { recursive: true, force: true });
  const { benchPostgres } = await import('./purge-postgres.mjs');
  await benchPostgres();
  process.exit(0);
}

try {
  if (process.env.BENCH_REUSE === '1' && fs.existsSync(base)) console.log(`reusing ${base}`);
  else buildBase();
  if (LAYOUT === 'random') console.log('layout: expiry spread at random across ids');
  // The spinner starts after the build, so only the measurements are slowed.
  stopSpinner = startSpinner();
  if (process.argv.includes('--floor')) benchFloor();
  else await benchPurge();
} finally {
  // The spinner is a child process: it would keep this one alive.
  stopSpinner();
  if (process.env.BENCH_KEEP !== '1') fs.rmSync(dir, { recursive: true, force: true });
}
