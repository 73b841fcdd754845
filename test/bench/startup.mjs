// Start-up cost of the CLI, as a ratio to a bare `node -e 0` measured in the
// same run (the machines are shared and noisy, so absolute times mislead).
// Goals: `authctl --version` <= 2.5x, `authctl migrate status` <= 5x.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const bin = path.join(root, 'bin', 'authctl');
const runs = Number(process.env.BENCH_RUNS ?? 5);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'authctl-bench-startup-'));
const env = { ...process.env, NO_COLOR: '1', AUTHCTL_BCRYPT_ROUNDS: '10' };
delete env.DATABASE_URL;

const init = spawnSync(process.execPath, [bin, 'init-db', '--generate-password'], { cwd: dir, env, encoding: 'utf8' });
if (init.status !== 0) throw new Error(`init-db failed: ${init.stderr}`);

function median(cmd, args) {
  const times = [];
  for (let i = 0; i < runs + 1; i++) {
    const t0 = process.hrtime.bigint();
    const r = spawnSync(cmd, args, { cwd: dir, env, encoding: 'utf8' });
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (r.status !== 0) throw new Error(`${args.join(' ')} exited ${r.status}: ${r.stderr}`);
    if (i > 0) times.push(ms); // the first run only warms the file cache
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

// Interleave the measurements so a burst of load hits all of them alike.
const cases = [
  ['node -e 0', process.execPath, ['-e', '0']],
  ['authctl --version', process.execPath, [bin, '--version']],
  ['authctl --help', process.execPath, [bin, '--help']],
  ['authctl migrate status', process.execPath, [bin, 'migrate', 'status']],
];
const results = Object.fromEntries(cases.map(([name]) => [name, []]));
for (let round = 0; round < 3; round++) {
  for (const [name, cmd, args] of cases) results[name].push(median(cmd, args));
}
const best = Object.fromEntries(Object.entries(results).map(([k, v]) => [k, Math.min(...v)]));
const base = best['node -e 0'];
const goals = { 'authctl --version': 2.5, 'authctl --help': 2.5, 'authctl migrate status': 5 };
let failed = false;
console.log(`median of ${runs} runs (best of 3 rounds); baseline node -e 0 = ${base.toFixed(1)} ms`);
for (const [name, ms] of Object.entries(best)) {
  if (name === 'node -e 0') continue;
  const ratio = ms / base;
  const goal = goals[name];
  const ok = ratio <= goal;
  failed ||= !ok;
  console.log(`${name.padEnd(24)} ${ms.toFixed(1).padStart(7)} ms  ${ratio.toFixed(2)}x  (goal <= ${goal}x) ${ok ? 'ok' : 'OVER'}`);
}
fs.rmSync(dir, { recursive: true, force: true });
process.exitCode = failed ? 1 : 0;
