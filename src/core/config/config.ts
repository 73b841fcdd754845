import fs from 'node:fs';
import path from 'node:path';
import { parseDotEnv } from './dotenv.js';
import { databaseError, usageError } from '../errors/errors.js';
import { redactWholeUrl } from './secrets.js';
import { formatPgUrl, parsePgUrl } from './pg-url.js';

export { redactUrl } from './secrets.js';

const DEFAULT_DATABASE_URL = 'sqlite:///./gpustack_ui.db';

export type DatabaseTarget =
  | { provider: 'sqlite'; file: string; url: string; display: string }
  | { provider: 'postgresql'; url: string; display: string };

/** Reads `.env` in the working directory, the same file the app reads, with the app's parser's rules. */
export function readDotEnv(cwd: string, env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const file = path.join(cwd, '.env');
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return {};
  }
  return parseDotEnv(text, env);
}

/**
 * Flags beat environment variables, which beat `.env`. A flag given with an
 * empty value is passed on as it is, for the caller to refuse, rather than
 * falling through to a setting the operator did not ask for.
 */
export function resolveSetting(
  names: string[],
  flagValue: string | undefined,
  env: NodeJS.ProcessEnv,
  dotEnv: Record<string, string>,
): string | undefined {
  if (flagValue !== undefined) return flagValue;
  for (const name of names) if (env[name]) return env[name];
  for (const name of names) if (dotEnv[name]) return dotEnv[name];
  return undefined;
}

/**
 * Understands every DATABASE_URL form the app accepts (SQLAlchemy's, with or
 * without a driver suffix) and Prisma's `file:` form. Relative SQLite paths are
 * relative to the working directory, as they are for the app.
 */
export function parseDatabaseUrl(raw: string, cwd: string): DatabaseTarget {
  const url = raw.trim();
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase();
  if (!scheme) {
    throw usageError(
      `Database URL "${redactWholeUrl(url)}" has no scheme.`,
      'Use sqlite:///./gpustack_ui.db, file:./gpustack_ui.db or postgresql://user@host/db.',
    );
  }
  const base = scheme.split('+')[0];
  if (base === 'sqlite' || scheme === 'file') {
    let rest: string;
    if (scheme === 'file') {
      rest = url.slice('file:'.length).replace(/^\/\/(?=\/)/, '');
    } else {
      const m = /^[^:]+:\/\/\/(.*)$/s.exec(url);
      if (!m) {
        throw usageError(
          `SQLite URL "${redactWholeUrl(url)}" is malformed.`,
          'Use sqlite:///relative/path.db or sqlite:////absolute/path.db (three or four slashes).',
        );
      }
      rest = m[1]!;
    }
    if (rest.includes('?')) {
      throw usageError(
        `SQLite URL "${redactWholeUrl(url)}" has URL parameters ("${redactWholeUrl(rest.slice(rest.indexOf("?")))}"); authctl takes no URL parameters for SQLite.`,
        'Remove everything from "?" on. authctl cannot honour them (a "?mode=ro" would not stop it writing), so it refuses rather than ignoring them.',
      );
    }
    if (/[/\\]$/.test(rest)) {
      throw usageError(`SQLite URL "${redactWholeUrl(url)}" names a folder, not a database file.`, 'End the URL with the database file name, for example sqlite:///./gpustack_ui.db.');
    }
    if (!rest || rest === ':memory:') {
      throw usageError(`SQLite URL "${redactWholeUrl(url)}" names no file.`, 'authctl needs the app\'s database file, not an in-memory database.');
    }
    let decoded: string;
    try {
      decoded = decodeURIComponent(rest);
    } catch {
      throw usageError(`SQLite URL "${redactWholeUrl(url)}" holds a "%" that is not followed by two hex digits.`, 'Write the path as it is, or percent-encode "%" as %25.');
    }
    const file = path.resolve(cwd, decoded);
    return { provider: 'sqlite', file, url: `file:${file}`, display: `sqlite ${file}` };
  }
  if (base === 'postgresql' || base === 'postgres') {
    return parsePostgresUrl(url, scheme);
  }
  throw usageError(
    `Unsupported database URL scheme "${scheme}".`,
    'authctl supports sqlite:, sqlite+aiosqlite:, file:, postgresql:, postgres: and postgresql+asyncpg: URLs.',
  );
}

/**
 * A PostgreSQL URL must be well formed before anything connects with it:
 * libpq-style parsers read `postgres:/u:pw@h/db` as a database named
 * `u:pw@h/db` on localhost, which would both connect to the wrong server and
 * print the password in the error. The target's `url` is the same URL
 * rewritten in a form every later step reads back unambiguously.
 */
function parsePostgresUrl(url: string, scheme: string): DatabaseTarget {
  const parts = parsePgUrl(url, scheme);
  return { provider: 'postgresql', url: formatPgUrl(parts), display: formatPgUrl(parts, { redact: true, params: false }) };
}

export interface ResolvedConfig {
  database: DatabaseTarget;
  env: NodeJS.ProcessEnv;
  dotEnv: Record<string, string>;
  cwd: string;
}

function refuseFolder(file: string): void {
  let isFolder = false;
  try {
    isFolder = fs.statSync(file).isDirectory();
  } catch {
    return;
  }
  if (isFolder) {
    throw databaseError('DATABASE_IS_FOLDER', `${file} is a folder, not a SQLite database file.`, 'Point DATABASE_URL (or -d) at the database file inside it, for example sqlite:///./data/gpustack_ui.db.');
  }
}

export function resolveConfig(opts: { databaseUrl?: string }, env = process.env, cwd = process.cwd()): ResolvedConfig {
  const dotEnv = readDotEnv(cwd, env);
  let url: string;
  if (opts.databaseUrl !== undefined) {
    if (!opts.databaseUrl.trim()) throw usageError('-d/--database-url is empty.', 'Pass a database URL, or leave the option out to use DATABASE_URL or the default.');
    url = opts.databaseUrl;
  } else if (env.DATABASE_URL !== undefined || dotEnv.DATABASE_URL !== undefined) {
    const fromEnv = env.DATABASE_URL !== undefined;
    url = (fromEnv ? env.DATABASE_URL : dotEnv.DATABASE_URL)!;
    if (!url.trim()) {
      // The app does not fall back to its default for an empty setting either.
      throw usageError(`DATABASE_URL is set but empty (in ${fromEnv ? 'the environment' : '.env'}).`, 'Set it to a database URL, or remove it to use the default sqlite:///./gpustack_ui.db.');
    }
  } else {
    url = DEFAULT_DATABASE_URL;
  }
  const database = parseDatabaseUrl(url, cwd);
  if (database.provider === 'sqlite') refuseFolder(database.file);
  return { database, env, dotEnv, cwd };
}
