import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { formatAppTimestamp, MAX_DURATION_MS, parseDbTimestamp, parseDuration, sqliteBefore, sqliteKnown, sqliteNotBefore, tryParseDbTimestamp } from '../../src/core/time/timestamps.js';
import { APP_DATETIME, isoTimestamp } from '../support/db.js';

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
  it('accepts up to 3650d and refuses anything longer, however many digits', () => {
    expect(parseDuration('3650d')).toBe(MAX_DURATION_MS);
    expect(parseDuration('87600h')).toBe(MAX_DURATION_MS);
    for (const text of ['3650d1s', '3651d', '100000001d', '99999999999999999999h', `${'9'.repeat(400)}s`]) {
      expect(() => parseDuration(text), text).toThrow(/3650d/);
    }
  });
});

describe('offset forms', () => {
  const pad = (n: number) => String(n).padStart(2, '0');
  /** `at` written as local time at `offsetMin` from UTC, with that offset (or Z). */
  function withOffset(at: Date, offsetMin: number, fraction: string): string {
    const local = new Date(at.getTime() + offsetMin * 60_000).toISOString().slice(0, 19);
    const zone = offsetMin === 0 ? 'Z' : `${offsetMin < 0 ? '-' : '+'}${pad(Math.floor(Math.abs(offsetMin) / 60))}:${pad(Math.abs(offsetMin) % 60)}`;
    return `${local}${fraction}${zone}`;
  }
  const now = new Date();
  const OFFSETS = [0, -300, 120, 330, 840, -720];
  const rows = [-24 * 60, -90, -3, -1, 1, 3, 90, 24 * 60].flatMap((m) =>
    OFFSETS.flatMap((o) =>
      ['', '.5', '.123456', '.123456789'].map((fraction) => ({ m, text: withOffset(new Date(now.getTime() + m * 60_000), o, fraction) })),
    ),
  );
  const UNKNOWN: unknown[] = [1764000000, 1764000000000, 5, 2461375.5, '2461375.5', 'garbage', '', '2026-11-30T07:56:45+0200', '2026-13-01 00:00:00', null];

  it('parses every offset form to the instant it names', () => {
    for (const r of rows) {
      const at = tryParseDbTimestamp(r.text);
      expect(at, r.text).not.toBeNull();
      expect(Math.abs(at!.getTime() - (now.getTime() + r.m * 60_000)), r.text).toBeLessThan(1000);
    }
    expect(parseDbTimestamp('2026-11-30T07:56:45-05:00').toISOString()).toBe('2026-11-30T12:56:45.000Z');
    expect(parseDbTimestamp('2026-11-30T07:56:45.987654+02:00').toISOString()).toBe('2026-11-30T05:56:45.987Z');
    for (const v of ['garbage', '2026-11-30T07:56:45+0200', '2026-13-01 00:00:00']) expect(tryParseDbTimestamp(v), v).toBeNull();
  });

  function setup() {
    const db = new Database(':memory:');
    db.exec('CREATE TABLE s (id INTEGER PRIMARY KEY, m INTEGER, expires_at DATETIME); CREATE INDEX ix ON s (expires_at);');
    const ins = db.prepare('INSERT INTO s (m, expires_at) VALUES (?, ?)');
    for (const r of rows) ins.run(r.m, r.text);
    for (const v of UNKNOWN) ins.run(null, v);
    return db;
  }

  it('sqliteBefore finds exactly the rows before now in every offset, and never an unknown form', () => {
    const db = setup();
    const cond = sqliteBefore('expires_at', now);
    const got = db.prepare(`SELECT m, expires_at FROM s WHERE ${cond.sql} ORDER BY id`).all(...cond.params) as Array<{ m: number | null }>;
    expect(got.map((r) => r.m)).toEqual(rows.filter((r) => r.m < 0).map((r) => r.m));
    const not = sqliteNotBefore('expires_at', now);
    const after = db.prepare(`SELECT m FROM s WHERE ${not.sql} ORDER BY id`).pluck().all(...not.params) as Array<number | null>;
    expect(after).toEqual(rows.filter((r) => r.m > 0).map((r) => r.m));
    const unknown = db.prepare(`SELECT count(*) FROM s WHERE NOT ${sqliteKnown('expires_at')}`).pluck().get();
    expect(unknown).toBe(UNKNOWN.length);
  });

  it('still uses the index', () => {
    const db = setup();
    const cond = sqliteBefore('expires_at', now);
    const plan = db.prepare(`EXPLAIN QUERY PLAN SELECT id FROM s WHERE ${cond.sql}`).all(...cond.params) as Array<{ detail: string }>;
    expect(plan.map((p) => p.detail).join(' ')).toMatch(/USING (COVERING )?INDEX ix/);
  });
});
