import type pg from 'pg';
import type { DatabaseTarget } from '../config/config.js';
import { formatAppTimestamp } from '../time/timestamps.js';
import type { Provider } from './handle.js';
import type { SqliteDb } from './sqlite.js';

/**
 * A statement with its parameters kept apart from its text. Built with the
 * {@link sql} tag; nested fragments are spliced in with their parameters.
 */
export class Sql {
  constructor(
    readonly strings: readonly string[],
    readonly values: readonly unknown[],
  ) {}

  /** The text with `?` (SQLite) or `$n` (PostgreSQL) placeholders, and the parameters in order. */
  render(provider: Provider): { text: string; params: unknown[] } {
    let text = this.strings[0]!;
    const params: unknown[] = [];
    for (let i = 0; i < this.values.length; i++) {
      params.push(toParam(provider, this.values[i]));
      text += (provider === 'postgresql' ? `$${params.length}` : '?') + this.strings[i + 1]!;
    }
    return { text, params };
  }
}

export function sql(strings: TemplateStringsArray | readonly string[], ...values: unknown[]): Sql {
  const outStrings: string[] = [strings[0]!];
  const outValues: unknown[] = [];
  values.forEach((value, i) => {
    if (value instanceof Sql) {
      // Splice: the fragment's first string joins ours, its last starts the next.
      outStrings[outStrings.length - 1] += value.strings[0]!;
      outValues.push(...value.values);
      outStrings.push(...value.strings.slice(1));
      outStrings[outStrings.length - 1] += strings[i + 1]!;
    } else {
      outValues.push(value);
      outStrings.push(strings[i + 1]!);
    }
  });
  return new Sql(outStrings, outValues);
}

/** Trusted SQL text (identifiers, keywords), never a value from outside. */
export function raw(text: string): Sql {
  return new Sql([text], []);
}

export function join(parts: Sql[], separator: string): Sql {
  if (parts.length === 0) return raw('');
  return sql(['', ...parts.slice(1).map(() => separator), ''], ...parts);
}

/** `?, ?, ?`: the values as parameters, for `IN (...)`. */
export function valueList(values: readonly unknown[]): Sql {
  return join(values.map((v) => sql`${v}`), ', ');
}

/** `items` in pieces of at most `size`, so a statement's parameters stay under the database's limit. */
export function chunked<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/**
 * Parameters as the app stores them: timestamps in its naive-UTC text form
 * (SQLite has no timestamp type, and PostgreSQL's `timestamp without time
 * zone` takes the same text), booleans as 1/0 on SQLite.
 */
function toParam(provider: Provider, value: unknown): unknown {
  if (value === undefined) return null;
  if (value instanceof Date) return formatAppTimestamp(value);
  if (typeof value === 'boolean' && provider === 'sqlite') return value ? 1 : 0;
  return value;
}

/** Runs statements on one connection. Rows come back as the driver gives them; see {@link asDate}, {@link asBool}, {@link asNumber}. */
export interface Queryable {
  readonly provider: Provider;
  all<T>(q: Sql): Promise<T[]>;
  get<T>(q: Sql): Promise<T | undefined>;
  /** Returns how many rows changed. */
  run(q: Sql): Promise<number>;
}

export interface Connection extends Queryable {
  /** Runs `fn` in one transaction that takes the write lock up front (SQLite's BEGIN IMMEDIATE). */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export type RawConnection = { provider: 'sqlite'; sqlite: SqliteDb } | { provider: 'postgresql'; pg: pg.Client };

/** A stored timestamp, in whichever form the driver returned it, as a Date. */
export function asBool(value: unknown): boolean {
  return value === true || value === 1 || value === 1n || value === '1' || value === 't';
}

export function asNumber(value: unknown): number {
  return typeof value === 'number' ? value : Number(value);
}

class SqliteConnection implements Connection {
  readonly provider = 'sqlite' as const;
  constructor(readonly sqlite: SqliteDb) {}

  async all<T>(q: Sql): Promise<T[]> {
    const { text, params } = q.render('sqlite');
    return this.sqlite.prepare(text).all(...params) as T[];
  }

  async get<T>(q: Sql): Promise<T | undefined> {
    const { text, params } = q.render('sqlite');
    return this.sqlite.prepare(text).get(...params) as T | undefined;
  }

  async run(q: Sql): Promise<number> {
    const { text, params } = q.render('sqlite');
    const stmt = this.sqlite.prepare(text);
    return stmt.reader ? (stmt.all(...params), 0) : stmt.run(...params).changes;
  }

  async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    this.sqlite.exec('BEGIN IMMEDIATE');
    try {
      const result = await fn(this);
      this.sqlite.exec('COMMIT');
      return result;
    } catch (err) {
      if (this.sqlite.inTransaction) this.sqlite.exec('ROLLBACK');
      throw err;
    }
  }

  async close(): Promise<void> {
    this.sqlite.close();
  }
}

class PgConnection implements Connection {
  readonly provider = 'postgresql' as const;
  constructor(readonly pg: pg.Client) {}

  async all<T>(q: Sql): Promise<T[]> {
    const { text, params } = q.render('postgresql');
    return (await this.pg.query(text, params)).rows as T[];
  }

  async get<T>(q: Sql): Promise<T | undefined> {
    return (await this.all<T>(q))[0];
  }

  async run(q: Sql): Promise<number> {
    const { text, params } = q.render('postgresql');
    return (await this.pg.query(text, params)).rowCount ?? 0;
  }

  async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    await this.pg.query('BEGIN');
    try {
      const result = await fn(this);
      await this.pg.query('COMMIT');
      return result;
    } catch (err) {
      await this.pg.query('ROLLBACK').catch(() => {});
      throw err;
    }
  }

  async close(): Promise<void> {
    await this.pg.end().catch(() => {});
  }
}

/** One plain driver connection: better-sqlite3 on the file, or one pg client. */
export async function connect(target: DatabaseTarget): Promise<Connection & RawConnection> {
  if (target.provider === 'sqlite') {
    const { openSqlite } = await import('./sqlite.js');
    return new SqliteConnection(openSqlite(target.file));
  }
  const { connectPg } = await import('./pg.js');
  return new PgConnection(await connectPg(target.url, { naiveText: true }));
}
