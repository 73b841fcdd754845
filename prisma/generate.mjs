// Generates the Prisma clients offline, from npm's lifecycle scripts.
//
// The prisma CLI checks for its native schema engine at start-up and would
// download it; generate itself only needs the bundled Wasm parser, so pointing
// PRISMA_SCHEMA_ENGINE_BINARY at any existing file satisfies the check.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const cli = path.join(root, 'node_modules', 'prisma', 'build', 'index.js');
const schemas = ['prisma/schema.prisma', 'prisma/postgresql/schema.prisma'];

for (const schema of schemas) {
  const result = spawnSync(process.execPath, [cli, 'generate', '--schema', schema], {
    cwd: root,
    stdio: 'inherit',
    env: {
      ...process.env,
      PRISMA_SCHEMA_ENGINE_BINARY: process.execPath,
      CHECKPOINT_DISABLE: '1',
      PRISMA_HIDE_UPDATE_MESSAGE: '1',
    },
  });
  if (result.status !== 0) process.exit(result.status ?? 1);
}
