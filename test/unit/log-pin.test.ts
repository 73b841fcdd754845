import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { LogPin } from '../../src/core/sessions/purge/log-pin.js';
import { tempDir } from '../support/cli.js';

// A real WAL file: a writer that never checkpoints on its own (as the purge's
// connection), and another connection standing in for the app's automatic
// checkpoint.
function walFile(): { file: string; writer: Database.Database; app: Database.Database } {
  const file = path.join(tempDir(), 'pin.db');
  const writer = new Database(file);
  writer.pragma('journal_mode = WAL');
  writer.pragma('wal_autocheckpoint = 0');
  writer.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)');
  const app = new Database(file);
  return { file, writer, app };
}

function commitRows(db: Database.Database, n: number): void {
  const insert = db.prepare('INSERT INTO t (v) VALUES (?)');
  db.transaction(() => {
    for (let i = 0; i < n; i++) insert.run('x'.repeat(500));
  })();
}

type Checkpoint = { busy: number; log: number; checkpointed: number };
const passive = (db: Database.Database): Checkpoint => (db.pragma('wal_checkpoint(PASSIVE)') as Checkpoint[])[0]!;

describe('LogPin', () => {
  const open: Array<{ close(): void }> = [];
  afterEach(() => {
    for (const handle of open.splice(0).reverse()) handle.close();
  });

  it("keeps another connection's checkpoint from copying what was committed after the pin moved", () => {
    const { file, writer, app } = walFile();
    open.push(writer, app);
    commitRows(writer, 50);
    const pin = new LogPin(file, 1000);
    open.push(pin);
    pin.move();
    const pinnedAt = passive(app);
    // Everything before the pin may be copied: the app's checkpoint does so.
    expect(pinnedAt.checkpointed).toBe(pinnedAt.log);
    commitRows(writer, 50);
    const after = passive(app);
    expect(after.log).toBeGreaterThan(pinnedAt.log);
    expect(after.checkpointed).toBe(pinnedAt.log);
  });

  it('moving it lets checkpoints reach the new end, and keeps the log pinned', () => {
    const { file, writer, app } = walFile();
    open.push(writer, app);
    app.pragma('busy_timeout = 0');
    const pin = new LogPin(file, 1000);
    open.push(pin);
    commitRows(writer, 50);
    pin.move();
    let pinnedAt = passive(app).log;
    for (let round = 0; round < 4; round++) {
      commitRows(writer, 50);
      const before = passive(app);
      expect(before.log).toBeGreaterThan(pinnedAt);
      expect(before.checkpointed).toBe(pinnedAt);
      pin.move();
      const moved = passive(app);
      expect(moved.checkpointed).toBe(moved.log);
      pinnedAt = moved.log;
      // Still pinned: the log cannot start over while a reader uses it.
      expect(pin.held).toBe(true);
      expect((app.pragma('wal_checkpoint(TRUNCATE)') as Checkpoint[])[0]!.busy).toBe(1);
    }
  });

  it('once released, the log can start over', () => {
    const { file, writer, app } = walFile();
    open.push(writer, app);
    const pin = new LogPin(file, 1000);
    open.push(pin);
    commitRows(writer, 50);
    pin.move();
    commitRows(writer, 50);
    pin.release();
    expect(pin.held).toBe(false);
    const truncated = (app.pragma('wal_checkpoint(TRUNCATE)') as Checkpoint[])[0]!;
    expect(truncated).toEqual({ busy: 0, log: 0, checkpointed: 0 });
  });

  it('a file that is not there is an error', () => {
    expect(() => new LogPin(path.join(tempDir(), 'missing.db'), 1000)).toThrow();
  });
});
