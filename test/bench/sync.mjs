// Benchmark for `authctl gpustack sync` against the stand-in GPUStack server
// with 10,000 users: (a) a bare HTTP loop fetching the same 100 pages,
// (b) a first sync into a fresh init-db database, (c) a re-sync with no
// upstream change. Goal: b <= 3x a, and c close to a.
import { spawnSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createJiti } from 'jiti';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const BIN = path.join(ROOT, 'bin', 'authctl');
const USERS = 10_000;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

// The stand-in is TypeScript shared with the tests; jiti loads it, since Node 20 cannot import .ts.
const jiti = createJiti(import.meta.url);
const { startGpustackStandIn, makeUser, makeUsers, ADMIN_KEY } = await jiti.import('../support/gpustack-server.ts');

const server = await startGpustackStandIn({ users: [makeUser(1, 'admin', { is_admin: true }), ...makeUsers(USERS - 1, 2)] });
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'authctl-bench-'));
const tokenFile = path.join(work, 'token');
fs.writeFileSync(tokenFile, ADMIN_KEY, { mode: 0o600 });
const env = { ...process.env, NO_COLOR: '1', AUTHCTL_BCRYPT_ROUNDS: '10' };
for (const k of ['DATABASE_URL', 'GPUSTACK_API_BASE', 'GPUSTACK_SERVER_URL', 'GPUSTACK_API_TOKEN', 'GPUSTACK_API_KEY']) delete env[k];

function run(args, cwd) {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(process.execPath, [BIN, ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr, ms: Number(process.hrtime.bigint() - started) / 1e6 }));
  });
}

async function bareLoop() {
  const started = process.hrtime.bigint();
  let seen = 0;
  for (let page = 1, pages = 1; page <= pages; page++) {
    const res = await fetch(`${server.url}/v2/users?page=${page}&perPage=100&sort_by=created_at,username`, {
      headers: { Authorization: `Bearer ${ADMIN_KEY}` },
    });
    const body = await res.json();
    pages = body.pagination.totalPage;
    seen += body.items.length;
  }
  if (seen !== USERS) throw new Error(`bare loop saw ${seen} users`);
  return Number(process.hrtime.bigint() - started) / 1e6;
}

/** A bare `node` start, to show how much of a CLI run is process start-up. */
function nodeStartMs() {
  const started = process.hrtime.bigint();
  spawnSync(process.execPath, ['-e', '0']);
  return Number(process.hrtime.bigint() - started) / 1e6;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const a = [];
const b = [];
const c = [];
const start = [];
try {
  await bareLoop(); // warm the server's JIT so the first round is not penalised
  for (let round = 0; round < ROUNDS; round++) {
    a.push(await bareLoop());
    start.push(nodeStartMs());
    const cwd = fs.mkdtempSync(path.join(work, 'round-'));
    const init = await run(['init-db', '--generate-password', '--json'], cwd);
    if (init.code !== 0) throw new Error(`init-db failed: ${init.stderr}`);
    const first = await run(['gpustack', 'sync', '--url', server.url, '--token-file', tokenFile, '--json'], cwd);
    if (first.code !== 0) throw new Error(`first sync failed (${first.code}): ${first.stderr}`);
    const created = JSON.parse(first.stdout).counts.create;
    if (created !== USERS - 1) throw new Error(`first sync created ${created} users`);
    b.push(first.ms);
    const again = await run(['gpustack', 'sync', '--url', server.url, '--token-file', tokenFile, '--json'], cwd);
    if (again.code !== 0 || JSON.parse(again.stdout).outcome !== 'no-change') throw new Error(`re-sync changed something: ${again.stdout}`);
    c.push(again.ms);
  }
} finally {
  await server.close();
  fs.rmSync(work, { recursive: true, force: true });
}

const ma = median(a);
const mb = median(b);
const mc = median(c);
const fmt = (ms) => `${ms.toFixed(0).padStart(6)} ms`;
console.log(`gpustack sync benchmark: ${USERS} users, 100 pages of 100, median of ${ROUNDS} rounds`);
console.log(`  (a) bare HTTP loop, 100 pages       ${fmt(ma)}`);
console.log(`  (b) first sync (authctl process)    ${fmt(mb)}   ${(mb / ma).toFixed(2)}x a   (goal <= 3x)`);
console.log(`  (c) re-sync, no change              ${fmt(mc)}   ${(mc / ma).toFixed(2)}x a`);
console.log(`  bare \`node -e 0\` start-up           ${fmt(median(start))}   (included in b and c)`);
if (mb > 3 * ma) {
  console.log('GOAL MISSED: the first sync took more than 3x the bare fetch.');
  process.exitCode = 1;
}
