import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, beforeAll, describe } from 'vitest';
import { APP_CHAT_DDL, APP_DATETIME, APP_DDL, appTimestamp, appUuid, fakeJwt, type AppConversation, type AppSession, type AppUser, type AppVersion } from './app-db.js';
import { runCli, tempDir, type CliOptions } from './cli.js';
import { postgresMissing, startPostgres, type PgServer } from './postgres.js';

export type ProviderName = 'sqlite' | 'postgresql';

/**
 * One database under test, whichever provider holds it. Queries use `?`
 * placeholders; results come back alike from both: booleans as 0/1, counts as
 * numbers, timestamps as the text the database holds.
 */
export interface TestDb {
  provider: ProviderName;
  url: string;
  /** A working directory for the CLI, with no .env in it. */
  cwd: string;
  /** The environment that points the CLI at this database. */
  env: Record<string, string>;
  query<T = Record<string, unknown>>(sql: string, ...params: unknown[]): Promise<T[]>;
  exec(sql: string): Promise<void>;
  close(): Promise<void>;
}

/** The app's create_all DDL on PostgreSQL, kept independent of authctl's migrations. */
export const APP_DDL_PG = APP_DDL.replace(/id INTEGER NOT NULL, (username|user_id)/g, 'id SERIAL NOT NULL, $1').replace(/DATETIME/g, 'TIMESTAMP WITHOUT TIME ZONE');

/** The chat-history tables on PostgreSQL: UUID and JSON columns, naive timestamps. */
export const APP_CHAT_DDL_PG = APP_CHAT_DDL.replace(/DATETIME/g, 'TIMESTAMP WITHOUT TIME ZONE');

// Return timestamps as the stored text and 64-bit counts as numbers, like SQLite.
pg.types.setTypeParser(1114, (v: string) => v);
pg.types.setTypeParser(20, (v: string) => Number(v));

function normalise(row: Record<string, unknown>): Record<string, unknown> {
  for (const [k, v] of Object.entries(row)) if (typeof v === 'boolean') row[k] = v ? 1 : 0;
  return row;
}

function sqliteDb(file: string, cwd: string): TestDb {
  const url = `sqlite:///${file}`;
  const open = () => new Database(file);
  return {
    provider: 'sqlite',
    url,
    cwd,
    env: { DATABASE_URL: url },
    async query<T>(sql: string, ...params: unknown[]) {
      const db = open();
      try {
        const stmt = db.prepare(sql);
        return (stmt.reader ? stmt.all(...params) : (stmt.run(...params), [])) as T[];
      } finally {
        db.close();
      }
    },
    async exec(sql: string) {
      const db = open();
      try {
        db.exec(sql);
      } finally {
        db.close();
      }
    },
    async close() {},
  };
}

function pgDb(url: string, cwd: string): TestDb {
  const run = async <T>(sql: string, params: unknown[]) => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      let i = 0;
      const res = await client.query(sql.replace(/\?/g, () => `$${++i}`), params);
      const results = Array.isArray(res) ? res.at(-1)! : res;
      return (results.rows ?? []).map(normalise) as T[];
    } finally {
      await client.end();
    }
  };
  return {
    provider: 'postgresql',
    url,
    cwd,
    env: { DATABASE_URL: url },
    query: <T>(sql: string, ...params: unknown[]) => run<T>(sql, params),
    async exec(sql: string) {
      await run(sql, []);
    },
    async close() {},
  };
}

/** A new SQLite database in its own folder, for suites that concern SQLite alone. */
export function newSqliteDb(): TestDb {
  const cwd = tempDir();
  return sqliteDb(path.join(cwd, 'gpustack_ui.db'), cwd);
}

/** Runs the real CLI against a test database, from its working directory. */
export function cli(db: TestDb, args: string[], opts: Partial<CliOptions> = {}) {
  return runCli(args, { cwd: db.cwd, ...opts, env: { ...db.env, ...opts.env } });
}

export interface AppContent {
  /** The app version whose create_all made the schema (default v2.2.0: the auth tables only). */
  version?: AppVersion;
  users?: AppUser[];
  sessions?: AppSession[];
  prefs?: Array<{ userId: number; key: string; value: string }>;
  /** Chat history (v2.3.0 and later); implies the newest schema. */
  conversations?: AppConversation[];
}

/** Adds the app's v2.3.0+ chat tables, as the app's next start would on a database authctl made. */
export async function startNewestApp(db: TestDb): Promise<void> {
  const ddl = db.provider === 'sqlite' ? APP_CHAT_DDL.replace(/CREATE TABLE /g, 'CREATE TABLE IF NOT EXISTS ') : APP_CHAT_DDL_PG.replace(/CREATE TABLE /g, 'CREATE TABLE IF NOT EXISTS ');
  await db.exec(ddl);
}

/** Stores conversations and their messages as the app does (UUID keys, JSON metadata). */
export async function addConversations(db: TestDb, conversations: AppConversation[]): Promise<void> {
  const now = appTimestamp(new Date());
  const uuid = () => (db.provider === 'sqlite' ? appUuid() : randomUUID());
  for (const c of conversations) {
    const id = uuid();
    await db.query('INSERT INTO conversations (id, user_id, title, model_used, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)', id, c.userId, c.title, 'qwen3-8b', now, now);
    for (const [i, text] of c.messages.entries()) {
      await db.query('INSERT INTO messages (id, conversation_id, role, content, message_metadata, created_at) VALUES (?, ?, ?, ?, ?, ?)', uuid(), id, i % 2 ? 'assistant' : 'user', text, '{"tokens": 12}', now);
    }
  }
}

/** Fills a TestDb as the app would: its DDL, its value formats. */
export async function fillAppDatabase(db: TestDb, content: AppContent): Promise<void> {
  await db.exec(db.provider === 'sqlite' ? APP_DDL : APP_DDL_PG);
  if (content.version === 'v2.5.4' || content.conversations) await startNewestApp(db);
  const now = appTimestamp(new Date());
  const bool = (b: boolean) => (db.provider === 'sqlite' ? (b ? 1 : 0) : b);
  for (const u of content.users ?? []) {
    await db.query(
      'INSERT INTO users (username, email, password_hash, full_name, is_admin, is_active, gpustack_user_id, preferences, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
      u.username, u.email ?? null, u.passwordHash ?? null, u.fullName ?? null, bool(Boolean(u.isAdmin)), bool(u.isActive !== false), u.gpustackUserId ?? null, '{"theme": "dark"}', now, now,
    );
  }
  for (const s of content.sessions ?? []) {
    await db.query(
      'INSERT INTO user_sessions (user_id, session_token, jti, token_type, expires_at, created_at, last_accessed, ip_address, user_agent) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
      s.userId, s.token ?? (db.provider === 'sqlite' ? fakeJwt() : fakeJwt().slice(0, 255)), s.jti ?? randomBytes(16).toString('hex'), s.tokenType ?? 'access',
      s.expiresAt, s.createdAt ?? now, s.createdAt ?? now, '10.1.2.3', 'Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0',
    );
  }
  for (const p of content.prefs ?? []) {
    await db.query('INSERT INTO user_preferences (user_id, preference_key, preference_value, created_at, updated_at) VALUES (?, ?, ?, ?, ?)', p.userId, p.key, p.value, now, now);
  }
  await addConversations(db, content.conversations ?? []);
}

/** Every DATETIME value the app would fail to parse. */
export async function unparseable(db: TestDb): Promise<string[]> {
  const bad: string[] = [];
  for (const [table, cols] of [
    ['users', ['created_at', 'updated_at', 'last_login']],
    ['user_sessions', ['expires_at', 'created_at', 'last_accessed']],
    ['user_preferences', ['created_at', 'updated_at']],
  ] as const) {
    for (const row of await db.query<Record<string, unknown>>(`SELECT id, ${cols.join(', ')} FROM ${table}`)) {
      for (const col of cols) {
        const v = row[col];
        if (v !== null && !(typeof v === 'string' && APP_DATETIME.test(v))) bad.push(`${table}.${col}#${row.id}=${String(v)}`);
      }
    }
  }
  return bad;
}

const sqliteFile = (db: TestDb) => db.url.slice('sqlite:///'.length);

/**
 * Holds the lock authctl takes for `job` on this database, as a concurrent run
 * would, until the returned function is called. Written against the lock's
 * documented form (a side file on SQLite, an advisory lock on PostgreSQL),
 * not against authctl's code.
 */
export async function holdJobLock(db: TestDb, job: string): Promise<() => Promise<void>> {
  if (db.provider === 'sqlite') {
    const holder = new Database(`${sqliteFile(db)}.authctl-${job}.lock`);
    holder.exec('BEGIN EXCLUSIVE');
    return async () => {
      holder.exec('ROLLBACK');
      holder.close();
    };
  }
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  await client.query('SELECT pg_advisory_lock($1, hashtext($2))', [0x61757468, job]);
  return async () => {
    await client.end();
  };
}

export interface ProviderHarness {
  provider: ProviderName;
  /** A database that does not exist yet (SQLite) or is empty (PostgreSQL). */
  newDb(): Promise<TestDb>;
  /**
   * A new database with the same content as `template`, far cheaper than
   * building it again: a file copy on SQLite, CREATE DATABASE ... TEMPLATE on
   * PostgreSQL, which needs no one connected to the template.
   */
  cloneDb(template: TestDb): Promise<TestDb>;
}

/**
 * Runs the same suite against SQLite and a real, throwaway PostgreSQL server.
 * Without a server the PostgreSQL half is skipped with a visible notice,
 * except under CI, where failing to start one fails the run.
 */
export function describeProviders(title: string, suite: (h: ProviderHarness) => void): void {
  describe(`${title} [sqlite]`, () => {
    suite({
      provider: 'sqlite',
      async newDb() {
        return newSqliteDb();
      },
      async cloneDb(template) {
        const cwd = tempDir();
        const file = path.join(cwd, 'gpustack_ui.db');
        fs.copyFileSync(sqliteFile(template), file);
        return sqliteDb(file, cwd);
      },
    });
  });

  const missing = postgresMissing();
  if (missing && process.env.CI !== 'true') {
    console.warn(`NOTICE: PostgreSQL suite "${title}" skipped: ${missing}`);
    const unavailable = () => Promise.reject(new Error(missing));
    describe.skip(`${title} [postgresql]`, () => suite({ provider: 'postgresql', newDb: unavailable, cloneDb: unavailable }));
    return;
  }
  describe(`${title} [postgresql]`, () => {
    let server: PgServer | null = null;
    let unavailable: string | null = null;
    let clones = 0;
    beforeAll(async () => {
      const started = await startPostgres();
      if ('unavailable' in started) {
        unavailable = started.unavailable;
        console.warn(`NOTICE: PostgreSQL suite "${title}" skipped: ${unavailable}`);
      } else server = started;
    });
    afterAll(() => server?.stop());
    suite({
      provider: 'postgresql',
      async newDb() {
        if (!server) throw new Error(`PostgreSQL unavailable: ${unavailable}`);
        return pgDb(await server.createDatabase(), tempDir());
      },
      async cloneDb(template) {
        if (!server) throw new Error(`PostgreSQL unavailable: ${unavailable}`);
        const source = new URL(template.url);
        const name = `${source.pathname.slice(1)}_clone_${++clones}`;
        const admin = new pg.Client({ host: source.hostname, port: Number(source.port), user: 'postgres', database: 'postgres' });
        await admin.connect();
        try {
          await admin.query(`CREATE DATABASE "${name}" TEMPLATE "${source.pathname.slice(1)}"`);
        } finally {
          await admin.end();
        }
        source.pathname = `/${name}`;
        return pgDb(source.toString(), tempDir());
      },
    });
  });
}
