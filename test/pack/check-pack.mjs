// Packs authctl, installs the tarball globally into a throwaway prefix and runs
// it from there, as a user would. Proves that the tarball holds what the
// program needs at run time and nothing it does not, and measures the install.
// Fails when node_modules grows past LIMIT_MB.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const LIMIT_MB = 100;
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'authctl-pack-'));
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const problems = [];

function run(cmd, args, opts = {}) {
  const t0 = Date.now();
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, ...opts });
  const seconds = (Date.now() - t0) / 1000;
  if (r.status !== 0) {
    console.error(`${cmd} ${args.join(' ')} exited ${r.status}\n${r.stdout}\n${r.stderr}`);
    process.exit(1);
  }
  return { ...r, seconds };
}

// 1. Pack (npm runs `prepare`, which rebuilds dist/).
const pack = run(npm, ['pack', '--json', '--pack-destination', tmp], { cwd: root });
const [info] = JSON.parse(pack.stdout.slice(pack.stdout.indexOf('[')));
const files = info.files.map((f) => f.path);
const required = [
  'package.json',
  'bin/authctl',
  'dist/cli.js',
  'dist/generated/sqlite/client.js',
  'dist/generated/postgresql/client.js',
  'prisma/schema.prisma',
  'prisma/postgresql/schema.prisma',
  'prisma/migrations/migration_lock.toml',
  'prisma/postgresql/migrations/migration_lock.toml',
];
for (const f of required) if (!files.includes(f)) problems.push(`tarball lacks ${f}`);
for (const dir of ['prisma/migrations/', 'prisma/postgresql/migrations/']) {
  if (!files.some((f) => f.startsWith(dir) && f.endsWith('/migration.sql'))) problems.push(`tarball has no migration under ${dir}`);
}
// Build-only and source files: the build script, TypeScript sources, tests.
const unwanted = files.filter((f) => /^(src|test|\.ci)\//.test(f) || /\.(ts|mts|cts)$/.test(f) || /^prisma\/.*\.mjs$/.test(f) || f === 'tsconfig.json');
for (const f of unwanted) problems.push(`tarball holds a build-only file: ${f}`);
console.log(`packed ${info.filename}: ${info.entryCount} files, ${(info.size / 1024).toFixed(1)} kB (${(info.unpackedSize / 1024).toFixed(1)} kB unpacked)`);

// 2. Install the tarball globally into an empty prefix.
const prefix = path.join(tmp, 'prefix');
const install = run(npm, ['install', '-g', '--prefix', prefix, '--no-audit', '--no-fund', path.join(tmp, info.filename)], { cwd: tmp });
const installed = path.join(prefix, 'lib', 'node_modules', pkg.name);
const modules = path.join(installed, 'node_modules');

/** Disk usage in bytes, as du counts it (allocated blocks). */
function diskUsage(p) {
  const st = fs.lstatSync(p);
  let total = st.blocks * 512;
  if (st.isDirectory()) for (const e of fs.readdirSync(p)) total += diskUsage(path.join(p, e));
  return total;
}

/** Every installed package: each node_modules/<name> and node_modules/@scope/<name>, nested ones included. */
function packages(dir, found = []) {
  if (!fs.existsSync(dir)) return found;
  for (const e of fs.readdirSync(dir)) {
    if (e.startsWith('.')) continue;
    const names = e.startsWith('@') ? fs.readdirSync(path.join(dir, e)).map((n) => path.join(e, n)) : [e];
    for (const n of names) {
      const p = path.join(dir, n);
      if (!fs.existsSync(path.join(p, 'package.json'))) continue;
      found.push(n);
      packages(path.join(p, 'node_modules'), found);
    }
  }
  return found;
}

const bytes = fs.existsSync(modules) ? diskUsage(modules) : 0;
const mb = bytes / (1024 * 1024);
const count = packages(modules).length;
const biggest = fs.existsSync(modules)
  ? packages(modules)
      .filter((n, i, all) => all.indexOf(n) === i)
      .map((n) => [n, diskUsage(path.join(modules, n))])
      .sort((a, b) => b[1] - a[1])
      .slice(0, 5)
  : [];
console.log(`installed in ${install.seconds.toFixed(0)} s: ${count} packages, node_modules ${mb.toFixed(1)} MB (limit ${LIMIT_MB} MB)`);
console.log(`largest: ${biggest.map(([n, b]) => `${n} ${(b / 1024 / 1024).toFixed(1)} MB`).join(', ')}`);
if (mb > LIMIT_MB) problems.push(`node_modules is ${mb.toFixed(1)} MB, over the ${LIMIT_MB} MB limit`);

// 3. Run the installed command, from outside the repository.
const bin = path.join(prefix, 'bin', 'authctl');
const env = { ...process.env, NO_COLOR: '1', AUTHCTL_BCRYPT_ROUNDS: '10' };
delete env.DATABASE_URL;
const work = path.join(tmp, 'work');
fs.mkdirSync(work);
const version = run(bin, ['--version'], { cwd: work, env }).stdout.trim();
if (version !== pkg.version) problems.push(`authctl --version printed "${version}", expected "${pkg.version}"`);
console.log(`authctl --version: ${version}`);
// Its output holds the generated password, so only the outcome is shown.
const init = spawnSync(bin, ['init-db', '--generate-password'], { cwd: work, env, encoding: 'utf8' });
const created = fs.readdirSync(work).filter((f) => f.endsWith('.db'));
if (init.status !== 0) problems.push(`authctl init-db --generate-password exited ${init.status}: ${init.stderr.trim()}`);
else if (created.length === 0) problems.push('authctl init-db --generate-password created no database file');
else console.log(`authctl init-db --generate-password: exit 0, created ${created.join(', ')}`);

if (problems.length > 0) {
  console.error(`\ncheck:pack failed (kept ${tmp}):\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  process.exit(1);
}
fs.rmSync(tmp, { recursive: true, force: true });
console.log('check:pack ok');
