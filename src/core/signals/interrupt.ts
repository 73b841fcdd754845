import tty from 'node:tty';
import { AuthctlError, ExitCode } from '../errors/errors.js';

/**
 * Ctrl+C and SIGTERM, for work that must not stop half-way. Outside such
 * work the entry point cancels at once (exit 130): every change authctl
 * makes is a transaction, so the database is left before it. Inside, the
 * signal is held until the step in progress is committed; the work then
 * stops at its next `stopIfInterrupted()`, or as the held work ends. A
 * signal after that stops nothing: the command reports what it did.
 */
/**
 * The signals that ask authctl to stop: Ctrl+C, SIGTERM, and SIGHUP, which a
 * terminal or SSH session sends as it closes (left to Node, it would end the
 * process on the spot, even between a purge's batch and its audit row).
 */
export const STOP_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

let depth = 0;
let pending: NodeJS.Signals | null = null;
let claims = 0;

/**
 * What the entry point's handler does with a signal: `claimed` when a command
 * handles it itself, `held` for the first one during held work, `cancel`
 * otherwise (a second Ctrl+C during held work stops at once: each step is
 * atomic, so that too leaves the database before or after it).
 */
export function routeSignal(signal: NodeJS.Signals): 'claimed' | 'held' | 'cancel' {
  if (claims > 0) return 'claimed';
  if (depth === 0 || pending) return 'cancel';
  pending = signal;
  return 'held';
}

/** A command that handles Ctrl+C and SIGTERM itself (purge stops after its batch); call the result to give them back. */
export function claimSignals(): () => void {
  claims++;
  let released = false;
  return () => {
    if (!released) claims--;
    released = true;
  };
}

function interrupted(signal: NodeJS.Signals): AuthctlError {
  return new AuthctlError(
    'CANCELLED',
    `Cancelled (${signal}) after the step in progress; every step before it is complete.`,
    ExitCode.cancelled,
    'Run the same command again to finish the job.',
  );
}

/**
 * Lets Node deliver a signal that arrived while JavaScript was busy: a
 * synchronous step (a migration, SQLite waiting out a lock) keeps the event
 * loop from turning, and a signal's handler runs only when it does.
 */
export function deliverPendingSignals(): Promise<void> {
  return new Promise((resolve) => setImmediate(() => setImmediate(resolve)));
}

/** Between steps of held work: stops with exit 130 when a signal arrived, also during a step that kept Node busy. */
export async function stopIfInterrupted(): Promise<void> {
  await deliverPendingSignals();
  if (pending) throw interrupted(pending);
}

/** Runs `fn` with Ctrl+C and SIGTERM held; `fn` calls stopIfInterrupted() between its steps. */
export async function withSignalsHeld<T>(fn: () => Promise<T>): Promise<T> {
  depth++;
  try {
    const result = await fn();
    // A signal during the last step was answered "stopping after the step in
    // progress": the step is done, and the command stops as it said (exit 130).
    await stopIfInterrupted();
    return result;
  } finally {
    depth--;
  }
}

/** Which of stdin, stdout and stderr were terminals as authctl started: Node records the same. */
const startedOnTerminal = [0, 1, 2].map((fd) => tty.isatty(fd));

/**
 * When the terminal authctl started on is gone (a closed SSH session), the
 * process ends by SIGHUP instead of its exit code, however it ends. Node
 * restores the terminal's settings as it exits, and aborts when it cannot,
 * which would turn a clean stop into a crash. Death by SIGHUP skips that
 * step, and is what the shell expects of a process whose terminal hung up.
 * Call once, at start-up.
 */
export function endByHangupWhenTerminalGone(): void {
  process.once('exit', () => {
    if (!startedOnTerminal.some((was, fd) => was && !tty.isatty(fd))) return;
    process.removeAllListeners('SIGHUP');
    process.kill(process.pid, 'SIGHUP');
  });
}
