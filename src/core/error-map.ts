import { AuthctlError, ExitCode, cancelled, conflict, databaseError } from './errors.js';

interface CodedError {
  name?: string;
  code?: string | number;
  message?: string;
  meta?: Record<string, unknown>;
}

/**
 * Maps every failure to the documented exit codes in one place: driver and
 * Prisma errors, prompt cancellation, and anything unexpected (exit 1).
 */
export function toAuthctlError(err: unknown): AuthctlError {
  if (err instanceof AuthctlError) return err;
  const e = (err ?? {}) as CodedError;
  if (e.name === 'ExitPromptError' || e.name === 'AbortPromptError') return cancelled();
  // Driver and Prisma messages span several lines; an error is one line.
  const message = String(e.message ?? err).trim().replace(/\s*\n\s*/g, ' ');
  if (e.code === 'P2002' || /UNIQUE constraint failed|Unique constraint failed/i.test(message)) {
    return conflict('ALREADY_EXISTS', 'That value is already taken by another row.', 'Choose a different username or email.');
  }
  if (/SQLITE_BUSY|database is locked|timed out|Timed out fetching/i.test(message) || e.code === 'SQLITE_BUSY' || e.code === 'P1008') {
    return databaseError(
      'DATABASE_LOCKED',
      'The database stayed locked by another writer for too long.',
      'The app or another authctl is holding a long write; try again shortly.',
    );
  }
  if (typeof e.code === 'string' && (e.code.startsWith('SQLITE_') || /^P1\d{3}$/.test(e.code))) {
    return databaseError('DATABASE_ERROR', `Database error: ${message}`, 'Check that DATABASE_URL points at a healthy database.');
  }
  if (/no such table|relation .* does not exist/i.test(message)) {
    return databaseError('NOT_INITIALISED', 'The database is missing authctl\'s tables.', 'Run `authctl migrate` (or `authctl init-db` for a new database).');
  }
  return new AuthctlError('INTERNAL', `Unexpected error: ${message}`, ExitCode.internal);
}
