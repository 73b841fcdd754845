import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import Database from 'better-sqlite3';

/**
 * The DDL the GPUStack UI app's SQLAlchemy create_all produces on SQLite,
 * kept here independently of authctl's migrations so tests can tell whether
 * those reproduce it.
 */
export const APP_DDL = `
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
export const APP_CHAT_DDL = `
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
export const appUuid = () => randomBytes(16).toString('hex');

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
}

export interface AppSession {
  userId: number;
  tokenType?: 'access' | 'refresh';
  expiresAt: string;
  createdAt?: string;
  token?: string;
  jti?: string;
}

/** A JWT-sized fake token, as the app stores in session_token. */
export function fakeJwt(): string {
  return `eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.${randomBytes(150).toString('base64url')}.${randomBytes(32).toString('base64url')}`;
}

/** Builds a database exactly as the app would have: its DDL, its value formats. */
export function createAppDatabase(
  file: string,
  content: { version?: AppVersion; users?: AppUser[]; sessions?: AppSession[]; prefs?: Array<{ userId: number; key: string; value: string }>; conversations?: AppConversation[] } = {},
): Database.Database {
  const db = new Database(file);
  db.exec(APP_DDL);
  if (content.version === 'v2.5.4' || content.conversations) db.exec(APP_CHAT_DDL);
  const now = appTimestamp(new Date());
  const insertUser = db.prepare(
    'INSERT INTO users (username, email, password_hash, full_name, is_admin, is_active, gpustack_user_id, preferences, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
  );
  for (const u of content.users ?? []) {
    insertUser.run(u.username, u.email ?? null, u.passwordHash ?? null, u.fullName ?? null, u.isAdmin ? 1 : 0, u.isActive === false ? 0 : 1, u.gpustackUserId ?? null, '{"theme": "dark"}', now, now);
  }
  const insertSession = db.prepare(
    'INSERT INTO user_sessions (user_id, session_token, jti, token_type, expires_at, created_at, last_accessed, ip_address, user_agent) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
  );
  for (const s of content.sessions ?? []) {
    insertSession.run(s.userId, s.token ?? fakeJwt(), s.jti ?? randomBytes(16).toString('hex'), s.tokenType ?? 'access', s.expiresAt, s.createdAt ?? now, s.createdAt ?? now, '10.1.2.3', 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36');
  }
  const insertPref = db.prepare('INSERT INTO user_preferences (user_id, preference_key, preference_value, created_at, updated_at) VALUES (?, ?, ?, ?, ?)');
  for (const p of content.prefs ?? []) insertPref.run(p.userId, p.key, p.value, now, now);
  for (const c of content.conversations ?? []) {
    const insertConversation = db.prepare('INSERT INTO conversations (id, user_id, title, model_used, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)');
    const insertMessage = db.prepare('INSERT INTO messages (id, conversation_id, role, content, message_metadata, created_at) VALUES (?, ?, ?, ?, ?, ?)');
    const id = appUuid();
    insertConversation.run(id, c.userId, c.title, 'qwen3-8b', now, now);
    c.messages.forEach((text, i) => insertMessage.run(appUuid(), id, i % 2 ? 'assistant' : 'user', text, '{"tokens": 12}', now));
  }
  return db;
}

/** Every DATETIME value of every row, as the app would load it; returns the ones it could not. */
export function unparseableTimestamps(db: Database.Database): string[] {
  const bad: string[] = [];
  const checks: Array<[string, string[]]> = [
    ['users', ['created_at', 'updated_at', 'last_login']],
    ['user_sessions', ['expires_at', 'created_at', 'last_accessed']],
    ['user_preferences', ['created_at', 'updated_at']],
  ];
  for (const [table, cols] of checks) {
    for (const row of db.prepare(`SELECT id, ${cols.join(', ')} FROM ${table}`).all() as Array<Record<string, unknown>>) {
      for (const col of cols) {
        const v = row[col];
        if (v !== null && !(typeof v === 'string' && APP_DATETIME.test(v))) bad.push(`${table}.${col}#${row.id}=${String(v)}`);
      }
    }
  }
  return bad;
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
        login.run(randomBytes(32).toString('hex'), randomBytes(16).toString('hex'), at, at, at);
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
