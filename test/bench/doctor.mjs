// Benchmark for `authctl doctor` on a SQLite database with 1,000 active users,
// each with a distinct bcrypt hash (cost 12, as the app writes them): a first
// run (every hash verified), a second run (only admins and the app's
// documented accounts verified, the rest remembered by digest), and, as the
// same-run baselines, a bare `node -e 0` and doctor on a one-user database.
// Goal: the second run within 2 s wall.
//
// BENCH_USERS (default 1000) and BENCH_COST (default 12) change the size and
// the regular users' bcrypt cost; the admin always has cost 12 (init-db's
// default), which is all the second run verifies.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { runAuthctl } from './cli-run.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const USERS = Number(process.env.BENCH_USERS ?? 1000);
const COST = Number(process.env.BENCH_COST ?? 12);
const GOAL_MS = 2000;

/** One authctl run; `cpu` in seconds (NaN without GNU time). */
async function run(args, cwd, input = '', extraEnv = {}) {
  const r = await runAuthctl(args, cwd, input, extraEnv);
  return { ...r, cpu: r.cpuSeconds };
}

function nodeStartMs() {
  const started = process.hrtime.bigint();
  spawnSync(process.execPath, ['-e', '0']);
  return Number(process.hrtime.bigint() - started) / 1e6;
}

/** Distinct hashes of random passwords, made on one worker thread per core. */
async function makeHashes(n, cost) {
  const workers = Math.max(1, os.availableParallelism());
  const bcrypt = path.join(ROOT, 'node_modules', 'bcryptjs', 'index.js');
  const code = `
    const { parentPort, workerData } = require('node:worker_threads');
    const { randomBytes } = require('node:crypto');
    const bcrypt = require(workerData.bcrypt);
    const out = [];
    for (let i = 0; i < workerData.n; i++) out.push(bcrypt.hashSync(randomBytes(12).toString('base64url'), workerData.cost));
    parentPort.postMessage(out);`;
  const parts = await Promise.all(
    Array.from({ length: workers }, (_, w) => {
      const count = Math.floor(n / workers) + (w < n % workers ? 1 : 0);
      return new Promise((resolve, reject) => {
        const worker = new Worker(code, { eval: true, workerData: { n: count, cost, bcrypt } });
        worker.once('message', resolve);
        worker.once('error', reject);
      });
    }),
  );
  return parts.flat();
}

const appTime = (d) => d.toISOString().replace('T', ' ').replace('Z', '000');

async function makeDatabase(dir, extraUsers, cost) {
  fs.mkdirSync(dir, { recursive: true });
  const init = await run(['init-db', '--password-stdin', '--json'], dir, `${randomBytes(18).toString('base64url')}\n`);
  if (init.code !== 0) throw new Error(`init-db failed: ${init.stderr}`);
  const file = path.join(dir, 'gpustack_ui.db');
  if (extraUsers > 0) {
    const hashes = await makeHashes(extraUsers, cost);
    const db = new Database(file);
    const now = appTime(new Date());
    const insert = db.prepare(
      'INSERT INTO users (username, email, password_hash, full_name, is_admin, is_active, preferences, created_at, updated_at) VALUES (?, NULL, ?, ?, 0, 1, NULL, ?, ?)',
    );
    db.transaction(() => hashes.forEach((h, i) => insert.run(`user${i + 1}`, h, `User ${i + 1}`, now, now)))();
    db.close();
  }
  fs.chmodSync(file, 0o600);
  return dir;
}

async function doctor(dir) {
  const r = await run(['doctor', '--json'], dir);
  const weak = JSON.parse(r.stdout).checks.find((c) => c.id === 'weak-passwords');
  if (r.code !== 0) throw new Error(`doctor exited ${r.code}: ${JSON.stringify(JSON.parse(r.stdout).checks.filter((c) => c.status === 'fail'))}`);
  return { ms: r.ms, cpu: r.cpu, detail: weak.detail };
}

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'authctl-bench-doctor-'));
try {
  console.log(`doctor on ${USERS} active users (1 admin at cost 12, ${USERS - 1} users at cost ${COST}); ${os.availableParallelism()} cores, load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  let t = Date.now();
  const big = await makeDatabase(path.join(work, 'big'), USERS - 1, COST);
  console.log(`built in ${((Date.now() - t) / 1000).toFixed(1)} s`);
  const small = await makeDatabase(path.join(work, 'small'), 0, COST);

  const bare = Math.min(...Array.from({ length: 5 }, nodeStartMs));
  await doctor(small); // warm the file cache
  const ones = [await doctor(small), await doctor(small)];
  const one = ones.reduce((a, b) => (b.ms < a.ms ? b : a));

  const first = await doctor(big);
  const second = await doctor(big);
  const third = await doctor(big);
  const fmt = (r) => `${(r.ms / 1000).toFixed(2).padStart(8)} s wall ${Number.isNaN(r.cpu) ? '' : `${r.cpu.toFixed(2).padStart(7)} s CPU`}`;
  console.log(`bare node -e 0            ${(bare / 1000).toFixed(2).padStart(8)} s wall`);
  console.log(`doctor, 1 user            ${fmt(one)}  (${(one.ms / bare).toFixed(1)}x bare node)`);
  console.log(`doctor, first run         ${fmt(first)}  ${first.detail}`);
  console.log(`doctor, second run        ${fmt(second)}  ${second.detail}  (${(second.ms / one.ms).toFixed(2)}x doctor on 1 user)`);
  console.log(`doctor, third run         ${fmt(third)}  ${third.detail}`);
  console.log(`load after: ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  const ok = second.ms <= GOAL_MS;
  console.log(`goal: second run <= ${GOAL_MS / 1000} s: ${ok ? 'met' : 'NOT met'} (${(second.ms / 1000).toFixed(2)} s)`);
  process.exitCode = ok ? 0 : 1;
} finally {
  fs.rmSync(work, { recursive: true, force: true });
}
