import pg from 'pg';
import type { DatabaseTarget } from '../config/config.js';
import { databaseError } from '../errors/errors.js';
import { scrubSecrets } from '../config/secrets.js';
import type { SchemaShape } from './shape.js';

export type PgTarget = Extract<DatabaseTarget, { provider: 'postgresql' }>;

/** Where a PostgreSQL URL points, without its password. */
function describePgTarget(url: string): { host: string; port: string; database: string } {
  const u = new URL(url);
  return { host: u.hostname || 'localhost', port: u.port || '5432', database: decodeURIComponent(u.pathname.replace(/^\//, '')) || 'postgres' };
}

export function pgConnectionError(url: string, err: unknown) {
  const { host, port, database } = describePgTarget(url);
  const e = err as { code?: string; message?: string };
  const where = `${host}:${port}, database "${database}"`;
  if (e.code === '3D000') {
    return databaseError('DATABASE_NOT_FOUND', `PostgreSQL database "${database}" does not exist on ${host}:${port}.`, 'Create it with `authctl init-db`, or check DATABASE_URL (or -d).');
  }
  if (e.code === '28P01' || e.code === '28000') {
    return databaseError('DATABASE_AUTH_FAILED', `PostgreSQL at ${where} refused the credentials.`, 'Check the user and password in DATABASE_URL.');
  }
  if (e.code === 'ECONNREFUSED' || e.code === 'ENOTFOUND' || e.code === 'ETIMEDOUT' || e.code === 'EAI_AGAIN') {
    return databaseError('DATABASE_UNREACHABLE', `Cannot connect to PostgreSQL at ${where} (${e.code}).`, 'Check that the server runs and DATABASE_URL names the right host and port.');
  }
  // The driver's text may quote the connection string back; never its password.
  const said = scrubSecrets(e.message ?? String(err), [new URL(url).password]);
  return databaseError('DATABASE_ERROR', `PostgreSQL at ${where}: ${said}`, 'Check DATABASE_URL (or -d) and the server.');
}

/**
 * `timestamp without time zone` as the text PostgreSQL sends: the app stores
 * naive UTC there, and pg's default would read it in the local time zone.
 */
const TIMESTAMP_OID = 1114;
const naiveTimestampsAsText = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === TIMESTAMP_OID ? (text: string) => text : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

/**
 * A plain pg connection, with failures mapped to exit 5 and no password in
 * any message. With `naiveText`, naive timestamps come back as their text.
 */
export async function connectPg(url: string, opts: { naiveText?: boolean } = {}): Promise<pg.Client> {
  const client = new pg.Client({
    connectionString: url,
    connectionTimeoutMillis: 10_000,
    application_name: 'authctl',
    ...(opts.naiveText ? { types: naiveTimestampsAsText } : {}),
  });
  client.on('error', () => {});
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => {});
    throw pgConnectionError(url, err);
  }
  return client;
}

/**
 * Creates the database named in the URL when it does not exist, through the
 * server's maintenance database. Returns whether it was created.
 */
export async function ensurePgDatabase(url: string): Promise<boolean> {
  const probe = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  probe.on('error', () => {});
  try {
    await probe.connect();
    return false;
  } catch (err) {
    if ((err as { code?: string }).code !== '3D000') throw pgConnectionError(url, err);
  } finally {
    await probe.end().catch(() => {});
  }
  const { database } = describePgTarget(url);
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = await connectPg(admin.toString());
  try {
    await client.query(`CREATE DATABASE ${pg.escapeIdentifier(database)}`);
    return true;
  } catch (err) {
    const e = err as { code?: string; message?: string };
    if (e.code === '42501') {
      throw databaseError('DATABASE_CREATE_DENIED', `The database "${database}" does not exist, and this user may not create it.`, 'Ask the server administrator to create it, then run `authctl init-db` again.');
    }
    throw pgConnectionError(url, err);
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * The same canonical shape as describeSqlite, for one PostgreSQL schema:
 * columns with their types, indexes and unique constraints by columns, and
 * foreign keys.
 */
export async function describePg(client: pg.Client, schema: string): Promise<SchemaShape> {
  const shape: SchemaShape = {};
  const columns = await client.query<{ table_name: string; column_name: string; type: string; notnull: boolean; is_pk: boolean }>(
    `SELECT c.relname AS table_name, a.attname AS column_name, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS notnull,
            EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary AND a.attnum = ANY (i.indkey)) AS is_pk
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_attribute a ON a.attrelid = c.oid
      WHERE n.nspname = $1 AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped AND c.relname <> '_prisma_migrations'`,
    [schema],
  );
  for (const c of columns.rows) {
    (shape[c.table_name] ??= []).push(`column ${c.column_name} ${c.type.toUpperCase()}${c.notnull ? ' NOT NULL' : ''}${c.is_pk ? ' PK' : ''}`);
  }
  const indexes = await client.query<{ table_name: string; index_name: string; unique: boolean; constraint_type: string | null; cols: string }>(
    `SELECT t.relname AS table_name, i.relname AS index_name, ix.indisunique AS unique, con.contype AS constraint_type,
            (SELECT string_agg(a.attname, ', ' ORDER BY k.ord) FROM unnest(ix.indkey) WITH ORDINALITY k(attnum, ord)
               JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum) AS cols
       FROM pg_index ix JOIN pg_class i ON i.oid = ix.indexrelid JOIN pg_class t ON t.oid = ix.indrelid
       JOIN pg_namespace n ON n.oid = t.relnamespace LEFT JOIN pg_constraint con ON con.conindid = ix.indexrelid AND con.contype IN ('u', 'p')
      WHERE n.nspname = $1 AND NOT ix.indisprimary AND t.relname <> '_prisma_migrations'`,
    [schema],
  );
  for (const ix of indexes.rows) {
    const name = ix.constraint_type === 'u' ? '(constraint)' : ix.index_name;
    (shape[ix.table_name] ??= []).push(`${ix.unique ? 'unique index' : 'index'} ${name} (${ix.cols})`);
  }
  const fks = await client.query<{ table_name: string; cols: string; ref_table: string; ref_cols: string }>(
    `SELECT t.relname AS table_name, rt.relname AS ref_table,
            (SELECT string_agg(a.attname, ', ') FROM unnest(con.conkey) k JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k) AS cols,
            (SELECT string_agg(a.attname, ', ') FROM unnest(con.confkey) k JOIN pg_attribute a ON a.attrelid = rt.oid AND a.attnum = k) AS ref_cols
       FROM pg_constraint con JOIN pg_class t ON t.oid = con.conrelid JOIN pg_class rt ON rt.oid = con.confrelid
       JOIN pg_namespace n ON n.oid = t.relnamespace
      WHERE n.nspname = $1 AND con.contype = 'f'`,
    [schema],
  );
  for (const fk of fks.rows) (shape[fk.table_name] ??= []).push(`foreign key ${fk.cols} -> ${fk.ref_table}.${fk.ref_cols}`);
  for (const table of Object.keys(shape)) shape[table]!.sort();
  return shape;
}

/**
 * The shape a list of migration scripts produces, built in a scratch schema
 * inside a transaction that is always rolled back: PostgreSQL's DDL is
 * transactional, so nothing of it ever becomes visible.
 */
export async function pgShapeOfScripts(client: pg.Client, scripts: string[]): Promise<SchemaShape> {
  const scratch = `authctl_shape_${process.pid}_${Date.now()}`;
  await client.query('BEGIN');
  try {
    await client.query(`CREATE SCHEMA ${scratch}`);
    await client.query(`SET LOCAL search_path TO ${scratch}`);
    for (const script of scripts) await client.query(script);
    return await describePg(client, scratch);
  } finally {
    await client.query('ROLLBACK');
  }
}
