// Builds dist/: generates the Prisma clients, compiles, then copies the few
// Prisma runtime files the generated clients load into dist/generated/runtime.
// @prisma/client ships the runtime of every database Prisma supports (70 MB);
// copying the two authctl uses lets it stay a build-time dependency.
//
// Run by `npm run build` and by npm's `prepare`. Without the build tools (an
// `npm ci --omit=dev`), an existing complete dist/ is kept as it is.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const dist = path.join(root, 'dist');
const runtimeDir = path.join(dist, 'generated', 'runtime');
const RUNTIME_PREFIX = '@prisma/client/runtime/';
const tools = ['prisma/build/index.js', 'typescript/bin/tsc', '@prisma/client/package.json'];
const missing = tools.filter((t) => !fs.existsSync(path.join(root, 'node_modules', t)));

/** Every compiled file of the generated clients. */
function generatedFiles() {
  const out = [];
  const walk = (dir) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.js')) out.push(p);
    }
  };
  for (const provider of ['sqlite', 'postgresql']) {
    const dir = path.join(dist, 'generated', provider);
    if (fs.existsSync(dir)) walk(dir);
  }
  return out;
}

/** Why dist/ cannot run without @prisma/client installed, or null when it can. */
function incompleteDist() {
  if (!fs.existsSync(path.join(dist, 'cli.js'))) return 'dist/ has not been built';
  const files = generatedFiles();
  if (files.length === 0) return 'dist/ has no generated Prisma clients';
  if (files.some((f) => fs.readFileSync(f, 'utf8').includes(`"${RUNTIME_PREFIX}`))) {
    return 'dist/ was compiled without its Prisma runtime (by `tsc` alone)';
  }
  return null;
}

if (missing.length > 0) {
  const reason = incompleteDist();
  if (reason === null) {
    console.log('authctl: build tools not installed; keeping the existing dist/.');
    process.exit(0);
  }
  console.error(
    [
      `authctl: cannot build: ${reason}, and the build tools are not installed`,
      `(missing node_modules/${missing.join(', node_modules/')}).`,
      'Install with the dev dependencies and build: `npm ci` (it builds), or `npm ci && npm run build`.',
      'For a production install, build dist/ first, then run `npm ci --omit=dev` (see README, "Install").',
    ].join('\n'),
  );
  process.exit(1);
}

function step(args) {
  const r = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

// The copied runtime needs the very @prisma/client-runtime-utils that
// @prisma/client was built against; authctl pins it as a run-time dependency.
const readJson = (...p) => JSON.parse(fs.readFileSync(path.join(root, ...p), 'utf8'));
const wanted = readJson('node_modules', '@prisma', 'client', 'package.json').dependencies['@prisma/client-runtime-utils'];
const pinned = readJson('package.json').dependencies['@prisma/client-runtime-utils'];
if (wanted !== pinned) {
  console.error(`authctl: @prisma/client needs @prisma/client-runtime-utils ${wanted}, package.json pins ${pinned}; pin ${wanted} in "dependencies".`);
  process.exit(1);
}

step([path.join(root, 'prisma', 'generate.mjs')]);
step([path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', '.']);

// Copy each runtime module the generated clients import, and point the
// imports at the copies.
fs.rmSync(runtimeDir, { recursive: true, force: true });
fs.mkdirSync(runtimeDir, { recursive: true });
const copied = new Map();
const pattern = new RegExp(`(["'])(${RUNTIME_PREFIX.replace(/[/.]/g, '\\$&')}[^"']+)\\1`, 'g');
for (const file of generatedFiles()) {
  const text = fs.readFileSync(file, 'utf8');
  const rewritten = text.replace(pattern, (_, quote, specifier) => {
    if (!copied.has(specifier)) {
      const source = fileURLToPath(import.meta.resolve(specifier));
      // @prisma/client has no "type" field, so its .js files are CommonJS;
      // under authctl's "type": "module" they must be named .cjs.
      const target = path.join(runtimeDir, path.basename(source).replace(/\.js$/, '.cjs'));
      fs.copyFileSync(source, target);
      copied.set(specifier, target);
    }
    const rel = path.relative(path.dirname(file), copied.get(specifier)).split(path.sep).join('/');
    return `${quote}${rel.startsWith('.') ? rel : `./${rel}`}${quote}`;
  });
  if (rewritten !== text) fs.writeFileSync(file, rewritten);
}
// The copies must stand alone: only Node built-ins and @prisma/client-runtime-utils.
for (const target of copied.values()) {
  // The files are minified with double quotes; single-quoted text is example code in messages.
  const imports = [...fs.readFileSync(target, 'utf8').matchAll(/\b(?:require\(|import\(|from\s*)"([^"]+)"/g)].map((m) => m[1]);
  const foreign = imports.filter((s) => !s.startsWith('node:') && s !== '@prisma/client-runtime-utils');
  if (foreign.length > 0) {
    console.error(`authctl: ${path.basename(target)} imports ${foreign.join(', ')}; it cannot be copied alone.`);
    process.exit(1);
  }
}
fs.copyFileSync(path.join(root, 'node_modules', '@prisma', 'client', 'LICENSE'), path.join(runtimeDir, 'LICENSE'));
