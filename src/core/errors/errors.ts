/** Exit codes, as documented in the README. Only the entry point exits. */
export const ExitCode = {
  ok: 0,
  internal: 1,
  usage: 2,
  notFound: 3,
  conflict: 4,
  database: 5,
  gpustack: 6,
  refused: 7,
  checkFailed: 8,
  busy: 75,
  cancelled: 130,
} as const;

export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/**
 * An expected failure: it carries a stable machine code, the exit code from the
 * documented table, and a hint that tells the operator what to do next.
 */
export class AuthctlError extends Error {
  readonly code: string;
  readonly exitCode: ExitCodeValue;
  readonly hint?: string;
  /** One line per item the message is about (the bad rows of an import), printed under it. */
  details?: string[];

  constructor(code: string, message: string, exitCode: ExitCodeValue, hint?: string) {
    super(message);
    this.name = 'AuthctlError';
    this.code = code;
    this.exitCode = exitCode;
    this.hint = hint;
  }

  /** The same error with its list of items. */
  withDetails(details: string[]): this {
    this.details = details;
    return this;
  }

  toJSON(): { code: string; message: string; exitCode: number; hint?: string; details?: string[] } {
    return { code: this.code, message: this.message, exitCode: this.exitCode, ...(this.hint ? { hint: this.hint } : {}), ...(this.details ? { details: this.details } : {}) };
  }
}

export const usageError = (message: string, hint?: string) => new AuthctlError('USAGE', message, ExitCode.usage, hint);
export const notFound = (code: string, message: string, hint?: string) =>
  new AuthctlError(code, message, ExitCode.notFound, hint);
export const conflict = (code: string, message: string, hint?: string) =>
  new AuthctlError(code, message, ExitCode.conflict, hint);
export const databaseError = (code: string, message: string, hint?: string) =>
  new AuthctlError(code, message, ExitCode.database, hint);
export const refused = (code: string, message: string, hint?: string) =>
  new AuthctlError(code, message, ExitCode.refused, hint);
export const busy = (message: string, hint?: string) => new AuthctlError('BUSY', message, ExitCode.busy, hint);
export const cancelled = () => new AuthctlError('CANCELLED', 'Cancelled.', ExitCode.cancelled);
