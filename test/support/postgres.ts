import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';

const PG_BIN = process.env.AUTHCTL_PG_BIN ?? '/usr/lib/postgresql/15/bin';

export interface PgServer {
  port: number;
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

/**
 * Starts a throwaway PostgreSQL server on 127.0.0.1 and a free port, with its
 * data in a temp folder owned by the postgres user. Returns null, with the
 * reason, when no server can be started here; under CI that is an error.
 */
export async function startPostgres(): Promise<PgServer | { unavailable: string }> {
  const initdb = path.join(PG_BIN, 'initdb');
  if (!fs.existsSync(initdb)) return fail(`no PostgreSQL server binaries in ${PG_BIN}`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'authctl-pg-'));
  const data = path.join(dir, 'data');
  try {
    if (process.getuid?.() === 0) execFileSync('chown', ['-R', 'postgres:postgres', dir]);
    run(initdb, ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync', '--no-instructions']);
    const port = await freePort();
    run(path.join(PG_BIN, 'pg_ctl'), [
      '-D', data, '-w', '-t', '60', '-l', path.join(dir, 'server.log'),
      '-o', `-p ${port} -c listen_addresses=127.0.0.1 -k ${dir} -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200`,
      'start',
    ]);
    let counter = 0;
    return {
      port,
      async createDatabase(prefix = 'authctl') {
        const name = `${prefix}_${process.pid}_${++counter}_${Date.now() % 100000}`;
        const client = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres' });
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
