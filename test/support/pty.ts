import { spawn, spawnSync } from 'node:child_process';
import { BIN } from './cli.js';

/**
 * Drives the real bin/authctl on a pseudo-terminal, as an operator at a
 * keyboard would. Python's pty module provides the terminal (python3 is
 * already needed for the independent bcrypt check); each step waits until
 * the output shows `waitFor`, then types `send`.
 */
const DRIVER = String.raw`
import fcntl, json, os, pty, select, signal, struct, sys, termios, time
spec = json.loads(sys.stdin.read())
pid, fd = pty.fork()
if pid == 0:
    fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", spec["rows"], spec["cols"], 0, 0))
    os.chdir(spec["cwd"])
    os.execvpe(spec["argv"][0], spec["argv"], spec["env"])
out = b""
def pump(until, timeout):
    global out
    end = time.time() + timeout
    while until is None or until.encode() not in out:
        left = end - time.time()
        if left <= 0:
            return False
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            return until is None
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            return until is None
        if not chunk:
            return until is None
        out += chunk
    return True
timedOut = None
for step in spec["steps"]:
    if not pump(step["waitFor"], spec["stepTimeout"]):
        timedOut = step["waitFor"]
        os.kill(pid, 9)
        break
    time.sleep(0.2)
    if step.get("hangup"):
        os.close(fd)
        fd = None
        break
    if step.get("signal"):
        os.kill(pid, getattr(signal, step["signal"]))
    else:
        os.write(fd, step["send"].encode())
if fd is not None:
    pump(None, spec["stepTimeout"])
status = None
end = time.time() + spec["stepTimeout"]
while status is None:
    done, st = os.waitpid(pid, os.WNOHANG)
    if done:
        status = st
    elif time.time() > end:
        os.kill(pid, 9)
        timedOut = timedOut or "the end"
        status = os.waitpid(pid, 0)[1]
    else:
        time.sleep(0.05)
print(json.dumps({"code": os.waitstatus_to_exitcode(status), "output": out.decode("utf-8", "replace"), "timedOut": timedOut}))
`;

export interface PtyStep {
  /** Text the prompt shows before the keys are typed. */
  waitFor: string;
  /** Keys to type: "\x03" is Ctrl+C, "\x04" Ctrl+D, "\r" Enter. */
  send: string;
  /** Instead of typing, send this signal to authctl (as `kill` or a service manager would). */
  signal?: 'SIGTERM' | 'SIGINT';
  /** Instead of typing, close the terminal (a dropped SSH session); no later step runs. */
  hangup?: boolean;
}

export interface PtyResult {
  /** The exit code, or minus the signal that ended authctl (-1: SIGHUP). */
  code: number;
  /** stdout and stderr together, as the terminal showed them. */
  output: string;
  /** The prompt text that never appeared, if any. */
  timedOut: string | null;
}

export const CTRL_C = '\x03';
export const CTRL_D = '\x04';

/** Why the terminal tests cannot run here, or null when they can. */
export function ptyMissing(): string | null {
  const r = spawnSync('python3', ['-c', 'import pty'], { encoding: 'utf8' });
  return r.status === 0 ? null : 'python3 with its pty module is not available';
}

export function runOnPty(
  args: string[],
  opts: { cwd: string; env: Record<string, string | undefined>; steps: PtyStep[]; stepTimeoutSeconds?: number; cols?: number; rows?: number },
): Promise<PtyResult> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...process.env, ...opts.env })) if (v !== undefined) env[k] = v;
  for (const key of ['DATABASE_URL', 'GPUSTACK_API_BASE', 'GPUSTACK_API_TOKEN', 'AUTHCTL_DEBUG', 'FORCE_COLOR']) {
    if (!(key in opts.env)) delete env[key];
  }
  env.TERM = 'xterm';
  const spec = { argv: [process.execPath, BIN, ...args], cwd: opts.cwd, env, steps: opts.steps, stepTimeout: opts.stepTimeoutSeconds ?? 20,
    cols: opts.cols ?? 80, rows: opts.rows ?? 24 };
  return new Promise((resolve, reject) => {
    const child = spawn('python3', ['-c', DRIVER], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`pty driver failed (${code}): ${stderr}`));
      resolve(JSON.parse(stdout) as PtyResult);
    });
    child.stdin.end(JSON.stringify(spec));
  });
}
