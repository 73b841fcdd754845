import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { isSqliteBusy } from '../../src/core/db/sqlite.js';
import { tempDir } from '../support/cli.js';

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected an error');
}

describe('isSqliteBusy', () => {
  it('is true for the error SQLite gives while another connection holds the write lock', () => {
    const file = path.join(tempDir(), 'busy.db');
    const holder = new Database(file);
    holder.exec('CREATE TABLE t (x UNIQUE); BEGIN EXCLUSIVE');
    const other = new Database(file, { timeout: 0 });
    try {
      expect(isSqliteBusy(thrown(() => other.exec('BEGIN IMMEDIATE')))).toBe(true);
      holder.exec('ROLLBACK');
      // Not busy: a constraint failure is not worth retrying.
      other.exec('INSERT INTO t VALUES (1)');
      expect(isSqliteBusy(thrown(() => other.exec('INSERT INTO t VALUES (1)')))).toBe(false);
    } finally {
      other.close();
      holder.close();
    }
  });

  it('takes the extended busy codes, and nothing that merely looks like them', () => {
    for (const code of ['SQLITE_BUSY_RECOVERY', 'SQLITE_BUSY_SNAPSHOT', 'SQLITE_BUSY_TIMEOUT']) {
      expect(isSqliteBusy(Object.assign(new Error('busy'), { code }))).toBe(true);
    }
    for (const err of [{ code: 'SQLITE_BUSYNESS' }, { code: 'SQLITE_LOCKED' }, { code: 5 }, new Error('database is locked'), null, undefined]) {
      expect(isSqliteBusy(err)).toBe(false);
    }
  });
});
