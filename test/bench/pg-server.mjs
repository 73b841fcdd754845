// A throwaway PostgreSQL 15 server for the benchmarks: 127.0.0.1, a free
// port, a temp data directory, stopped (and removed) by `stop()`.
// AUTHCTL_PG_BIN (default /usr/lib/postgresql/15/bin) names the binaries;
// BENCH_KEEP=1 keeps the data directory.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

const PG_BIN = process.env.AUTHCTL_PG_BIN ?? '/usr/lib/postgresql/15/bin';
const isRoot = process.getuid?.() === 0;

/** PostgreSQL refuses to run as root: its tools run as the postgres user then. */
function asPostgres(cmd, args) {
  const [bin, ...rest] = isRoot ? ['runuser', '-u', 'postgres', '--', cmd, ...args] : [cmd, ...args];
  const r = spawnSync(bin, rest, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${path.basename(cmd)} failed: ${r.stderr || r.stdout || r.error?.message}`);
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** `settings`: extra `-c name=value` server settings. */
export async function startServer(settings = []) {
  if (!fs.existsSync(path.join(PG_BIN, 'initdb'))) throw new Error(`no PostgreSQL server binaries in ${PG_BIN} (set AUTHCTL_PG_BIN)`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'authctl-bench-pg-'));
  const data = path.join(dir, 'data');
  if (isRoot) spawnSync('chown', ['-R', 'postgres:postgres', dir]);
  asPostgres(path.join(PG_BIN, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-instructions']);
  const port = await freePort();
  asPostgres(path.join(PG_BIN, 'pg_ctl'), [
    '-D', data, '-w', '-t', '60', '-l', path.join(dir, 'server.log'),
    '-o', [`-p ${port} -c listen_addresses=127.0.0.1 -k ${dir}`, ...settings.map((s) => `-c ${s}`)].join(' '),
    'start',
  ]);
  return {
    port,
    url: (db) => `postgresql://postgres@127.0.0.1:${port}/${db}`,
    stop() {
      try {
        asPostgres(path.join(PG_BIN, 'pg_ctl'), ['-D', data, '-m', 'fast', '-w', 'stop']);
      } finally {
        if (process.env.BENCH_KEEP !== '1') fs.rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

