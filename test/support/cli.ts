import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { onTestFinished } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BIN = path.join(ROOT, 'bin', 'authctl');

export interface CliResult {
  code: number | null;
  /** The signal that ended the process, when one did. */
  signal?: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  cwd: string;
  env?: Record<string, string | undefined>;
  input?: string | Buffer;
  timeoutMs?: number;
  /** Run as this other OS user (the tests' process must be root). */
  user?: { uid: number; gid: number };
}

/** Environment variables that must never leak from the developer's shell into a test. */
const SCRUBBED = ['DATABASE_URL', 'GPUSTACK_API_BASE', 'GPUSTACK_SERVER_URL', 'GPUSTACK_API_TOKEN', 'GPUSTACK_API_KEY', 'AUTHCTL_DEBUG', 'AUTHCTL_BCRYPT_ROUNDS', 'FORCE_COLOR'];

/**
 * Starts the real bin/authctl, as an operator or cron would, without a TTY;
 * `child` lets a test signal it while it runs, `done` resolves once it has
 * exited. A run past `timeoutMs` (default 50 s) is killed, so a hung one
 * never outlives its test.
 */
export function startCli(args: string[], opts: CliOptions): { child: ChildProcess; done: Promise<CliResult> } {
  const env: Record<string, string | undefined> = { ...process.env, NO_COLOR: '1' };
  for (const key of SCRUBBED) delete env[key];
  Object.assign(env, opts.env ?? {});
  const child = spawn(process.execPath, [BIN, ...args], { cwd: opts.cwd, env: env as NodeJS.ProcessEnv, stdio: ['pipe', 'pipe', 'pipe'], ...opts.user });
  // Decoded as streams, so a character split across two chunks stays whole.
  child.stdout!.setEncoding('utf8');
  child.stderr!.setEncoding('utf8');
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: string) => (stdout += d));
  child.stderr!.on('data', (d: string) => (stderr += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 50_000);
  const done = new Promise<CliResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
  child.stdin!.end(opts.input ?? '');
  return { child, done };
}

/** Runs the real bin/authctl to the end. */
export function runCli(args: string[], opts: CliOptions): Promise<CliResult> {
  return startCli(args, opts).done;
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

/** Whether this process may mount a small tmpfs (root): the full-disk tests need it, and CI must not skip them. */
export const CAN_MOUNT = process.getuid?.() === 0 && spawnSync('mount', ['--version']).status === 0;
if (!CAN_MOUNT && process.env.CI === 'true') throw new Error('The full-disk tests cannot run: they mount a small tmpfs, which needs root. CI must not skip them.');

/** A folder on a tmpfs of `kb` KiB, so that writing past it fails with ENOSPC as on a full disk; unmounted when the test ends. */
export function smallDisk(kb: number): string | null {
  const dir = fs.mkdtempSync(path.join(fs.realpathSync(process.env.TMPDIR ?? os.tmpdir()), 'authctl-full-'));
  if (spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${kb}k`, 'tmpfs', dir]).status !== 0) {
    fs.rmdirSync(dir);
    return null;
  }
  onTestFinished(() => {
    spawnSync('umount', [dir]);
    fs.rmdirSync(dir);
  });
  return dir;
}
