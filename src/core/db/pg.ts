import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ConnectionOptions } from 'node:tls';
import pg from 'pg';
import type { DatabaseTarget } from '../config/config.js';
import { formatPgUrl, param, parsePgUrl, SSL_MODES, sslModeOf, type SslMode } from '../config/pg-url.js';
import { AuthctlError, databaseError, usageError } from '../errors/errors.js';
import { scrubSecrets } from '../config/secrets.js';
import type { SchemaShape } from './shape.js';

export type PgTarget = Extract<DatabaseTarget, { provider: 'postgresql' }>;

/** Where a PostgreSQL URL points, without its password. */
function describePgTarget(url: string): { host: string; port: string; database: string } {
  const u = parsePgUrl(url);
  return { host: u.host || 'localhost', port: String(u.port ?? 5432), database: u.database || 'postgres' };
}

const SSL_REFUSED = 'The server does not support SSL connections';
const TLS_VERIFY_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'ERR_TLS_CERT_ALTNAME_INVALID', 'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'CERT_UNTRUSTED',
]);

export function pgConnectionError(url: string, err: unknown) {
  const { host, port, database } = describePgTarget(url);
  const e = err as { code?: string; message?: string };
  const where = `${host}:${port}, database "${database}"`;
  if (e.code === '3D000') {
    return databaseError('DATABASE_NOT_FOUND', `PostgreSQL database "${database}" does not exist on ${host}:${port}.`, 'Create it with `authctl init-db`, or check DATABASE_URL (or -d).');
  }
  if (e.code === '28000' && /no pg_hba\.conf entry/.test(e.message ?? '')) {
    const encrypted = !/no encryption/.test(e.message ?? '');
    return databaseError(
      'DATABASE_HOST_REFUSED',
      `PostgreSQL at ${where} does not accept this connection (no pg_hba.conf entry for this host, user and database${encrypted ? '' : ' without SSL'}).`,
      encrypted ? 'Ask the server administrator to allow this host and user in pg_hba.conf.' : 'The server may accept only SSL: use sslmode=require (or prefer, the default), or ask its administrator.',
    );
  }
  if (e.code === '28P01' || e.code === '28000') {
    return databaseError('DATABASE_AUTH_FAILED', `PostgreSQL at ${where} refused the credentials.`, 'Check the user and password in DATABASE_URL.');
  }
  if (e.code === 'ECONNREFUSED' || e.code === 'ENOTFOUND' || e.code === 'ETIMEDOUT' || e.code === 'EAI_AGAIN' || e.code === 'ENOENT') {
    return databaseError('DATABASE_UNREACHABLE', `Cannot connect to PostgreSQL at ${where} (${e.code}).`, 'Check that the server runs and DATABASE_URL names the right host and port.');
  }
  if (e.message === SSL_REFUSED) {
    return databaseError('DATABASE_SSL_REFUSED', `PostgreSQL at ${where} does not accept SSL, and the sslmode in DATABASE_URL requires it.`, 'Use sslmode=prefer or sslmode=disable, or turn SSL on at the server.');
  }
  const parts = parsePgUrl(url);
  // The driver's text may quote the connection string back; never its password.
  const said = scrubSecrets(e.message ?? String(err), [parts.password]);
  if (e.code && TLS_VERIFY_CODES.has(e.code)) {
    return databaseError(
      'DATABASE_SSL_UNVERIFIED',
      `PostgreSQL at ${where}: the server's certificate could not be verified (${said}).`,
      'Give the certificate of the CA that signed it with sslrootcert=/path/to/ca.crt (verify-full also checks the host name, verify-ca does not), or use sslmode=require to encrypt without verifying.',
    );
  }
  return databaseError('DATABASE_ERROR', `PostgreSQL at ${where}: ${said}`, 'Check DATABASE_URL (or -d) and the server.');
}

function readSslFile(name: string, file: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'it does not exist' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'it is a folder' : (code ?? 'unreadable');
    return fail(databaseError('DATABASE_SSL_FILE', `Cannot read the ${name} file "${file}" given in the database URL: ${why}.`, `Fix ${name} in DATABASE_URL (or -d), or make the file readable by this user.`));
  }
}

function fail(err: Error): never {
  throw err;
}

/**
 * How to connect: the options to try first and, for sslmode=prefer and
 * allow, the ones to try when the server turns the first down.
 */
interface PgPlan {
  first: pg.ClientConfig;
  fallback?: pg.ClientConfig;
}

/** Whether a failed first attempt is one that libpq would retry the other way (with or without SSL). */
const retryOtherWay = (err: unknown) => {
  const e = err as { code?: string; message?: string };
  return e.message === SSL_REFUSED || e.code === '28000';
};

/**
 * Turns a PostgreSQL URL into node-postgres options, with libpq's meaning of
 * sslmode (and asyncpg's `ssl=`), so that pg never reads the URL itself:
 * pg's own reading takes sslmode=require as verify-full, prints a warning,
 * and crashes on asyncpg's `ssl=require`. Without sslmode, as in libpq and
 * asyncpg, SSL is preferred; a Unix socket never uses SSL. Parameters pg
 * has no use for (asyncpg's prepared_statement_cache_size, ...) are ignored.
 */
function pgPlan(url: string): PgPlan {
  const parts = parsePgUrl(url);
  const env = process.env;
  const setting = (name: string, envName: string) => param(parts, name) ?? (env[envName] || undefined);
  const modeText = param(parts, 'sslmode') ?? param(parts, 'ssl') ?? (env.PGSSLMODE || undefined);
  let mode: SslMode = 'prefer';
  if (modeText !== undefined) {
    mode = sslModeOf(modeText) ?? fail(usageError(`PGSSLMODE="${modeText}" is not an SSL mode.`, `Set it to one of ${SSL_MODES.join(', ')}, or unset it.`));
  }
  const timeout = Number(param(parts, 'connect_timeout'));
  const base: pg.ClientConfig = {
    host: parts.host,
    port: parts.port,
    user: parts.user,
    password: parts.password,
    database: parts.database,
    connectionTimeoutMillis: timeout > 0 ? timeout * 1000 : 10_000,
  };
  const appName = param(parts, 'application_name');
  if (appName) base.application_name = appName;
  const options = param(parts, 'options');
  if (options) base.options = options;
  if (mode === 'disable' || parts.host?.startsWith('/')) return { first: { ...base, ssl: false } };

  const tls: ConnectionOptions = {};
  const rootcert = setting('sslrootcert', 'PGSSLROOTCERT');
  const defaultRoot = path.join(os.homedir(), '.postgresql', 'root.crt');
  if (rootcert && rootcert !== 'system') tls.ca = readSslFile('sslrootcert', rootcert);
  else if (!rootcert && mode.startsWith('verify') && fs.existsSync(defaultRoot)) tls.ca = readSslFile('sslrootcert', defaultRoot);
  const cert = setting('sslcert', 'PGSSLCERT');
  if (cert) tls.cert = readSslFile('sslcert', cert);
  const key = setting('sslkey', 'PGSSLKEY');
  if (key) tls.key = readSslFile('sslkey', key);
  const passphrase = param(parts, 'sslpassword');
  if (passphrase) tls.passphrase = passphrase;
  // As in libpq: a root certificate given makes require (and prefer, allow) verify the chain; verify-full and
  // sslrootcert=system also check the host name.
  if (!mode.startsWith('verify') && !rootcert) tls.rejectUnauthorized = false;
  else if (mode !== 'verify-full' && rootcert !== 'system') tls.checkServerIdentity = () => undefined;

  const plain = { ...base, ssl: false };
  const encrypted = { ...base, ssl: tls };
  if (mode === 'allow') return { first: plain, fallback: encrypted };
  if (mode === 'prefer') return { first: encrypted, fallback: plain };
  return { first: encrypted };
}

async function tryConnect(config: pg.ClientConfig): Promise<pg.Client> {
  const client = new pg.Client(config);
  client.on('error', () => {});
  try {
    await client.connect();
    return client;
  } catch (err) {
    await client.end().catch(() => {});
    throw err;
  }
}

/** Connects by the plan, the second way when the server turns the first down; the driver's error as it is. */
async function connectByPlan(url: string, extra: pg.ClientConfig = {}): Promise<{ client: pg.Client; config: pg.ClientConfig }> {
  const plan = pgPlan(url);
  const first = { ...extra, ...plan.first };
  try {
    return { client: await tryConnect(first), config: first };
  } catch (err) {
    if (!plan.fallback || !retryOtherWay(err)) throw err;
    const second = { ...extra, ...plan.fallback };
    return { client: await tryConnect(second), config: second };
  }
}

/**
 * The pg options a pool (Prisma's pg adapter) connects with. For sslmode
 * prefer and allow, one connection is tried first to learn which way the
 * server takes; failures are mapped to exit 5, as for connectPg.
 */
export async function pgPoolConfig(url: string): Promise<pg.PoolConfig> {
  const plan = pgPlan(url);
  if (!plan.fallback) return plan.first;
  try {
    const { client, config } = await connectByPlan(url);
    await client.end().catch(() => {});
    return config;
  } catch (err) {
    throw err instanceof AuthctlError ? err : pgConnectionError(url, err);
  }
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
  try {
    return (await connectByPlan(url, { application_name: 'authctl', ...(opts.naiveText ? { types: naiveTimestampsAsText } : {}) })).client;
  } catch (err) {
    throw err instanceof AuthctlError ? err : pgConnectionError(url, err);
  }
}

/**
 * Creates the database named in the URL when it does not exist, through the
 * server's maintenance database. Returns whether it was created.
 */
export async function ensurePgDatabase(url: string): Promise<boolean> {
  try {
    const { client: probe } = await connectByPlan(url);
    await probe.end().catch(() => {});
    return false;
  } catch (err) {
    if (err instanceof AuthctlError) throw err;
    if ((err as { code?: string }).code !== '3D000') throw pgConnectionError(url, err);
  }
  const { database } = describePgTarget(url);
  const client = await connectPg(formatPgUrl({ ...parsePgUrl(url), database: 'postgres' }));
  try {
    await client.query(`CREATE DATABASE ${pg.escapeIdentifier(database)}`);
    return true;
  } catch (err) {
    const e = err as { code?: string; message?: string };
    // Another client created it at the same moment (42P04, or 23505 when both inserted the catalogue row at once).
    if (e.code === '42P04' || e.code === '23505') return false;
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
  let scratch = `authctl_shape_${process.pid}_${Date.now()}`;
  await client.query('BEGIN');
  try {
    await client.query('SAVEPOINT scratch_schema');
    try {
      await client.query(`CREATE SCHEMA ${scratch}`);
    } catch (err) {
      // A role that may use the app's tables but not create schemas (no CREATE
      // on the database), as doctor and `migrate status` may run with: the
      // session's own temporary schema holds the scripts' tables instead.
      if ((err as { code?: unknown }).code !== '42501') throw err;
      await client.query('ROLLBACK TO SAVEPOINT scratch_schema');
      await client.query('CREATE TEMP TABLE authctl_shape_probe ()');
      scratch = (await client.query<{ name: string }>('SELECT pg_my_temp_schema()::regnamespace::text AS name')).rows[0]!.name;
      await client.query('DROP TABLE authctl_shape_probe');
    }
    await client.query(`SET LOCAL search_path TO ${scratch}`);
    for (const script of scripts) await client.query(script);
    return await describePg(client, scratch);
  } finally {
    await client.query('ROLLBACK');
  }
}
