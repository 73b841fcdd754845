import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { shrinkWal } from '../../src/core/sessions/purge/wal.js';
import { tempDir } from '../support/cli.js';

const walSize = (file: string): number => (fs.existsSync(`${file}-wal`) ? fs.statSync(`${file}-wal`).size : 0);

/** A file whose -wal has grown to about `mb` MB and been copied back, as a large purge leaves it. */
function grownLog(mb: number): { file: string; db: Database.Database } {
  const file = path.join(tempDir(), 'shrink.db');
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('wal_autocheckpoint = 0');
  db.pragma('user_version = 42');
  db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB)');
  const insert = db.prepare('INSERT INTO t (v) VALUES (?)');
  const blob = Buffer.alloc(3000, 1);
  while (walSize(file) < mb * 1024 * 1024) {
    db.transaction(() => {
      for (let i = 0; i < 500; i++) insert.run(blob);
    })();
  }
  db.pragma('wal_checkpoint(PASSIVE)');
  return { file, db };
}

/** The app's writer in another process: write transactions of `holdS` seconds, `gapS` apart, for `forS` seconds. Resolves once it runs. */
async function appWriter(file: string, holdS: number, gapS: number, forS: number) {
  const app = spawn('python3', ['-c', [
    'import sqlite3, sys, time',
    'c = sqlite3.connect(sys.argv[1], timeout=10, isolation_level=None)',
    'print("holding", flush=True)',
    `end = time.time() + ${forS}`,
    'while time.time() < end:',
    `    c.execute("BEGIN IMMEDIATE"); time.sleep(${holdS}); c.execute("COMMIT"); time.sleep(${gapS})`,
  ].join('\n'), file], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise((resolve) => app.stdout.once('data', resolve));
  return app;
}

describe('shrinkWal', () => {
  it('frees a log far larger than one step of a short lock budget, step by step, keeping the header', async () => {
    // 48 MB could not be freed in one go within 4 ms on any disk measured
    // (3 to 5 MB per ms); the steps start at 2 MB and grow with the speed seen.
    const { file, db } = grownLog(48);
    try {
      const rows = db.prepare('SELECT count(*) FROM t').pluck().get();
      expect(walSize(file)).toBeGreaterThan(48 * 1024 * 1024);
      await shrinkWal(db, file, 4, 1);
      expect(walSize(file)).toBe(0);
      expect(db.pragma('user_version', { simple: true })).toBe(42);
      expect(db.pragma('journal_size_limit', { simple: true })).toBe(-1);
      expect(db.prepare('SELECT count(*) FROM t').pluck().get()).toBe(rows);
      expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    } finally {
      db.close();
    }
  });

  it("frees the last of the log while the app's writer keeps taking the lock for longer than the budget lets it wait", async () => {
    const { file, db } = grownLog(1.5);
    // The app's writer, in commits of 300 ms (as on a disk that stalls), 5 ms
    // apart, for 1.5 s: shorter than the 5 s a step waits for the lock.
    const app = await appWriter(file, 0.3, 0.005, 1.5);
    try {
      await new Promise((resolve) => setTimeout(resolve, 50));
      const size = walSize(file);
      expect(size).toBeGreaterThan(1024 * 1024);
      // 1.5 MB fits one step of a 4 ms budget, but the truncation may wait only 2 ms for the app.
      await shrinkWal(db, file, 4, 1);
      expect(walSize(file)).toBeLessThan(64 * 1024);
      expect(db.pragma('user_version', { simple: true })).toBe(42);
      expect(db.pragma('journal_size_limit', { simple: true })).toBe(-1);
    } finally {
      app.kill();
      db.close();
    }
  });

  it("measures a step's speed by its hold, not by its wait for the app's writer", async () => {
    // 24 MB: a dozen steps of a 4 ms budget. The app's writer holds the lock
    // 60 ms at a time, 5 ms apart, throughout: every step waits for it.
    const { file, db } = grownLog(24);
    const app = await appWriter(file, 0.06, 0.005, 8);
    try {
      await shrinkWal(db, file, 4, 1);
      expect(walSize(file)).toBeLessThan(64 * 1024);
    } finally {
      app.kill();
      db.close();
    }
  });

  it('leaves the log as it is while a reader keeps it in use', async () => {
    const { file, db } = grownLog(8);
    const reader = new Database(file, { readonly: true });
    try {
      // A reader whose snapshot is in the log (it began with frames not yet
      // copied back) keeps SQLite from starting the log over.
      db.prepare('INSERT INTO t (v) VALUES (?)').run(Buffer.alloc(10));
      reader.exec('BEGIN');
      reader.prepare('SELECT count(*) FROM t').get();
      db.pragma('wal_checkpoint(PASSIVE)');
      const size = walSize(file);
      await shrinkWal(db, file, 4, 1);
      expect(walSize(file)).toBe(size);
      reader.exec('COMMIT');
      await shrinkWal(db, file, 4, 1);
      expect(walSize(file)).toBe(0);
    } finally {
      reader.close();
      db.close();
    }
  });
});
