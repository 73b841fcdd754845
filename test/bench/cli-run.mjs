// Runs the real bin/authctl for a benchmark: wall time, and with GNU time
// (when installed) the CPU seconds of all its threads, a figure a busy
// machine disturbs less than wall time. The environment is the benchmark's
// own, with nothing from the shell that could point authctl elsewhere.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'authctl');
const TIME = fs.existsSync('/usr/bin/time') ? '/usr/bin/time' : null;

/** Whether runs report CPU time (NaN without GNU time). */
export const HAS_CPU_TIME = TIME !== null;

const baseEnv = { ...process.env, NO_COLOR: '1' };
for (const k of ['DATABASE_URL', 'GPUSTACK_API_BASE', 'GPUSTACK_SERVER_URL', 'GPUSTACK_API_TOKEN', 'GPUSTACK_API_KEY', 'AUTHCTL_BCRYPT_ROUNDS']) delete baseEnv[k];

/** `{ code, stdout, stderr, ms, cpuSeconds }` of one `authctl <args>` run in `cwd`. */
export function runAuthctl(args, cwd, input = '', extraEnv = {}) {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const cpuFile = path.join(cwd, '.cpu');
    const argv = TIME ? [TIME, '-o', cpuFile, '-f', '%U %S', process.execPath, BIN, ...args] : [process.execPath, BIN, ...args];
    const child = spawn(argv[0], argv.slice(1), { cwd, env: { ...baseEnv, ...extraEnv }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      const cpuSeconds = TIME ? fs.readFileSync(cpuFile, 'utf8').trim().split('\n').at(-1).split(' ').reduce((a, b) => a + Number(b), 0) : NaN;
      resolve({ code, stdout, stderr, ms, cpuSeconds });
    });
    child.stdin.end(input);
  });
}
