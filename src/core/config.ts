import fs from 'node:fs';
import path from 'node:path';
import { parseEnv } from 'node:util';
import { usageError } from './errors.js';

export const DEFAULT_DATABASE_URL = 'sqlite:///./gpustack_ui.db';

export type DatabaseTarget =
  | { provider: 'sqlite'; file: string; url: string; display: string }
  | { provider: 'postgresql'; url: string; display: string };

/** Reads `.env` in the working directory, the same file the app reads. */
export function readDotEnv(cwd: string): Record<string, string> {
  const file = path.join(cwd, '.env');
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return {};
  }
  return parseEnv(text) as Record<string, string>;
}

/** Flags beat environment variables, which beat `.env`. */
export function resolveSetting(
  names: string[],
  flagValue: string | undefined,
  env: NodeJS.ProcessEnv,
  dotEnv: Record<string, string>,
): string | undefined {
  if (flagValue) return flagValue;
  for (const name of names) if (env[name]) return env[name];
  for (const name of names) if (dotEnv[name]) return dotEnv[name];
  return undefined;
}

/** Replaces any password in a URL with `***`. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/?#@]*):[^@/?#]*@/i, '$1:***@');
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
      `Database URL "${redactUrl(url)}" has no scheme.`,
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
          `SQLite URL "${url}" is malformed.`,
          'Use sqlite:///relative/path.db or sqlite:////absolute/path.db (three or four slashes).',
        );
      }
      rest = m[1]!;
    }
    rest = rest.replace(/\?.*$/s, '');
    if (!rest || rest === ':memory:') {
      throw usageError(`SQLite URL "${url}" names no file.`, 'authctl needs the app\'s database file, not an in-memory database.');
    }
    const file = path.resolve(cwd, decodeURIComponent(rest));
    return { provider: 'sqlite', file, url: `file:${file}`, display: `sqlite ${file}` };
  }
  if (base === 'postgresql' || base === 'postgres') {
    const normalised = url.replace(/^[^:]+:/, 'postgresql:');
    let parsed: URL;
    try {
      parsed = new URL(normalised);
    } catch {
      throw usageError(`PostgreSQL URL "${redactUrl(url)}" is malformed.`, 'Use postgresql://user:password@host:5432/dbname.');
    }
    parsed.search = '';
    return { provider: 'postgresql', url: normalised, display: redactUrl(parsed.toString()) };
  }
  throw usageError(
    `Unsupported database URL scheme "${scheme}".`,
    'authctl supports sqlite:, sqlite+aiosqlite:, file:, postgresql:, postgres: and postgresql+asyncpg: URLs.',
  );
}

export interface ResolvedConfig {
  database: DatabaseTarget;
  env: NodeJS.ProcessEnv;
  dotEnv: Record<string, string>;
  cwd: string;
}

export function resolveConfig(opts: { databaseUrl?: string }, env = process.env, cwd = process.cwd()): ResolvedConfig {
  const dotEnv = readDotEnv(cwd);
  const url = resolveSetting(['DATABASE_URL'], opts.databaseUrl, env, dotEnv) ?? DEFAULT_DATABASE_URL;
  return { database: parseDatabaseUrl(url, cwd), env, dotEnv, cwd };
}
