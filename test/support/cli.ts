import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BIN = path.join(ROOT, 'bin', 'authctl');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  cwd: string;
  env?: Record<string, string | undefined>;
  input?: string;
  timeoutMs?: number;
}

/** Environment variables that must never leak from the developer's shell into a test. */
const SCRUBBED = ['DATABASE_URL', 'GPUSTACK_API_BASE', 'GPUSTACK_SERVER_URL', 'GPUSTACK_API_TOKEN', 'GPUSTACK_API_KEY', 'AUTHCTL_DEBUG', 'AUTHCTL_BCRYPT_ROUNDS', 'FORCE_COLOR'];

/** Spawns the real bin/authctl, as an operator or cron would, without a TTY. */
export function runCli(args: string[], opts: CliOptions): Promise<CliResult> {
  const env: Record<string, string | undefined> = { ...process.env, NO_COLOR: '1' };
  for (const key of SCRUBBED) delete env[key];
  Object.assign(env, opts.env ?? {});
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: opts.cwd, env: env as NodeJS.ProcessEnv, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 50_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(opts.input ?? '');
  });
}

const tempDirs: string[] = [];

/** A fresh folder under the system's temp folder, removed after the test file (test/support/cleanup.ts). */
export function tempDir(prefix = 'authctl-test-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

export function removeTempDirs(): void {
  for (const dir of tempDirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
}

/** No stack frames and no internal paths in what an operator sees. */
export function hasStackTrace(text: string): boolean {
  return /\n\s+at .+\(.+:\d+:\d+\)|node:internal|\.js:\d+:\d+/.test(text);
}
