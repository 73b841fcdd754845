import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasStackTrace, runCli, tempDir, type CliResult } from '../support/cli.js';
import { startPostgres, type PgServer } from '../support/postgres.js';

/**
 * PostgreSQL URLs as operators copy them from the app's .env: asyncpg's
 * `ssl=` spelling, libpq's sslmode, Unix sockets and passwords holding "?".
 * One server with SSL on (self-signed certificate for "localhost") that turns
 * away TCP connections without SSL, and checks a password with a "?" in it.
 */
const PASSWORD = '5432?sekritpw';
const ENCODED = encodeURIComponent(PASSWORD);
const QUICK = { AUTHCTL_BCRYPT_ROUNDS: '10' };

let server: PgServer | undefined;
let unavailable: string | undefined;
beforeAll(async () => {
  const started = await startPostgres({ ssl: true, sslOnly: true, password: PASSWORD });
  if ('unavailable' in started) {
    unavailable = started.unavailable;
    console.warn(`NOTICE: PostgreSQL URL suite skipped: ${unavailable}`);
  } else server = started;
});
afterAll(() => server?.stop());

/** The server; a test that needs it fails, as the other PostgreSQL suites do, where none could start. */
function srv(): PgServer {
  if (!server) throw new Error(`PostgreSQL unavailable: ${unavailable}`);
  return server;
}

function output(r: CliResult): string {
  return r.stdout + r.stderr;
}

function jsonError(r: CliResult): { code: string; message: string; exitCode: number; hint?: string } {
  return JSON.parse(r.stderr.trim().split('\n').at(-1)!).error;
}

/** No part of the password, no Node warning and no stack trace in anything printed. */
function expectClean(r: CliResult): void {
  const text = output(r);
  expect(text).not.toContain('sekrit');
  expect(text).not.toContain(ENCODED);
  expect(text).not.toMatch(/SECURITY WARNING|\(node:\d+\) Warning/);
  expect(hasStackTrace(text), text).toBe(false);
}

/** A new database name on the server; the URL's own init-db creates it. */
let counter = 0;
const dbName = () => `urls_${process.pid}_${++counter}`;

async function run(args: string[], url: string, cwd = tempDir()): Promise<CliResult> {
  const r = await runCli(args, { cwd, env: { DATABASE_URL: url, ...QUICK } });
  expectClean(r);
  return r;
}

/** init-db (migration engine, Prisma and raw connections), then user list, migrate and a purge, all through `url`. */
async function expectEveryCommandWorks(url: string): Promise<void> {
  const cwd = tempDir();
  const init = await run(['init-db', '--generate-password', '-q'], url, cwd);
  expect(init.code, output(init)).toBe(0);
  for (const args of [['user', 'list'], ['--json', 'sessions', 'purge'], ['--json', 'doctor']]) {
    const r = await run(args, url, cwd);
    expect(r.code, `${args.join(' ')}: ${output(r)}`).toBe(0);
  }
  const list = await run(['--json', 'user', 'list'], url, cwd);
  expect(list.code, output(list)).toBe(0);
  expect(JSON.parse(list.stdout).users.map((u: { username: string }) => u.username)).toEqual(['admin']);
}

describe('SSL modes against a server that takes only SSL', () => {
  const url = (query: string, host = '127.0.0.1') => `postgresql+asyncpg://postgres:${ENCODED}@${host}:${srv().port}/${dbName()}?${query}`;

  it.each(['ssl=require', 'sslmode=require', 'ssl=prefer', 'sslmode=prefer', 'sslmode=allow', 'ssl=allow', 'sslmode=no-verify'])(
    '%s encrypts without verifying, as libpq and asyncpg do, for every command',
    async (query) => {
      await expectEveryCommandWorks(url(query));
    },
  );

  it('no sslmode at all prefers SSL, as libpq and asyncpg do', async () => {
    await expectEveryCommandWorks(`postgresql://postgres:${ENCODED}@127.0.0.1:${srv().port}/${dbName()}`);
  });

  it('verify-full with the CA as sslrootcert connects to the certificate\'s host name; verify-ca does not check the name', async () => {
    await expectEveryCommandWorks(url(`sslmode=verify-full&sslrootcert=${srv().certFile}`, 'localhost'));
    await expectEveryCommandWorks(url(`sslmode=verify-ca&sslrootcert=${srv().certFile}`));
    await expectEveryCommandWorks(url(`ssl=verify-full&sslrootcert=${encodeURIComponent(srv().certFile!)}`, 'localhost'));
  });

  it('asyncpg and SQLAlchemy parameters pg does not know are ignored', async () => {
    await expectEveryCommandWorks(url('ssl=require&prepared_statement_cache_size=0&command_timeout=60&server_settings=x&application_name=ui'));
  });

  it.each([
    ['sslmode=verify-full', 'DATABASE_SSL_UNVERIFIED', /self-signed certificate/],
    ['ssl=true', 'DATABASE_SSL_UNVERIFIED', /self-signed certificate/],
    ['sslmode=verify-full&sslrootcert=CERT', 'DATABASE_SSL_UNVERIFIED', /127\.0\.0\.1/],
    ['sslmode=disable', 'DATABASE_HOST_REFUSED', /without SSL/],
    ['ssl=false', 'DATABASE_HOST_REFUSED', /without SSL/],
  ])('%s fails with exit 5 and a message that says why', async (query, code, said) => {
    for (const args of [['--json', 'user', 'list'], ['--json', 'sessions', 'purge'], ['user', 'list']]) {
      const r = await run(args, url(query.replace('CERT', srv().certFile!)));
      expect(r.code, output(r)).toBe(5);
      if (args[0] === '--json') {
        expect(jsonError(r).code).toBe(code);
        expect(jsonError(r).message).toMatch(said);
      } else expect(r.stderr).toMatch(said);
    }
  });

  it.each(['sslrootcert', 'sslcert', 'sslkey'])('a missing or unreadable %s file is exit 5 naming the parameter', async (name) => {
    const folder = tempDir();
    for (const file of ['/nonexistent/x.crt', folder]) {
      for (const query of [`${name}=${file}`, `ssl=require&${name}=${file}`]) {
        for (const args of [['--json', 'user', 'list'], ['user', 'list'], ['--json', 'init-db', '--generate-password']]) {
          const r = await run(args, url(query));
          expect(r.code, `${query} ${args.join(' ')}: ${output(r)}`).toBe(5);
          if (args[0] === '--json') {
            expect(jsonError(r).code).toBe('DATABASE_SSL_FILE');
            expect(jsonError(r).message).toContain(name);
          } else expect(r.stderr).toContain(`${name} file`);
        }
      }
    }
  });

  it('an sslmode that is none of libpq\'s is a usage error', async () => {
    for (const query of ['sslmode=bogus', 'ssl=maybe']) {
      const r = await run(['--json', 'user', 'list'], url(query));
      expect(r.code, output(r)).toBe(2);
      expect(jsonError(r).message).toMatch(/not an SSL mode/);
    }
  });
});

describe('a Unix socket given as ?host=', () => {
  it('works with a user name and password before the "@", as libpq and SQLAlchemy take it', async () => {
    const socket = (creds: string, db = dbName()) => `postgresql://${creds}@/${db}?host=${srv().socketDir}&port=${srv().port}`;
    await expectEveryCommandWorks(socket(`postgres:${ENCODED}`));
    await expectEveryCommandWorks(socket(`postgres:${ENCODED}`).replace('postgresql:', 'postgresql+asyncpg:') + '&ssl=require');
    await expectEveryCommandWorks(`postgresql://postgres:${ENCODED}@${encodeURIComponent(srv().socketDir)}:${srv().port}/${dbName()}`);
    const r = await run(['user', 'list'], socket(`postgres:${ENCODED}`));
    expect(r.code).toBe(5);
    expect(r.stderr).toContain(`database: postgresql://postgres:***@:${srv().port}/`);
    expect(r.stderr).toContain(`?host=${srv().socketDir}`);
  });
});

describe('a raw "?" or "#" in the password', () => {
  it('postgresql://postgres:5432?sekritpw@host/db is read as the password "5432?sekritpw", shown nowhere', async () => {
    const raw = () => `postgresql://postgres:${PASSWORD}@127.0.0.1:${srv().port}/${dbName()}`;
    await expectEveryCommandWorks(raw());
    await expectEveryCommandWorks(`${raw()}?sslmode=require`);
    const cwd = tempDir();
    const url = raw();
    expect((await run(['init-db', '--generate-password', '-q'], url, cwd)).code).toBe(0);
    const human = await run(['user', 'list'], url, cwd);
    expect(human.stderr).toContain(`database: postgresql://postgres:***@127.0.0.1:${srv().port}/`);
  });

  it('a wrong password holding "?", "#" or "/" is refused by the server, and no part of it is printed', async () => {
    for (const pw of ['5432?sekrit-wrong', 'ab#sekrit', 'ab/sekrit?x']) {
      for (const json of [true, false]) {
        const r = await run([...(json ? ['--json'] : []), 'user', 'list'], `postgresql://postgres:${pw}@127.0.0.1:${srv().port}/postgres`);
        expect(r.code, output(r)).toBe(5);
        if (json) expect(jsonError(r).code).toBe('DATABASE_AUTH_FAILED');
        expect(output(r)).not.toMatch(/ab#|ab\/|wrong/);
      }
    }
  });

  it('a URL that could be split at more than one "@" is refused with exit 2, naming the fix', async () => {
    for (const url of ['postgresql://u:5432/sekrit@127.0.0.1/authdb', 'postgresql://u:sekrit@h/d@b', 'postgresql://u:sekrit?a=b@h/db']) {
      for (const json of [true, false]) {
        const r = await run([...(json ? ['--json'] : []), 'user', 'list'], url);
        expect(r.code, output(r)).toBe(2);
        const { message, hint } = json ? jsonError(r) : { message: r.stderr, hint: r.stderr };
        expect(message).toMatch(/more than one "@"/);
        expect(hint).toContain('percent-encode');
      }
    }
  });
});

describe('bad ports and the hint', () => {
  it.each([
    ['postgresql://u:pw@h:abc/db', '"abc"'],
    ['postgresql://u:pw@h:99999/db', '"99999"'],
    ['postgresql://u:pw@h:0/db', '"0"'],
    ['postgresql://u:pw@h/db?port=x1', '"x1"'],
  ])('%s says the port is invalid, and the hint reads as written', async (url, port) => {
    const json = await runCli(['--json', 'user', 'list'], { cwd: tempDir(), env: { DATABASE_URL: url } });
    expect(json.code).toBe(2);
    expect(jsonError(json).message).toContain(`port${url.includes('?port') ? ' parameter' : ''} ${port} is not a number from 1 to 65535`);
    expect(jsonError(json).hint).toContain('postgresql://<user>:<password>@<host>:5432/<dbname>');
    const human = await runCli(['user', 'list', '-d', url], { cwd: tempDir() });
    expect(human.code).toBe(2);
    expect(human.stderr).toMatch(/port .* is not a number/);
    expect(human.stderr).toContain('postgresql://<user>:<password>@<host>:5432/<dbname>');
    expect(human.stderr).not.toContain('***@<host>');
  });
});

