import { spawnSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, beforeAll, describe } from 'vitest';
import { runCli, tempDir, type CliOptions } from './cli.js';
import { postgresMissing, startPostgres, type PgServer } from './postgres.js';

/**
 * The DDL the GPUStack UI app's SQLAlchemy create_all produces on SQLite,
 * kept here independently of authctl's migrations so tests can tell whether
 * those reproduce it.
 */
const APP_DDL = `
CREATE TABLE users (
  id INTEGER NOT NULL, username VARCHAR(255) NOT NULL, email VARCHAR(255),
  password_hash VARCHAR(255), full_name VARCHAR(255),
  is_admin BOOLEAN NOT NULL, is_active BOOLEAN NOT NULL,
  gpustack_user_id INTEGER, preferences TEXT,
  created_at DATETIME NOT NULL, updated_at DATETIME NOT NULL, last_login DATETIME,
  PRIMARY KEY (id), UNIQUE (gpustack_user_id));
CREATE UNIQUE INDEX ix_users_email ON users (email);
CREATE INDEX idx_email_active ON users (email, is_active);
CREATE UNIQUE INDEX ix_users_username ON users (username);
CREATE INDEX idx_username_active ON users (username, is_active);
CREATE TABLE user_sessions (
  id INTEGER NOT NULL, user_id INTEGER NOT NULL,
  session_token VARCHAR(255) NOT NULL, jti VARCHAR(255) NOT NULL,
  token_type VARCHAR(20) NOT NULL,
  expires_at DATETIME NOT NULL, created_at DATETIME NOT NULL,
  last_accessed DATETIME NOT NULL, ip_address VARCHAR(45), user_agent TEXT,
  PRIMARY KEY (id), FOREIGN KEY(user_id) REFERENCES users (id));
CREATE UNIQUE INDEX ix_user_sessions_jti ON user_sessions (jti);
CREATE INDEX idx_user_expires ON user_sessions (user_id, expires_at);
CREATE UNIQUE INDEX ix_user_sessions_session_token ON user_sessions (session_token);
CREATE INDEX idx_user_token_type ON user_sessions (user_id, token_type);
CREATE INDEX idx_expires_at ON user_sessions (expires_at);
CREATE INDEX ix_user_sessions_expires_at ON user_sessions (expires_at);
CREATE TABLE user_preferences (
  id INTEGER NOT NULL, user_id INTEGER NOT NULL,
  preference_key VARCHAR(255) NOT NULL, preference_value TEXT,
  created_at DATETIME NOT NULL, updated_at DATETIME NOT NULL,
  PRIMARY KEY (id), CONSTRAINT uq_user_preference UNIQUE (user_id, preference_key),
  FOREIGN KEY(user_id) REFERENCES users (id));
CREATE INDEX idx_user_preference_key ON user_preferences (user_id, preference_key);
`;

/**
 * The chat-history tables the app's create_all adds from v2.3.0 on (SQLite
 * DDL). Every app start creates them when they are missing, so a database
 * authctl made gains them the first time the app starts on it.
 */
const APP_CHAT_DDL = `
CREATE TABLE conversations (
  id UUID NOT NULL, user_id INTEGER NOT NULL, title VARCHAR(255),
  model_used VARCHAR(100), created_at DATETIME NOT NULL, updated_at DATETIME NOT NULL,
  PRIMARY KEY (id), FOREIGN KEY(user_id) REFERENCES users (id));
CREATE TABLE messages (
  id UUID NOT NULL, conversation_id UUID NOT NULL, role VARCHAR(20) NOT NULL,
  content TEXT NOT NULL, message_metadata JSON, created_at DATETIME NOT NULL,
  PRIMARY KEY (id), FOREIGN KEY(conversation_id) REFERENCES conversations (id));
`;

/** The app versions whose schema the tests build: the first one authctl supports, and the newest. */
export type AppVersion = 'v2.2.0' | 'v2.5.4';

/** A conversation the app stored for a user, with its messages. */
export interface AppConversation {
  userId: number;
  title: string;
  messages: string[];
}

/** SQLAlchemy's UUID on SQLite: 32 hex digits, no dashes. */
const appUuid = () => randomBytes(16).toString('hex');

const two = (n: number) => String(n).padStart(2, '0');

/** SQLAlchemy's DATETIME text on SQLite: naive UTC with microseconds. */
export function appTimestamp(d: Date): string {
  return `${d.getUTCFullYear()}-${two(d.getUTCMonth() + 1)}-${two(d.getUTCDate())} ${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())}.${String(d.getUTCMilliseconds()).padStart(3, '0')}${String(Math.floor(Math.random() * 1000)).padStart(3, '0')}`;
}

/** Prisma's default SQLite DateTime text. */
export function isoTimestamp(d: Date): string {
  return d.toISOString().replace('Z', '+00:00');
}

/** The app's parser: only `YYYY-MM-DD HH:MM:SS[.ffffff]` loads; anything else raises. */
export const APP_DATETIME = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{1,6})?$/;

/** bcrypt through the system's libxcrypt (via Python), independent of bcryptjs. */
export function independentBcrypt(password: string, rounds = 12): string {
  const r = spawnSync('python3', ['-W', 'ignore', '-c', `import crypt,sys; print(crypt.crypt(sys.stdin.read(), crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=${2 ** rounds})))`], { input: password, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  return r.stdout.trim();
}

export function independentVerify(password: string, hash: string): boolean {
  const r = spawnSync('python3', ['-W', 'ignore', '-c', 'import crypt,sys; h=sys.argv[1]; print(crypt.crypt(sys.stdin.read(), h) == h)', hash], { input: password, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  return r.stdout.trim() === 'True';
}

export interface AppUser {
  username: string;
  passwordHash?: string | null;
  email?: string | null;
  fullName?: string | null;
  isAdmin?: boolean;
  isActive?: boolean;
  gpustackUserId?: number | null;
  /** The legacy users.preferences blob; the app itself leaves it NULL. */
  legacyPreferences?: string | null;
}

export interface AppSession {
  userId: number;
  tokenType?: 'access' | 'refresh';
  expiresAt: string;
  createdAt?: string;
  token?: string;
  jti?: string;
  ipAddress?: string;
  userAgent?: string;
}

/** A JWT-sized fake token, as the app stores in session_token. */
export function fakeJwt(): string {
  return `eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.${randomBytes(150).toString('base64url')}.${randomBytes(32).toString('base64url')}`;
}

/**
 * The app logging users in on its own connection to a SQLite file: `perTick`
 * new sessions (valid for an hour) every `everyMs`, until stopped. Failed
 * inserts are counted, not thrown.
 */
export function appLogins(file: string, opts: { everyMs: number; perTick?: number; journalMode?: 'wal' }) {
  const app = new Database(file, { timeout: 5000 });
  if (opts.journalMode) app.pragma(`journal_mode = ${opts.journalMode}`);
  const login = app.prepare(
    "INSERT INTO user_sessions (user_id, session_token, jti, token_type, expires_at, created_at, last_accessed) VALUES (1, ?, ?, 'access', ?, ?, ?)",
  );
  const at = appTimestamp(new Date(Date.now() + 3_600_000));
  const counts = { logins: 0, failures: 0 };
  const timer = setInterval(() => {
    for (let i = 0; i < (opts.perTick ?? 1); i++) {
      try {
        login.run(fakeJwt(), randomUUID(), at, at, at);
        counts.logins++;
      } catch {
        counts.failures++;
      }
    }
  }, opts.everyMs);
  return {
    counts,
    stop(): void {
      clearInterval(timer);
      app.close();
    },
  };
}


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
const APP_DDL_PG = APP_DDL.replace(/id INTEGER NOT NULL, (username|user_id)/g, 'id SERIAL NOT NULL, $1').replace(/DATETIME/g, 'TIMESTAMP WITHOUT TIME ZONE');

/** The chat-history tables on PostgreSQL: UUID and JSON columns, naive timestamps. */
const APP_CHAT_DDL_PG = APP_CHAT_DDL.replace(/DATETIME/g, 'TIMESTAMP WITHOUT TIME ZONE');

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

/** The SQLite database in `file` (which need not exist yet), with the CLI run from its folder. */
export function sqliteDbAt(file: string): TestDb {
  return sqliteDb(file, path.dirname(file));
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

/** What the app stores for a browser login. */
const APP_USER_AGENT = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36';

/** Stores one session as the app does; what `s` leaves out gets the app's usual values. */
export async function insertSession(db: TestDb, s: AppSession): Promise<void> {
  const now = appTimestamp(new Date());
  await db.query(
    'INSERT INTO user_sessions (user_id, session_token, jti, token_type, expires_at, created_at, last_accessed, ip_address, user_agent) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
    s.userId, s.token ?? fakeJwt(), s.jti ?? randomUUID(), s.tokenType ?? 'access',
    s.expiresAt, s.createdAt ?? now, s.createdAt ?? now, s.ipAddress ?? '10.1.2.3', s.userAgent ?? APP_USER_AGENT,
  );
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
      u.username, u.email ?? null, u.passwordHash ?? null, u.fullName ?? null, bool(Boolean(u.isAdmin)), bool(u.isActive !== false), u.gpustackUserId ?? null, u.legacyPreferences ?? null, now, now,
    );
  }
  // The app's VARCHAR(255) session_token on PostgreSQL holds a cut-down token until adoption widens it.
  for (const s of content.sessions ?? []) await insertSession(db, db.provider === 'sqlite' || s.token ? s : { ...s, token: fakeJwt().slice(0, 255) });
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
