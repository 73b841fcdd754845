// Layering rules for authctl, checked on the compiled output in dist/.
// dependency-cruiser 17 parses TypeScript only through the typescript
// package's JavaScript API (versions before 7), which TypeScript 7 no longer
// ships; tsc emits dist/ one file per source file, so the import graph is the
// same, except that type-only imports are erased.
const fs = require('node:fs');
const path = require('node:path');

// Files in dist/ whose source is gone (a moved or deleted module) are left out:
// tsc never removes them, and they are not part of the program.
function staleOutputs(root) {
  const stale = [];
  const walk = (dir) => {
    for (const entry of fs.readdirSync(path.join(root, dir), { withFileTypes: true })) {
      const rel = `${dir}/${entry.name}`;
      if (entry.isDirectory()) walk(rel);
      else if (rel.endsWith('.js') && !fs.existsSync(path.join(root, `src${rel.slice('dist'.length, -'.js'.length)}.ts`))) stale.push(rel);
    }
  };
  if (fs.existsSync(path.join(root, 'dist')) && fs.existsSync(path.join(root, 'src'))) walk('dist');
  return stale;
}

const escape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const stale = staleOutputs(process.cwd());

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'core-no-terminal-libs',
      comment: 'Core returns results and throws AuthctlError; only commands and the terminal layer talk to the terminal.',
      severity: 'error',
      from: { path: '^dist/core/' },
      to: { path: '(^|/)node_modules/(commander|chalk|@inquirer/prompts)/' },
    },
    {
      name: 'core-no-commands-or-terminal',
      comment: 'Core is called by commands, never the other way round.',
      severity: 'error',
      from: { path: '^dist/core/' },
      to: { path: '^dist/(commands|terminal)/' },
    },
    {
      name: 'commands-no-drivers',
      comment: 'Commands reach the database through core and the Db handle, never through a driver.',
      severity: 'error',
      from: { path: '^dist/commands/' },
      to: { path: ['(^|/)node_modules/(better-sqlite3|pg|@prisma/[^/]+)/', '^dist/generated/'] },
    },
    {
      name: 'no-cycles',
      comment: 'No import cycles anywhere in the program.',
      severity: 'error',
      from: { path: '^dist/' },
      to: { circular: true },
    },
    {
      name: 'no-unresolvable',
      comment: 'An import that resolves to nothing would fail at run time.',
      severity: 'error',
      from: { path: '^dist/' },
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: stale.length ? { path: stale.map((f) => `^${escape(f)}$`) } : undefined,
    moduleSystems: ['es6', 'cjs'],
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default'],
      mainFields: ['module', 'main'],
    },
  },
};
