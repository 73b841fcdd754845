import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package root: this file is compiled to dist/paths.js. */
const PACKAGE_ROOT = path.dirname(path.dirname(fileURLToPath(import.meta.url)));

export const MIGRATIONS_DIR = {
  sqlite: path.join(PACKAGE_ROOT, 'prisma', 'migrations'),
  postgresql: path.join(PACKAGE_ROOT, 'prisma', 'postgresql', 'migrations'),
} as const;

export const SCHEMA_FILE = {
  sqlite: path.join(PACKAGE_ROOT, 'prisma', 'schema.prisma'),
  postgresql: path.join(PACKAGE_ROOT, 'prisma', 'postgresql', 'schema.prisma'),
} as const;
