import fs from 'node:fs';
import path from 'node:path';
import { sqliteFolderReadOnly, sqliteReadOnly } from '../errors/map.js';
import { realFile } from './sqlite.js';

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
 * writes its -journal, -wal and lock files. The same exit 5 and message as
 * SQLite's own refusal would give after the questions.
 */
export function assertSqliteWritable(file: string): void {
  if (writeDenied(file)) throw sqliteReadOnly(file);
  // SQLite follows a link to the database and writes its side files beside the real file.
  if (writeDenied(path.dirname(realFile(file)))) throw sqliteFolderReadOnly();
}
