import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { formatAppTimestamp, parseDbTimestamp, parseDuration, sqliteBefore, sqliteNotBefore } from '../../src/core/timestamps.js';
import { APP_DATETIME, isoTimestamp } from '../support/app-db.js';

describe('formatAppTimestamp', () => {
  it("writes the app's naive UTC form with microseconds", () => {
    expect(formatAppTimestamp(new Date('2026-11-26T20:18:32.723Z'))).toBe('2026-11-26 20:18:32.723000');
    expect(formatAppTimestamp(new Date('2026-01-02T03:04:05.006Z'))).toMatch(APP_DATETIME);
  });
});

describe('parseDbTimestamp', () => {
  it('reads the app form as UTC whatever the local zone', () => {
    expect(parseDbTimestamp('2026-11-26 20:18:32.723845').toISOString()).toBe('2026-11-26T20:18:32.723Z');
    expect(parseDbTimestamp('2026-11-26 20:18:32').toISOString()).toBe('2026-11-26T20:18:32.000Z');
  });
  it("reads Prisma's ISO form and other offsets", () => {
    expect(parseDbTimestamp('2026-11-26T20:18:32.723+00:00').toISOString()).toBe('2026-11-26T20:18:32.723Z');
    expect(parseDbTimestamp('2026-11-26T22:18:32.723+02:00').toISOString()).toBe('2026-11-26T20:18:32.723Z');
    expect(parseDbTimestamp('2026-11-26T20:18:32Z').toISOString()).toBe('2026-11-26T20:18:32.000Z');
  });
  it('rejects text that is no timestamp', () => {
    expect(() => parseDbTimestamp('yesterday')).toThrow(/Unrecognised/);
  });
});

describe('sqliteBefore on a real SQLite table with both forms', () => {
  const now = new Date();
  const minutes = [-90, -30, -5, -1, 1, 5, 30, 90, -60 * 24 * 2, 60 * 24 * 2];
  const rows = minutes.flatMap((m) => {
    const at = new Date(now.getTime() + m * 60_000);
    return [
      { m, form: 'app', text: formatAppTimestamp(at) },
      { m, form: 'iso', text: isoTimestamp(at) },
    ];
  });

  function setup() {
    const db = new Database(':memory:');
    db.exec('CREATE TABLE s (id INTEGER PRIMARY KEY, m INTEGER, form TEXT, expires_at DATETIME NOT NULL); CREATE INDEX ix ON s (expires_at);');
    const ins = db.prepare('INSERT INTO s (m, form, expires_at) VALUES (?, ?, ?)');
    for (const r of rows) ins.run(r.m, r.form, r.text);
    return db;
  }

  it('finds exactly the rows before now, in either form, minutes on both sides', () => {
    const db = setup();
    const cond = sqliteBefore('expires_at', now);
    const got = db.prepare(`SELECT m, form FROM s WHERE ${cond.sql} ORDER BY id`).all(...cond.params) as Array<{ m: number; form: string }>;
    const want = rows.filter((r) => r.m < 0).map((r) => ({ m: r.m, form: r.form }));
    expect(got).toEqual(want);
    // A plain text comparison, what Prisma's filter compiles to, gets this wrong.
    const naive = db.prepare('SELECT count(*) FROM s WHERE expires_at < ?').pluck().get(isoTimestamp(now));
    expect(naive).not.toBe(want.length);
  });

  it('negates exactly', () => {
    const db = setup();
    const cond = sqliteNotBefore('expires_at', now);
    const got = db.prepare(`SELECT m FROM s WHERE ${cond.sql}`).pluck().all(...cond.params) as number[];
    expect(got.every((m) => m > 0)).toBe(true);
    expect(got).toHaveLength(rows.filter((r) => r.m > 0).length);
  });

  it('can use the index', () => {
    const db = setup();
    const cond = sqliteBefore('expires_at', now);
    const plan = db.prepare(`EXPLAIN QUERY PLAN SELECT id FROM s WHERE ${cond.sql}`).all(...cond.params) as Array<{ detail: string }>;
    expect(plan.map((p) => p.detail).join(' ')).toMatch(/USING (COVERING )?INDEX ix/);
  });
});

describe('parseDuration', () => {
  it('reads compound durations', () => {
    expect(parseDuration('30m')).toBe(1_800_000);
    expect(parseDuration('1h30m')).toBe(5_400_000);
    expect(parseDuration('7d')).toBe(604_800_000);
    expect(parseDuration('0')).toBe(0);
  });
  it('refuses anything else', () => {
    expect(() => parseDuration('10')).toThrow(/not a duration/);
    expect(() => parseDuration('5x')).toThrow(/not a duration/);
    expect(() => parseDuration('1h junk')).toThrow(/not a duration/);
  });
});
