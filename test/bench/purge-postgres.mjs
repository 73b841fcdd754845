// The PostgreSQL mode of the purge benchmark: `npm run bench:purge -- --postgres`.
//
// Starts a throwaway PostgreSQL 15 server (127.0.0.1, a free port, a temp data
// directory, stopped at the end), builds the app's schema with
// `authctl init-db`, loads 1,000,000 sessions (800,000 expired, random 64-hex
// tokens and 32-hex jtis) and clones that database twice with
// CREATE DATABASE ... TEMPLATE. Then, in the same run:
//   (a) one plain `DELETE ... WHERE expires_at < now()` on the first clone;
//   (b) `authctl sessions purge --json` on the second,
// each while an app-like writer on its own connection inserts one session
// every 20 ms and records its worst wait.
//
// The server keeps PostgreSQL's durable defaults (fsync, synchronous_commit,
// full_page_writes), unlike the test suite's server: a batched purge pays one
// WAL flush per commit, and a benchmark without that cost would flatter it.
//
// Env: BENCH_ROWS (default 1000000), AUTHCTL_PG_BIN (default
// /usr/lib/postgresql/15/bin), BENCH_KEEP=1 keeps the data directory.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { startServer } from './pg-server.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const BIN = path.join(ROOT, 'bin', 'authctl');
const ROWS = Number(process.env.BENCH_ROWS ?? 1_000_000);
const EXPIRED = Math.round(ROWS * 0.8);

async function connect(url) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  return client;
}

function cli(args, url) {
  const r = spawnSync(process.execPath, [BIN, ...args], { env: { ...process.env, DATABASE_URL: url, NO_COLOR: '1' }, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`authctl ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

/**
 * The same population as the SQLite benchmark, generated inside the server:
 * ids grow with created_at over two weeks, 30-minute access and 7-day refresh
 * tokens, 1,000 users. The older half has all expired; in the newer half
 * exactly enough access tokens (placed at random) make 80% expired, and
 * nothing expires during the run. The indexes are dropped for the load and
 * rebuilt from their own definitions: far faster than maintaining six
 * indexes row by row, with the same result.
 */
async function load(url) {
  const t0 = Date.now();
  const db = await connect(url);
  try {
    const old = Math.round(ROWS / 2);
    const recentAccess = EXPIRED - old;
    const { rows: indexes } = await db.query(
      "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename = 'user_sessions' AND indexname <> 'user_sessions_pkey'",
    );
    for (const ix of indexes) await db.query(`DROP INDEX ${pg.escapeIdentifier(ix.indexname)}`);
    await db.query(`INSERT INTO users (username, is_admin, is_active, created_at, updated_at)
      SELECT 'user' || u, false, true, (now() AT TIME ZONE 'UTC') - interval '30 days', (now() AT TIME ZONE 'UTC') - interval '30 days'
        FROM generate_series(1, 1000) u`);
    const { rows: [range] } = await db.query("SELECT min(id) AS lo FROM users WHERE username LIKE 'user%'");
    await db.query(
      `WITH params AS (SELECT now() AT TIME ZONE 'UTC' AS now),
       recent AS (SELECT g, row_number() OVER (ORDER BY random()) <= $3 AS access FROM generate_series($2::int, $1::int - 1) g),
       spec AS (
         SELECT g AS i, p.now - interval '14 days' + (g::float8 / $2) * (interval '7 days' - interval '1 hour') AS created, random() < 0.6 AS access
           FROM generate_series(0, $2::int - 1) g, params p
         UNION ALL
         SELECT r.g, p.now - interval '7 days' + interval '1 hour' + ((r.g - $2)::float8 / ($1 - $2)) * (interval '7 days' - interval '2 hours'), r.access
           FROM recent r, params p)
       INSERT INTO user_sessions (user_id, session_token, jti, token_type, expires_at, created_at, last_accessed, ip_address, user_agent)
       SELECT $4::int + floor(random() * 1000)::int,
              md5(random()::text || i) || md5(i || random()::text),
              md5(random()::text || i || 'jti'),
              CASE WHEN access THEN 'access' ELSE 'refresh' END,
              created + CASE WHEN access THEN interval '30 minutes' ELSE interval '7 days' END,
              created, created,
              '10.' || (i % 250) || '.' || ((i >> 8) % 250) || '.' || (i % 200),
              (ARRAY['Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36',
                     'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_2) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Safari/605.1.15',
                     'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0'])[1 + i % 3]
         FROM spec ORDER BY i`,
      [ROWS, old, recentAccess, range.lo],
    );
    for (const ix of indexes) await db.query(ix.indexdef);
    // A long-lived table has been vacuumed and analysed by autovacuum.
    await db.query('VACUUM ANALYZE');
    const { rows: [counts] } = await db.query(
      "SELECT count(*)::int AS total, count(*) FILTER (WHERE expires_at < now() AT TIME ZONE 'UTC')::int AS expired, pg_database_size(current_database()) AS bytes FROM user_sessions",
    );
    console.log(`built ${counts.total} sessions (${counts.expired} expired), ${(Number(counts.bytes) / 1e6).toFixed(0)} MB, in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    if (counts.expired !== EXPIRED || counts.total !== ROWS) throw new Error(`expected ${ROWS} sessions with ${EXPIRED} expired`);
  } finally {
    await db.end();
  }
}

// The app's side: one login at a time on its own connection, one INSERT in
// autocommit every 20 ms; each statement's duration is the wait the app sees.
const WRITER = String.raw`
const pg = require('pg');
const fs = require('fs');
const [url, stop] = process.argv.slice(1);
(async () => {
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  const hex = (n) => require('crypto').randomBytes(n).toString('hex');
  const waits = [];
  let errors = 0;
  while (!fs.existsSync(stop)) {
    const t = performance.now();
    try {
      await db.query("INSERT INTO user_sessions (user_id, session_token, jti, token_type, expires_at, created_at, last_accessed, ip_address, user_agent) VALUES (1, $1, $2, 'access', (now() AT TIME ZONE 'UTC') + interval '30 minutes', now() AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC', '10.0.0.1', 'bench-writer')", [hex(32), hex(16)]);
    } catch {
      errors++;
    }
    waits.push(performance.now() - t);
    await new Promise((r) => setTimeout(r, 20));
  }
  await db.end();
  waits.sort((a, b) => a - b);
  const r1 = (x) => Math.round(x * 10) / 10;
  console.log(JSON.stringify({ inserts: waits.length, errors, worstMs: r1(waits.at(-1)), p99Ms: r1(waits[Math.floor(waits.length * 0.99)]),
    medianMs: r1(waits[Math.floor(waits.length / 2)]), over250: waits.filter((w) => w > 250).length }));
})();
`;

/** Runs `work` while the app-like writer runs against `url`; returns both results. */
async function withWriter(url, work) {
  const stopFile = path.join(os.tmpdir(), `authctl-bench-writer-${process.pid}-${Date.now()}`);
  const writer = spawn(process.execPath, ['-e', WRITER, url, stopFile], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  writer.stdout.on('data', (d) => (out += d));
  await new Promise((r) => setTimeout(r, 1000));
  const t = performance.now();
  const result = await work();
  const ms = performance.now() - t;
  await new Promise((r) => setTimeout(r, 500));
  fs.writeFileSync(stopFile, '');
  await new Promise((r) => writer.on('close', r));
  fs.rmSync(stopFile, { force: true });
  return { ms, result, writer: JSON.parse(out) };
}

/** (a) The floor: one statement, one transaction. */
async function plainDelete(url) {
  const db = await connect(url);
  try {
    await db.query('CHECKPOINT');
    return await withWriter(url, async () => (await db.query("DELETE FROM user_sessions WHERE expires_at < now() AT TIME ZONE 'UTC'")).rowCount);
  } finally {
    await db.end();
  }
}

/** (b) authctl sessions purge, as cron runs it. */
async function authctlPurge(url) {
  const db = await connect(url);
  await db.query('CHECKPOINT');
  await db.end();
  return withWriter(url, () => new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, 'sessions', 'purge', '--json'], { env: { ...process.env, DATABASE_URL: url, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(JSON.parse(stdout)) : reject(new Error(`purge exited ${code}: ${stderr}`))));
  }));
}

const describeWriter = (w) =>
  `${w.inserts} inserts, worst wait ${w.worstMs} ms, p99 ${w.p99Ms} ms, median ${w.medianMs} ms, ${w.over250} over 250 ms, ${w.errors} errors`;

export async function benchPostgres() {
  const server = await startServer(['shared_buffers=256MB', 'maintenance_work_mem=256MB', 'max_wal_size=2GB']);
  try {
    const base = server.url('bench_base');
    cli(['init-db', '--generate-password', '-q'], base);
    await load(base);
    const admin = await connect(server.url('postgres'));
    try {
      for (const name of ['bench_plain', 'bench_purge']) await admin.query(`CREATE DATABASE ${name} TEMPLATE bench_base STRATEGY FILE_COPY`);
    } finally {
      await admin.end();
    }

    const plain = await plainDelete(server.url('bench_plain'));
    console.log(`(a) plain DELETE: ${plain.result} rows in ${(plain.ms / 1000).toFixed(1)} s`);
    console.log(`    app-like writer: ${describeWriter(plain.writer)}`);
    const purge = await authctlPurge(server.url('bench_purge'));
    const summary = purge.result;
    const check = await connect(server.url('bench_purge'));
    const { rows: [left] } = await check.query('SELECT count(*)::int AS n FROM user_sessions');
    await check.end();
    console.log(
      `(b) authctl sessions purge: ${summary.deleted} rows in ${(purge.ms / 1000).toFixed(1)} s wall, ${(summary.ms / 1000).toFixed(1)} s of it purging (${summary.batches} batches, ${summary.remaining} expired remain, ${left.n} sessions left)`,
    );
    console.log(`    app-like writer: ${describeWriter(purge.writer)}`);
    const ratio = purge.ms / plain.ms;
    console.log(`ratio purge/plain: ${ratio.toFixed(2)}x (goal <= 3x) · worst wait ${purge.writer.worstMs} ms (goal <= 250 ms)`);
  } finally {
    server.stop();
  }
}
