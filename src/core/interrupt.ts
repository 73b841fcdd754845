import { AuthctlError, ExitCode } from './errors.js';

/**
 * Ctrl+C and SIGTERM, for work that must not stop half-way. Outside such
 * work the entry point cancels at once (exit 130): every change authctl
 * makes is a transaction, so the database is left before it. Inside, the
 * signal is held until the step in progress is committed; the work then
 * stops at its next `stopIfInterrupted()`. A signal after the last step
 * stops nothing: the command reports what it did.
 */
let depth = 0;
let pending: NodeJS.Signals | null = null;

/** Called by the entry point's signal handler: true when the signal was held for later. */
export function holdSignal(signal: NodeJS.Signals): boolean {
  if (depth === 0) return false;
  pending ??= signal;
  return true;
}

function interrupted(signal: NodeJS.Signals): AuthctlError {
  return new AuthctlError(
    'CANCELLED',
    `Cancelled (${signal}) after the step in progress; every step before it is complete.`,
    ExitCode.cancelled,
    'Run the same command again to finish the job.',
  );
}

/** Between steps of held work: stops with exit 130 when a signal arrived. */
export function stopIfInterrupted(): void {
  if (pending) throw interrupted(pending);
}

/** Runs `fn` with Ctrl+C and SIGTERM held; `fn` calls stopIfInterrupted() between its steps. */
export async function withSignalsHeld<T>(fn: () => Promise<T>): Promise<T> {
  depth++;
  try {
    return await fn();
  } finally {
    depth--;
  }
}
