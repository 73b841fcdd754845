import { describe, expect, it } from 'vitest';
import { parseDatabaseUrl } from '../../src/core/config/config.js';
import { formatPgUrl, parsePgUrl, sslModeOf } from '../../src/core/config/pg-url.js';
import { toAuthctlError } from '../../src/core/errors/map.js';

function refusal(url: string): { message: string; hint: string; exitCode: number } {
  try {
    parseDatabaseUrl(url, '/srv');
  } catch (err) {
    // As the operator sees it: through the error map, which scrubs secrets.
    const e = toAuthctlError(err);
    return { message: e.message, hint: e.hint ?? '', exitCode: e.exitCode };
  }
  throw new Error(`${url} was accepted`);
}

describe('parsePgUrl takes PostgreSQL URLs apart as libpq and SQLAlchemy do', () => {
  it.each([
    ['postgresql://u:pw@h:5433/db', { user: 'u', password: 'pw', host: 'h', port: 5433, database: 'db' }],
    ['postgresql://postgres:5432?sekritpw@127.0.0.1/authdb', { user: 'postgres', password: '5432?sekritpw', host: '127.0.0.1', database: 'authdb' }],
    ['postgresql://u:ab#cd/ef@h/db?sslmode=require', { password: 'ab#cd/ef', host: 'h', database: 'db', params: [['sslmode', 'require']] }],
    ['postgresql://u:a@b?c@h/db', { password: 'a@b?c', host: 'h' }],
    ['postgresql://u:SEC@RETPW@h:5432/db', { password: 'SEC@RETPW', host: 'h', port: 5432 }],
    ['postgresql://postgres:pw@/authdb?host=/run/postgresql', { user: 'postgres', password: 'pw', host: '/run/postgresql', database: 'authdb' }],
    ['postgresql:///authdb?host=/run/postgresql&port=5433', { host: '/run/postgresql', port: 5433, database: 'authdb' }],
    ['postgresql://%2Frun%2Fpostgresql/authdb', { host: '/run/postgresql', database: 'authdb' }],
    ['postgresql://[::1]:5433/db', { host: '::1', port: 5433 }],
    ['postgresql://h/db?application_name=a@b&options=-c+search_path%3Dx', { host: 'h', params: [['application_name', 'a@b'], ['options', '-c search_path=x']] }],
    ['postgresql://u:p%40w@h/d%40b', { password: 'p@w', database: 'd@b' }],
  ])('%s', (url, expected) => {
    const parts = parsePgUrl(url);
    expect(parts).toMatchObject(expected);
    // The rewritten URL every later step reads says exactly the same.
    const core = (p: typeof parts) => ({ ...p, params: p.params.filter(([k]) => !['host', 'port'].includes(k)) });
    expect(core(parsePgUrl(formatPgUrl(parts)))).toEqual(core(parts));
  });

  it.each([
    'postgresql://u:5432/sekritpw@127.0.0.1/authdb',
    'postgresql://u:sekritpw@h/d@b',
    'postgresql://u:sekritpw?a=b@h/db',
    'postgresql://u:pw@h/db?application_name=sekritpw@h2',
  ])('%s could be split at more than one "@": refused, telling how to encode, with no part of the password', (url) => {
    const r = refusal(url);
    expect(r.exitCode).toBe(2);
    expect(r.message).toMatch(/more than one "@"/);
    expect(r.hint).toMatch(/percent-encode @ : \/ \? # %/);
    expect(r.message + r.hint).not.toMatch(/sekrit/);
  });

  it.each([
    ['postgresql://u:pw@h:abc/db', 'the port "abc" is not a number from 1 to 65535'],
    ['postgresql://u:pw@h:99999/db', 'the port "99999" is not a number from 1 to 65535'],
    ['postgresql://u:pw@h/db?port=0', 'the port parameter "0" is not a number from 1 to 65535'],
    ['postgresql://u:pw@h/db?sslmode=sometimes', 'has sslmode=sometimes, which is not an SSL mode'],
  ])('%s: %s', (url, said) => {
    const r = refusal(url);
    expect(r.exitCode).toBe(2);
    expect(r.message).toContain(said);
  });

  it('the hint\'s example reads as written after redaction', () => {
    const r = refusal('postgresql://u:pw@h:abc/db');
    expect(r.hint).toContain('postgresql://<user>:<password>@<host>:5432/<dbname>');
    expect(r.hint).not.toContain('***');
  });

  it('the target names the socket and never the password', () => {
    const t = parseDatabaseUrl('postgresql+asyncpg://postgres:sekritpw@/authdb?host=/run/postgresql&ssl=require', '/srv');
    expect(t).toMatchObject({ provider: 'postgresql', display: 'postgresql://postgres:***@/authdb?host=/run/postgresql' });
  });

  it('sslModeOf knows libpq\'s modes and asyncpg\'s ssl= values', () => {
    expect(['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'].map(sslModeOf)).toEqual(['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full']);
    expect([sslModeOf('true'), sslModeOf('False'), sslModeOf('no-verify'), sslModeOf('maybe')]).toEqual(['verify-full', 'disable', 'require', undefined]);
  });
});
