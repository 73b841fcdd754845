import fs from 'node:fs';
import path from 'node:path';
import { databaseError } from '../errors/errors.js';

/** Whether this process may not write `target` (a file or folder that exists). */
function writeDenied(target: string): boolean {
  try {
    fs.accessSync(target, fs.constants.W_OK);
    return false;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'EACCES' || code === 'EPERM' || code === 'EROFS';
  }
}

/**
 * Refuses, before a command asks for a password or a confirmation, a SQLite
 * file it could not change: the file itself, or its folder, where SQLite
 * writes its -journal, -wal and lock files. The same exit 5 as SQLite's own
 * refusal would give after the questions.
 */
export function assertSqliteWritable(file: string): void {
  const folderHint = 'SQLite writes -wal, -journal and lock files beside the database, so its folder must be writable too.';
  if (writeDenied(file)) {
    throw databaseError(
      'DATABASE_READ_ONLY',
      `The database ${file} is read-only for this user; nothing was changed.`,
      `Run authctl as the user that owns the database, or make the file writable for this user. ${folderHint}`,
    );
  }
  if (writeDenied(path.dirname(file))) {
    throw databaseError(
      'DATABASE_READ_ONLY',
      `The folder that holds ${file} is not writable for this user, so SQLite cannot write to the database; nothing was changed.`,
      `Make the folder writable for the user running authctl (or run authctl as its owner). ${folderHint}`,
    );
  }
}
