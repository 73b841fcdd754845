// Benchmark for `authctl user import` on SQLite, with two same-run baselines:
// (1) BENCH_GENERATED (default 1,000) rows with generated passwords at bcrypt
//     cost 12, against BENCH_GENERATED x one measured cost-12 hash / cores.
//     Goal: at most 1.25x.
// (2) BENCH_ROWS (default 100,000) rows with given hashes, against inserting
//     the same rows with one raw prepared statement in one transaction on a
//     copy of the same database. Goal: at most 3x.
// Both import figures are the whole CLI run (start-up, reading, validation,
// the transaction), wall time. `-- --postgres` runs only (2), on a throwaway
// PostgreSQL server (AUTHCTL_PG_BIN, default /usr/lib/postgresql/15/bin),
// against a raw named prepared statement executed row by row in one
// transaction.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import bcrypt from 'bcryptjs';
import Database from 'better-sqlite3';
import pg from 'pg';
import { HAS_CPU_TIME, runAuthctl } from './cli-run.mjs';
import { startServer } from './pg-server.mjs';

const GENERATED = Number(process.env.BENCH_GENERATED ?? 1000);
const ROWS = Number(process.env.BENCH_ROWS ?? 100_000);
const COST = 12;
const CORES = Math.max(1, os.availableParallelism());

const POSTGRES = process.argv.includes('--postgres');
/** One authctl run; `cpu` in milliseconds (NaN without GNU time). */
async function run(args, cwd, input = '', extraEnv = {}) {
  const r = await runAuthctl(args, cwd, input, extraEnv);
  return { ...r, cpu: r.cpuSeconds * 1000 };
}

async function initDb(dir, extraEnv = {}) {
  fs.mkdirSync(dir, { recursive: true });
  const r = await run(['init-db', '--password-stdin', '--rounds', '10', '--json'], dir, `${randomBytes(18).toString('base64url')}\n`, extraEnv);
  if (r.code !== 0) throw new Error(`init-db failed: ${r.stderr}`);
  return path.join(dir, 'gpustack_ui.db');
}

async function importFile(dir, args, extraEnv = {}) {
  const r = await run(['user', 'import', ...args, '--json'], dir, '', extraEnv);
  if (r.code !== 0) throw new Error(`import exited ${r.code}: ${r.stderr.slice(0, 2000)}`);
  return r;
}

const appTime = (d) => d.toISOString().replace('T', ' ').replace('Z', '000');
const secs = (ms) => `${(ms / 1000).toFixed(2).padStart(8)} s`;
const load = () => os.loadavg().map((l) => l.toFixed(1)).join(' ');

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'authctl-bench-import-'));
let failed = false;
const hashes = () => Array.from({ length: 16 }, () => bcrypt.hashSync(randomBytes(12).toString('base64url'), 4));
const makeRows = (h) => Array.from({ length: ROWS }, (_, i) => [`user${i + 1}`, `user${i + 1}@example.com`, `User ${i + 1}`, i % 50 === 0, i % 10 !== 0, h[i % h.length]]);
const csvOf = (rows) => ['username,email,full_name,is_admin,is_active,password_hash', ...rows.map((r) => r.join(','))].join('\n') + '\n';

async function postgresOnly() {
  const server = await startServer();
  try {
    console.log(`user import on PostgreSQL; ${CORES} cores, load ${load()}`);
    const admin = new pg.Client({ connectionString: server.url('postgres') });
    await admin.connect();
    await admin.query('CREATE DATABASE imported');
    await admin.query('CREATE DATABASE raw');
    await admin.end();
    const rows = makeRows(hashes());
    const dir = path.join(work, 'pg');
    for (const db of ['imported', 'raw']) await initDb(path.join(dir, db), { DATABASE_URL: server.url(db) });
    fs.writeFileSync(path.join(dir, 'users.csv'), csvOf(rows));
    const raw = new pg.Client({ connectionString: server.url('raw') });
    await raw.connect();
    const now = appTime(new Date());
    const started = process.hrtime.bigint();
    await raw.query('BEGIN');
    for (const [u, e, f, a, c, h] of rows) {
      await raw.query({
        name: 'insert-user',
        text: 'INSERT INTO users (username, email, full_name, password_hash, is_admin, is_active, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7)',
        values: [u, e, f, h, a, c, now],
      });
    }
    await raw.query('COMMIT');
    const rawMs = Number(process.hrtime.bigint() - started) / 1e6;
    await raw.end();
    const big = await importFile(dir, ['users.csv'], { DATABASE_URL: server.url('imported') });
    const ratio = big.ms / rawMs;
    console.log(`raw prepared INSERT, ${ROWS} rows, 1 tx  ${secs(rawMs)}`);
    console.log(`import ${ROWS} rows, given hashes     ${secs(big.ms)}  ratio ${ratio.toFixed(2)}x (goal <= 3x)`);
    failed = ratio > 3;
  } finally {
    server.stop();
  }
}

try {
  if (POSTGRES) await postgresOnly();
  else {
    console.log(`user import on SQLite; ${CORES} cores, load ${load()}`);

    // (1) Generated passwords at cost 12.
    const one = [];
    for (let i = 0; i < 3; i++) {
      const t = process.hrtime.bigint();
      bcrypt.hashSync(randomBytes(15).toString('base64url'), COST);
      one.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
    const hashMs = one.sort((a, b) => a - b)[1];
    const genDir = path.join(work, 'generated');
    await initDb(genDir);
    fs.writeFileSync(path.join(genDir, 'users.csv'), ['username,email', ...Array.from({ length: GENERATED }, (_, i) => `gen${i + 1},gen${i + 1}@example.com`)].join('\n') + '\n');
    const gen = await importFile(genDir, ['users.csv', '--generate-passwords', '--passwords-out', 'pw.csv', '--rounds', String(COST)]);
    const genBaseline = (GENERATED * hashMs) / CORES;
    const genRatio = gen.ms / genBaseline;
    console.log(`one cost-${COST} hash (median of 3)        ${secs(hashMs)}`);
    console.log(`baseline ${GENERATED} x hash / ${CORES} cores         ${secs(genBaseline)}`);
    console.log(`import ${GENERATED} rows, generated passwords ${secs(gen.ms)}  ratio ${genRatio.toFixed(2)}x (goal <= 1.25x)`);
    if (HAS_CPU_TIME) console.log(`  CPU of the import, all threads        ${secs(gen.cpu)}  ${(gen.cpu / (GENERATED * hashMs)).toFixed(2)}x ${GENERATED} x hash (1.00x = no work beyond the hashes)`);

    // (2) Given hashes.
    const rows = makeRows(hashes());
    const bigDir = path.join(work, 'hashes');
    const template = await initDb(bigDir);
    const copy = path.join(work, 'raw.db');
    fs.copyFileSync(template, copy);
    fs.writeFileSync(path.join(bigDir, 'users.csv'), csvOf(rows));
    const raw = new Database(copy);
    const started = process.hrtime.bigint();
    const insert = raw.prepare('INSERT INTO users (username, email, full_name, password_hash, is_admin, is_active, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
    const now = appTime(new Date());
    raw.transaction(() => {
      for (const [u, e, f, a, c, h] of rows) insert.run(u, e, f, h, a ? 1 : 0, c ? 1 : 0, now, now);
    })();
    const rawMs = Number(process.hrtime.bigint() - started) / 1e6;
    raw.close();
    const big = await importFile(bigDir, ['users.csv']);
    const count = new Database(template, { readonly: true }).prepare('SELECT COUNT(*) AS n FROM users').get().n;
    if (count !== ROWS + 1) throw new Error(`expected ${ROWS + 1} users after the import, found ${count}`);
    const bigRatio = big.ms / rawMs;
    console.log(`raw prepared INSERT, ${ROWS} rows, 1 tx  ${secs(rawMs)}`);
    console.log(`import ${ROWS} rows, given hashes     ${secs(big.ms)}  ratio ${bigRatio.toFixed(2)}x (goal <= 3x)`);
    console.log(`load after: ${load()}`);
    failed = genRatio > 1.25 || bigRatio > 3;
    console.log(`goals: generated ${genRatio <= 1.25 ? 'met' : 'NOT met'} (${genRatio.toFixed(2)}x), given hashes ${bigRatio <= 3 ? 'met' : 'NOT met'} (${bigRatio.toFixed(2)}x)`);
  }
} finally {
  fs.rmSync(work, { recursive: true, force: true });
}
process.exitCode = failed ? 1 : 0;
