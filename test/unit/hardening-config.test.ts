import { describe, expect, it } from 'vitest';
import { parseDatabaseUrl, readDotEnv } from '../../src/core/config/config.js';
import { parseDotEnv } from '../../src/core/config/dotenv.js';
import { toAuthctlError } from '../../src/core/errors/map.js';
import { echoServerText, redactUrl, redactWholeUrl, scrubSecrets } from '../../src/core/config/secrets.js';
import { validateBaseUrl } from '../../src/core/gpustack/base-url.js';
import { tuningFromEnv } from '../../src/core/gpustack/tuning.js';
import fs from 'node:fs';
import path from 'node:path';
import { tempDir } from '../support/cli.js';

describe('parseDotEnv follows python-dotenv', () => {
  it.each([
    ['a bare key is a key without a value, not part of the next line', 'DEBUG\nDATABASE_URL=sqlite:///./a.db\n', { DATABASE_URL: 'sqlite:///./a.db' }],
    ['a UTF-8 BOM is not part of the first key', '\uFEFFDATABASE_URL=x\nB=2', { DATABASE_URL: 'x', B: '2' }],
    ['export', 'export DATABASE_URL=x\nexport  B=2', { DATABASE_URL: 'x', B: '2' }],
    ['CRLF and CR line ends', 'A=1\r\nB=2\r\nC=3\rD=4', { A: '1', B: '2', C: '3', D: '4' }],
    ['full-line and inline comments', '# c\n  # indented\nA=1 # note\nB=x#y\nC=  # only a comment\nD=#value', { A: '1', B: 'x#y', C: '', D: '#value' }],
    ['single quotes keep # and escapes only \\\' and \\\\', "A='x # y'\nB='a\\nb'\nC='it\\'s'", { A: 'x # y', B: 'a\\nb', C: "it's" }],
    ['double quotes decode escapes', 'A="x # y"  # c\nB="a\\nb"\nC="q\\"x"', { A: 'x # y', B: 'a\nb', C: 'q"x' }],
    ['a quoted value may span lines', 'A="one\ntwo"\nB=3', { A: 'one\ntwo', B: '3' }],
    ['spaces around = and trailing spaces', 'A = 1   \n B=2', { A: '1', B: '2' }],
    ['a quoted key', "'A'=1", { A: '1' }],
    ['an unparseable line is skipped, the next one read', 'not a line here\nA=1', { A: '1' }],
    ['the last of a repeated key wins', 'A=1\nA=2', { A: '2' }],
    ['${} expands earlier lines, with defaults', 'H=db\nA=postgresql://${H}/${NAME:-ui}\nB=${MISSING}', { H: 'db', A: 'postgresql://db/ui', B: '' }],
  ])('%s', (_what, text, expected) => {
    expect(parseDotEnv(text)).toEqual(expected);
  });

  it('${} prefers the environment, as load_dotenv without override does', () => {
    expect(parseDotEnv('H=dotenv\nA=${H}', { H: 'env' })).toEqual({ H: 'dotenv', A: 'env' });
  });

  it('readDotEnv reads .env from the working directory', () => {
    const cwd = tempDir();
    fs.writeFileSync(path.join(cwd, '.env'), '\uFEFFDEBUG\r\nDATABASE_URL=sqlite:///./x.db\r\n');
    expect(readDotEnv(cwd, {})).toEqual({ DATABASE_URL: 'sqlite:///./x.db' });
  });
});

describe('redaction', () => {
  it.each([
    ['postgres:/u:SECRETPW@h/db', 'postgres:/u:***@h/db'],
    ['postgresql//u:SECRETPW@h/db', 'postgresql//u:***@h/db'],
    ['postgresql:u:SECRETPW@h/db', 'postgresql:u:***@h/db'],
    ['postgresql://u:SEC@RETPW@h:5432/db', 'postgresql://u:***@h:5432/db'],
    ['postgresql://h/db?user=u&password=SECRETPW&sslmode=require', 'postgresql://h/db?user=u&password=***&sslmode=require'],
    ['Database URL "postgresql//u:SECRETPW@h/db" has no scheme.', 'Database URL "postgresql//u:***@h/db" has no scheme.'],
    ['DATABASE_URL=postgresql://u:SECRETPW@h/db', 'DATABASE_URL=postgresql://u:***@h/db'],
    ['postgresql://u@h/db', 'postgresql://u@h/db'],
    ['mail bob@example.com', 'mail bob@example.com'],
  ])('redactUrl(%s)', (text, expected) => {
    expect(redactUrl(text)).toBe(expected);
  });

  it('parseDatabaseUrl refuses malformed PostgreSQL URLs without echoing the password', () => {
    for (const url of ['postgres:/u:SECRETPW@h/db', 'postgresql:u:SECRETPW@h/db', 'postgresql://u:SECRETPW@h:port/db', 'postgresql://u:SECRETPW@h/d@b']) {
      let error: unknown;
      try {
        parseDatabaseUrl(url, '/srv');
      } catch (err) {
        error = err;
      }
      expect(error).toMatchObject({ exitCode: 2 });
      expect(String((error as Error).message)).not.toContain('SECRETPW');
    }
  });

  it.each([
    ['postgresql:/u:Long secret 123@h/db', 'postgresql:/u:***@h/db'],
    ['postgresql:/u:Long"secret@h/db', 'postgresql:/u:***@h/db'],
    ["postgresql://u:Zq9'x@h:99999/db", 'postgresql://u:***@h:99999/db'],
    ['postgresql://u:a<b>c`d@h/db', 'postgresql://u:***@h/db'],
    ['postgresql://u:p@ss w@h/db', 'postgresql://u:***@h/db'],
    ['user:pass word@h/db', 'user:***@h/db'],
    ['postgresql://h/db?user=u&password=sec ret"x&sslmode=require', 'postgresql://h/db?user=u&password=***&sslmode=require'],
    ['postgresql://u@h/db', 'postgresql://u@h/db'],
    ['postgresql://h/db', 'postgresql://h/db'],
    ['sqlite:///./x.db', 'sqlite:///./x.db'],
  ])('redactWholeUrl(%s): no space or quote ends the password of a whole URL', (url, expected) => {
    expect(redactWholeUrl(url)).toBe(expected);
    // Output scrubs every message again; that keeps what is already redacted as it is.
    expect(scrubSecrets(`URL "${redactWholeUrl(url)}" is malformed`)).toBe(`URL "${expected}" is malformed`);
  });

  it('parseDatabaseUrl and the GPUStack URL check never echo a short password, or one with spaces or quotes', () => {
    const urls = [
      'postgresql:/u:Pw 1@h/db',
      'postgresql:/u:Longsecret 123@h/db',
      'postgresql://u:Zq9 x@h:99999/db',
      'postgresql://u:Zq9"x@h:99999/db',
      "postgresql://u:Zq9'x@h:0/db",
      'postgresql://u:Zq9<x@h:port/db',
      'postgresql://u@h:99999/db?password=Zq9 x',
      'sqlite:///./x.db?password=Zq9 x',
    ];
    for (const url of urls) {
      const error = (() => {
        try {
          parseDatabaseUrl(url, '/srv');
        } catch (err) {
          return err as Error;
        }
        return undefined;
      })();
      expect(error, url).toMatchObject({ exitCode: 2 });
      const shown = scrubSecrets(`${error!.message} ${(error as { hint?: string }).hint ?? ''}`);
      expect(shown, url).not.toMatch(/Pw 1|Zq9|Longsecret/);
    }
    for (const url of ['http:/u:Zq9 x@gpu/x', 'http://u:Zq9 x@gpu/x', 'https://u:Zq9"x@gpu', 'http:gpu.internal']) {
      expect(() => validateBaseUrl(url), url).toThrow(expect.objectContaining({ exitCode: 2, message: expect.not.stringMatching(/Zq9/) }));
    }
    expect(validateBaseUrl('https://gpu.internal/x/')).toBe('https://gpu.internal/x');
  });

  it('a PostgreSQL URL naming several servers is refused (exit 2), never looked up as one host name', () => {
    for (const url of ['postgresql://u:pw@h1,h2:5432/db', 'postgresql://u:pw@h1:5432,h2:5433/db', 'postgresql://u:pw@/db?host=/run/a&host=/run/b', 'postgresql://u:pw@/db?host=a,b']) {
      expect(() => parseDatabaseUrl(url, '/srv'), url).toThrow(expect.objectContaining({ exitCode: 2, message: expect.stringMatching(/names several servers/) }));
    }
    expect(parseDatabaseUrl('postgresql://u:pw@h1:5432/db?application_name=a,b', '/srv')).toMatchObject({ provider: 'postgresql' });
  });

  it('a stray "%" in a SQLite URL is a usage error, and %40 in a PostgreSQL database name is allowed', () => {
    expect(() => parseDatabaseUrl('sqlite:///./a%zz.db', '/srv')).toThrow(expect.objectContaining({ exitCode: 2 }));
    expect(parseDatabaseUrl('postgresql://u:pw@h/d%40b', '/srv')).toMatchObject({ provider: 'postgresql' });
  });

  it('server text: the token, Bearer and Authorization values are scrubbed, and it is cut short', () => {
    const token = 'gpustack_0123456789abcdef_secret';
    const text = echoServerText(`bad key Bearer ${token}; Authorization: Basic dXNlcjpwYXNz; raw ${token} ${'x'.repeat(1000)}`, [token]);
    expect(text).not.toContain(token);
    expect(text).not.toContain('dXNlcjpwYXNz');
    expect(text.length).toBeLessThan(260);
    expect(scrubSecrets('"authorization": "Bearer abc.def"')).toBe('"authorization": "Bearer ***"');
  });
});

describe('driver errors wrapped by Prisma map to exit 5', () => {
  const prismaError = (cause: Record<string, unknown>) =>
    Object.assign(new Error('\nInvalid `prisma.user.create()` invocation:\n\n\nDatabase error.'), {
      name: 'PrismaClientKnownRequestError',
      code: 'P2039',
      meta: { modelName: 'User', driverAdapterError: { name: 'DriverAdapterError', message: String(cause.originalMessage ?? ''), cause } },
    });
  it.each([
    [{ originalCode: 'SQLITE_READONLY', kind: 'sqlite', extendedCode: 8 }, 'DATABASE_READ_ONLY'],
    [{ originalCode: 'SQLITE_READONLY_DIRECTORY', kind: 'sqlite' }, 'DATABASE_READ_ONLY'],
    [{ originalCode: 'SQLITE_CORRUPT', kind: 'sqlite' }, 'DATABASE_CORRUPT'],
    [{ originalCode: 'SQLITE_NOTADB', kind: 'sqlite' }, 'DATABASE_CORRUPT'],
    [{ originalCode: 'SQLITE_CANTOPEN', kind: 'sqlite' }, 'DATABASE_CANNOT_OPEN'],
    [{ originalCode: 'SQLITE_IOERR_SHORT_READ', kind: 'sqlite' }, 'DATABASE_IO_ERROR'],
    [{ originalCode: 'SQLITE_FULL', kind: 'sqlite' }, 'DATABASE_FULL'],
    [{ originalCode: '25006', kind: 'postgres', code: '25006' }, 'DATABASE_READ_ONLY'],
    [{ originalCode: '42501', kind: 'postgres', code: '42501' }, 'DATABASE_PERMISSION_DENIED'],
    [{ originalCode: '53100', kind: 'postgres', code: '53100' }, 'DATABASE_FULL'],
    [{ originalCode: 'XX001', kind: 'postgres', code: 'XX001' }, 'DATABASE_CORRUPT'],
    [{ originalCode: 'XX002', kind: 'postgres', code: 'XX002' }, 'DATABASE_CORRUPT'],
  ])('%j', (cause, code) => {
    const mapped = toAuthctlError(prismaError(cause));
    expect(mapped).toMatchObject({ code, exitCode: 5 });
    expect(mapped.message).not.toMatch(/prisma|invocation/i);
  });

  it('and a Node file system error on a file beside the database (a lock file)', () => {
    const fsError = (code: string) => Object.assign(new Error(`${code}: open '/srv/db.authctl-purge.lock'`), { code, syscall: 'open', path: '/srv/db.authctl-purge.lock' });
    expect(toAuthctlError(fsError('EACCES'))).toMatchObject({ code: 'DATABASE_READ_ONLY', exitCode: 5, hint: expect.stringContaining('folder') });
    expect(toAuthctlError(fsError('EROFS'))).toMatchObject({ code: 'DATABASE_READ_ONLY', exitCode: 5 });
    expect(toAuthctlError(fsError('ENOSPC'))).toMatchObject({ code: 'DATABASE_FULL', exitCode: 5 });
  });

  it('and a connection lost mid-command, however pg or Prisma words it', () => {
    const lost = [
      new Error('Connection terminated unexpectedly'),
      new Error('Client has encountered a connection error and is not queryable'),
      Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET', errno: -104, syscall: 'read' }),
      prismaError({ originalMessage: 'Connection terminated unexpectedly', kind: 'postgres' }),
    ];
    for (const err of lost) expect(toAuthctlError(err), err.message).toMatchObject({ code: 'DATABASE_CONNECTION_LOST', exitCode: 5 });
    // A file beside the database is not a connection.
    expect(toAuthctlError(Object.assign(new Error('x'), { code: 'ECONNRESET', syscall: 'open', path: '/srv/x' })).exitCode).toBe(1);
    expect(toAuthctlError(new Error('something else')).exitCode).toBe(1);
  });

  it('and unwrapped, straight from better-sqlite3 or pg', () => {
    expect(toAuthctlError(Object.assign(new Error('attempt to write a readonly database'), { code: 'SQLITE_READONLY_DBMOVED' }))).toMatchObject({ code: 'DATABASE_READ_ONLY', exitCode: 5 });
    expect(toAuthctlError(Object.assign(new Error('cannot execute INSERT in a read-only transaction'), { code: '25006', severity: 'ERROR' }))).toMatchObject({ code: 'DATABASE_READ_ONLY', exitCode: 5 });
  });
});

describe('tuningFromEnv', () => {
  it('accepts values in range and refuses the rest with exit 2', () => {
    expect(tuningFromEnv({ AUTHCTL_GPUSTACK_RETRIES: '0', AUTHCTL_GPUSTACK_CONCURRENCY: '16' })).toMatchObject({ retries: 0, pageConcurrency: 16 });
    for (const [name, value] of [['AUTHCTL_GPUSTACK_RETRIES', 'abc'], ['AUTHCTL_GPUSTACK_RETRIES', '100'], ['AUTHCTL_GPUSTACK_CONCURRENCY', '0'], ['AUTHCTL_GPUSTACK_TIMEOUT_MS', '0']]) {
      expect(() => tuningFromEnv({ [name!]: value })).toThrow(expect.objectContaining({ exitCode: 2, message: expect.stringContaining(name!) }));
    }
  });
});
