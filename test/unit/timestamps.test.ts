import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { formatAppTimestamp, MAX_DURATION_MS, parseDbTimestamp, parseDuration, sqliteBefore, sqliteKnown, sqliteNotBefore, readStoredTimestamp, tryParseDbTimestamp } from '../../src/core/time/timestamps.js';
import { APP_DATETIME, isoTimestamp } from '../support/db.js';

describe('formatAppTimestamp', () => {
  it("writes the app's naive UTC form with microseconds", () => {
    expect(formatAppTimestamp(new Date('2026-11-26T20:18:32.723Z'))).toBe('2026-11-26 20:18:32.723000');
    expect(formatAppTimestamp(new Date('2026-01-02T03:04:05.006Z'))).toMatch(APP_DATETIME);
    expect(formatAppTimestamp(new Date('0099-12-31T23:59:59Z'))).toBe('0099-12-31 23:59:59.000000');
  });
});

describe('parseDbTimestamp', () => {
  it('reads the app form as UTC whatever the local zone', () => {
    // Rounded to the millisecond as SQLite's julianday() rounds it, so SQL and JavaScript compare alike.
    expect(parseDbTimestamp('2026-11-26 20:18:32.723845').toISOString()).toBe('2026-11-26T20:18:32.724Z');
    expect(parseDbTimestamp('2026-11-26 20:18:32.723499').toISOString()).toBe('2026-11-26T20:18:32.723Z');
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
    expect(parseDbTimestamp('2026-11-30T07:56:45.987654+02:00').toISOString()).toBe('2026-11-30T05:56:45.988Z');
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

/**
 * One definition of a known form: every value below, stored in a real
 * DATETIME column, is known to the SQL conditions exactly when the
 * JavaScript reader reads it, at the same instant, and both put it on the
 * same side of any moment. `sessions list` uses the reader, `list
 * --expired`, `stats` and `purge` the SQL.
 */
describe('the JavaScript reader and the SQL conditions agree on every stored value', () => {
  /** Malformed kinds: none may be read by either side. */
  const MALFORMED: Array<{ kind: string; value: unknown }> = [
    { kind: 'integer', value: 1764000000 },
    { kind: 'integer ms', value: 1764000000000 },
    { kind: 'real (julian day)', value: 2461375.5 },
    { kind: 'real text', value: '2461375.5' },
    { kind: 'BLOB', value: Buffer.from('2020-01-01 00:00:00') },
    { kind: 'empty text', value: '' },
    { kind: 'month 13', value: '2020-13-01 00:00:00' },
    { kind: 'day 32', value: '2020-01-32 00:00:00' },
    { kind: 'hour 25', value: '2020-01-01 25:00:00' },
    { kind: 'second 60', value: '2020-01-01 00:00:60' },
    { kind: "'now'", value: 'now' },
    { kind: 'offset without a colon', value: '2026-11-30T07:56:45+0200' },
    { kind: 'offset past 14 hours', value: '2026-11-30T07:56:45+15:00' },
    { kind: 'leading space', value: ' 2020-01-01 00:00:00' },
    { kind: 'trailing space', value: '2020-01-01 00:00:00 ' },
    { kind: 'trailing space after a date', value: '2020-01-01 ' },
    { kind: 'trailing newline', value: '2020-01-01 00:00:00\n' },
    { kind: 'lowercase t', value: '2020-01-01t00:00:00' },
    { kind: 'lowercase z', value: '2020-01-01T00:00:00z' },
    { kind: 'space before the offset', value: '2020-01-01 00:00:00 +01:00' },
    { kind: 'two separators', value: '2020-01-01  00:00:00' },
    { kind: 'TT', value: '2020-01-01TT00:00:00' },
    { kind: 'tab separator', value: '2020-01-01\t00:00:00' },
    { kind: 'a bare T', value: '2020-01-01T' },
    { kind: 'Z after a date', value: '2020-01-01Z' },
    { kind: 'trailing dot', value: '2020-01-01 00:00:00.' },
    { kind: 'fraction without seconds', value: '2020-01-01 00:00.5' },
    { kind: 'hour only', value: '2020-01-01 00' },
    { kind: 'time only', value: '12:00:00' },
    { kind: 'embedded NUL', value: '2020-01-01\u0000junk' },
    { kind: 'five-digit year', value: '12020-01-01 00:00:00' },
    { kind: 'negative year', value: '-2020-01-01 00:00:00' },
    { kind: 'slashes', value: '2020/01/01 00:00:00' },
    { kind: 'free text', value: 'garbage' },
    { kind: 'offset and Z', value: '2020-01-01T00:00:00+01:00Z' },
    { kind: 'too long', value: `2020-01-01 00:00:00.${'1'.repeat(40)}` },
    { kind: 'a day its month lacks', value: '2026-02-30 00:00:00' },
    { kind: 'April 31', value: '2026-04-31T23:59:59.999Z' },
    { kind: 'February 29 of a common year', value: '2026-02-29' },
    { kind: 'past year 9999', value: '9999-12-31 24:00:00' },
    { kind: 'past year 9999 by its offset', value: '9999-12-31 23:00:00-05:00' },
    { kind: 'full-width digits', value: '２０２０-01-01' },
  ];
  /** Known forms, including every form app-compat.md names, and the edges SQLite reads the same way. */
  const KNOWN = [
    '2026-11-26 20:18:32.723845',
    '2026-11-26 20:18:32',
    '2026-11-26T20:18:32.723+00:00',
    '2026-11-26T20:18:32Z',
    '2026-11-26T20:18:32.123456789-05:00',
    '2026-11-26T20:18:32+14:00',
    '2026-11-26T20:18:32-12:00',
    '2026-11-26T20:18:32+05:30',
    '2026-11-26',
    '2026-11-26 20:18',
    '2026-11-26T20:18Z',
    '2026-11-26 20:18:32.9996',
    '2026-11-26 20:18:32.0005',
    '2026-11-26 20:18:32.0004999',
    '2026-11-26 24:00:00',
    '2024-02-29 12:00:00',
    '2026-04-30T23:59:59.999Z',
    '2026-01-31 00:00',
    '0000-01-01 00:00:00',
    '0099-12-31 12:00:00',
    '1969-12-31 23:59:59.999',
    '9999-12-31 23:59:59.999',
    '9999-12-31 23:59:59+00:01',
  ];

  /** A small seeded generator, so a failure names a value that can be replayed. */
  function random(seed: number): () => number {
    return () => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }
  /** Known values with one or two characters changed, added or removed: mostly malformed, some still known. */
  function mutations(count: number): string[] {
    const next = random(20261201);
    const pick = <T>(items: readonly T[]) => items[Math.floor(next() * items.length)]!;
    const alphabet = [...'0123456789-:. TtZz+\t'];
    const out: string[] = [];
    for (let i = 0; i < count; i++) {
      let text = pick(KNOWN);
      for (let n = 1 + Math.floor(next() * 2); n > 0; n--) {
        const at = Math.floor(next() * (text.length + 1));
        const op = next();
        if (op < 0.4) text = text.slice(0, at) + pick(alphabet) + text.slice(at + 1);
        else if (op < 0.7) text = text.slice(0, at) + pick(alphabet) + text.slice(at);
        else text = text.slice(0, at) + text.slice(at + 1);
      }
      out.push(text);
    }
    return out;
  }

  const VALUES: unknown[] = [...MALFORMED.map((m) => m.value), ...KNOWN, ...mutations(20_000)];

  function table() {
    const db = new Database(':memory:');
    db.exec('CREATE TABLE s (id INTEGER PRIMARY KEY, expires_at DATETIME); CREATE INDEX ix ON s (expires_at);');
    const ins = db.prepare('INSERT INTO s (expires_at) VALUES (?)');
    db.transaction(() => VALUES.forEach((v) => ins.run(v)))();
    return db;
  }

  it('reads none of the malformed kinds, on either side', () => {
    const db = table();
    const known = db.prepare(`SELECT expires_at FROM s WHERE ${sqliteKnown('expires_at')}`).pluck().all();
    for (const { kind, value } of MALFORMED) {
      expect(known, kind).not.toContainEqual(value);
      expect(readStoredTimestamp(value), kind).toBeNull();
    }
  });

  it('reads every known form, on both sides', () => {
    for (const v of KNOWN) expect(readStoredTimestamp(v), v).not.toBeNull();
  });

  it('agrees on which values are known, and on their instant to the millisecond', () => {
    const db = table();
    const rows = db
      .prepare(`SELECT expires_at AS v, ${sqliteKnown('expires_at')} AS known, julianday(expires_at) AS jd FROM s`)
      .all() as Array<{ v: unknown; known: number; jd: number | null }>;
    let knownCount = 0;
    for (const r of rows) {
      const js = readStoredTimestamp(r.v);
      expect(js !== null, JSON.stringify(String(r.v))).toBe(r.known === 1);
      if (js) {
        knownCount++;
        expect(Math.round((r.jd! - 2440587.5) * 86_400_000), String(r.v)).toBe(js.getTime());
      }
    }
    // The mutations exercise both sides of the line.
    expect(knownCount).toBeGreaterThan(KNOWN.length + 1000);
    expect(rows.length - knownCount).toBeGreaterThan(MALFORMED.length + 1000);
  });

  it('puts every value on the same side of a moment, just before, at and just after it', () => {
    const db = table();
    const all = db.prepare('SELECT id, expires_at AS v FROM s ORDER BY id').all() as Array<{ id: number; v: unknown }>;
    const moments = new Set<number>([Date.parse('2026-11-26T20:18:32.724Z'), Date.parse('2026-02-28T00:00:00Z')]);
    for (const v of KNOWN) {
      const t = readStoredTimestamp(v)!.getTime();
      for (const d of [-1, 0, 1]) moments.add(t + d);
    }
    for (const ms of moments) {
      const at = new Date(ms);
      // A purge's or a listing's moment is near now; the SQL needs a day's room on each side within years 1-9998.
      if (at.getUTCFullYear() < 1 || at.getUTCFullYear() > 9998) continue;
      const b = sqliteBefore('expires_at', at);
      const nb = sqliteNotBefore('expires_at', at);
      const before = db.prepare(`SELECT id FROM s WHERE ${b.sql} ORDER BY id`).pluck().all(...b.params) as number[];
      const notBefore = db.prepare(`SELECT id FROM s WHERE ${nb.sql} ORDER BY id`).pluck().all(...nb.params) as number[];
      const read = all.map((r) => ({ id: r.id, t: readStoredTimestamp(r.v)?.getTime() }));
      const label = (ids: number[]) => `at ${at.toISOString()}: ${ids.slice(0, 5).map((id) => JSON.stringify(String(all[id - 1]!.v))).join(', ')}`;
      const wantBefore = read.filter((r) => r.t !== undefined && r.t < ms).map((r) => r.id);
      const wantNotBefore = read.filter((r) => r.t !== undefined && r.t >= ms).map((r) => r.id);
      const diff = (a: number[], b: number[]) => [...a.filter((x) => !b.includes(x)), ...b.filter((x) => !a.includes(x))];
      expect(diff(before, wantBefore), label(diff(before, wantBefore))).toEqual([]);
      expect(diff(notBefore, wantNotBefore), label(diff(notBefore, wantNotBefore))).toEqual([]);
    }
  });
});
