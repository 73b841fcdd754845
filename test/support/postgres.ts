import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';

const PG_BIN = process.env.AUTHCTL_PG_BIN ?? '/usr/lib/postgresql/15/bin';

export interface PgServer {
  port: number;
  /** The folder the server's Unix socket is in. */
  socketDir: string;
  /** The server's self-signed certificate (PEM), when started with `ssl`. */
  certFile?: string;
  /** A new, empty database on the server, as a postgresql:// URL. */
  createDatabase(prefix?: string): Promise<string>;
  stop(): void;
}

/** Why no server can be started here, or null when one can. */
export function postgresMissing(): string | null {
  if (!fs.existsSync(path.join(PG_BIN, 'initdb'))) return `no PostgreSQL server binaries in ${PG_BIN}`;
  if (process.getuid?.() === 0 && spawnSync('id', ['postgres']).status !== 0) return 'running as root and there is no postgres user to run the server as';
  return null;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/** PostgreSQL refuses to run as root, so run its tools as the postgres user when we are root. */
function asPostgres(cmd: string, args: string[]): string[] {
  return process.getuid?.() === 0 ? ['runuser', '-u', 'postgres', '--', cmd, ...args] : [cmd, ...args];
}

function run(cmd: string, args: string[]): void {
  const [bin, ...rest] = asPostgres(cmd, args);
  const r = spawnSync(bin!, rest, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${path.basename(cmd)} failed: ${r.stderr || r.stdout || r.error?.message}`);
}

export interface PgServerOptions {
  /** SSL on, with a fresh self-signed certificate for "localhost". */
  ssl?: boolean;
  /** The postgres user's password, checked (scram-sha-256) on every connection. */
  password?: string;
  /** With `ssl`: TCP connections without SSL are turned away (pg_hba.conf `hostssl` only). */
  sslOnly?: boolean;
}

/**
 * Starts a throwaway PostgreSQL server on 127.0.0.1 and a free port, with its
 * data in a temp folder owned by the postgres user. Returns null, with the
 * reason, when no server can be started here; under CI that is an error.
 */
export async function startPostgres(opts: PgServerOptions = {}): Promise<PgServer | { unavailable: string }> {
  const initdb = path.join(PG_BIN, 'initdb');
  if (!fs.existsSync(initdb)) return fail(`no PostgreSQL server binaries in ${PG_BIN}`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'authctl-pg-'));
  const data = path.join(dir, 'data');
  try {
    const auth = ['--auth=trust'];
    if (opts.password !== undefined) {
      fs.writeFileSync(path.join(dir, 'pwfile'), `${opts.password}\n`);
      auth.splice(0, 1, '--auth=scram-sha-256', `--pwfile=${path.join(dir, 'pwfile')}`);
    }
    const settings: string[] = [];
    let certFile: string | undefined;
    if (opts.ssl) {
      certFile = path.join(dir, 'server.crt');
      const keyFile = path.join(dir, 'server.key');
      execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=localhost', '-keyout', keyFile, '-out', certFile], { stdio: 'ignore' });
      fs.chmodSync(keyFile, 0o600);
      settings.push('-c ssl=on', `-c ssl_cert_file=${certFile}`, `-c ssl_key_file=${keyFile}`);
    }
    if (process.getuid?.() === 0) execFileSync('chown', ['-R', 'postgres:postgres', dir]);
    run(initdb, ['-D', data, '-U', 'postgres', ...auth, '-E', 'UTF8', '--no-sync', '--no-instructions']);
    if (opts.sslOnly) {
      const method = opts.password !== undefined ? 'scram-sha-256' : 'trust';
      fs.writeFileSync(path.join(data, 'pg_hba.conf'), `local all all ${method}\nhostssl all all 127.0.0.1/32 ${method}\n`);
    }
    const port = await freePort();
    run(path.join(PG_BIN, 'pg_ctl'), [
      '-D', data, '-w', '-t', '60', '-l', path.join(dir, 'server.log'),
      '-o', `-p ${port} -c listen_addresses=127.0.0.1 -k ${dir} -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200 ${settings.join(' ')}`,
      'start',
    ]);
    // The tests read the certificate as whatever user they run as.
    if (certFile) fs.chmodSync(dir, 0o755);
    let counter = 0;
    return {
      port,
      socketDir: dir,
      certFile,
      async createDatabase(prefix = 'authctl') {
        const name = `${prefix}_${process.pid}_${++counter}_${Date.now() % 100000}`;
        const client = new pg.Client({ host: opts.sslOnly ? dir : '127.0.0.1', port, user: 'postgres', password: opts.password, database: 'postgres' });
        await client.connect();
        try {
          await client.query(`CREATE DATABASE "${name}"`);
        } finally {
          await client.end();
        }
        return `postgresql://postgres@127.0.0.1:${port}/${name}`;
      },
      stop() {
        try {
          run(path.join(PG_BIN, 'pg_ctl'), ['-D', data, '-m', 'immediate', '-w', 'stop']);
        } finally {
          fs.rmSync(dir, { recursive: true, force: true });
        }
      },
    };
  } catch (err) {
    fs.rmSync(dir, { recursive: true, force: true });
    return fail((err as Error).message);
  }
}

function fail(reason: string): { unavailable: string } {
  if (process.env.CI === 'true') throw new Error(`PostgreSQL is required under CI but could not start: ${reason}`);
  return { unavailable: reason };
}
