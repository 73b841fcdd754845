import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { DatabaseTarget } from '../config/config.js';
import { databaseError } from '../errors/errors.js';
import { MIGRATIONS_DIR } from '../../paths.js';
import type { SchemaComparison } from './shape.js';

export interface Migration {
  name: string;
  script: string;
  /** Prisma's checksum: the SHA-256 of migration.sql, in hex. */
  checksum: string;
}

/** The name of the migration that creates exactly the app's own tables. */
export const BASELINE_MIGRATION = '20261126000000_app_baseline';

export function loadMigrations(provider: DatabaseTarget['provider']): Migration[] {
  const dir = MIGRATIONS_DIR[provider];
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort()
    .map((name) => {
      const script = fs.readFileSync(path.join(dir, name, 'migration.sql'), 'utf8');
      return { name, script, checksum: createHash('sha256').update(script).digest('hex') };
    });
}

export interface AppliedMigration {
  name: string;
  checksum: string;
  finished: boolean;
  rolledBack: boolean;
}

/** What a database holds before authctl touches it. */
export type DatabaseState =
  | { kind: 'empty' }
  | { kind: 'app-unmanaged'; appTables: string[] }
  | { kind: 'unknown'; problems: string[] }
  | { kind: 'managed'; applied: AppliedMigration[] };

export interface MigrationStatus {
  state: DatabaseState['kind'];
  applied: string[];
  pending: string[];
  /** In the database's history but not in this authctl's migrations. */
  unknown: string[];
  /** Applied, but the file's checksum no longer matches. */
  edited: string[];
  /** Started and never finished. */
  failed: string[];
  /** How the live schema differs from what the applied migrations produce, in the tables authctl manages. */
  drift: string[];
  /** Tables that are the app's own (its chat history, for one): never managed, changed or reported as drift. */
  appTables: string[];
  upToDate: boolean;
}

export function statusFrom(
  state: DatabaseState,
  migrations: Migration[],
  comparison: SchemaComparison = { drift: [], appTables: [] },
): MigrationStatus {
  // Tables without a history that are not the app's: how they differ from its schema is the drift to show.
  const drift = state.kind === 'unknown' ? state.problems : comparison.drift;
  const appTables = state.kind === 'app-unmanaged' ? state.appTables : comparison.appTables;
  const applied = state.kind === 'managed' ? state.applied.filter((a) => !a.rolledBack) : [];
  const byName = new Map(migrations.map((m) => [m.name, m]));
  const appliedNames = new Set(applied.filter((a) => a.finished).map((a) => a.name));
  const status: MigrationStatus = {
    state: state.kind,
    applied: migrations.filter((m) => appliedNames.has(m.name)).map((m) => m.name),
    pending: migrations.filter((m) => !appliedNames.has(m.name)).map((m) => m.name),
    unknown: applied.filter((a) => !byName.has(a.name)).map((a) => a.name),
    edited: applied.filter((a) => a.finished && byName.has(a.name) && byName.get(a.name)!.checksum !== a.checksum).map((a) => a.name),
    failed: applied.filter((a) => !a.finished).map((a) => a.name),
    drift,
    appTables,
    upToDate: false,
  };
  status.upToDate =
    state.kind === 'managed' &&
    status.pending.length === 0 &&
    status.unknown.length === 0 &&
    status.edited.length === 0 &&
    status.failed.length === 0 &&
    drift.length === 0;
  return status;
}

export function describeState(kind: DatabaseState['kind']): string {
  switch (kind) {
    case 'empty':
      return 'empty (no tables yet)';
    case 'app-unmanaged':
      return 'created by the app, not yet managed by authctl';
    case 'unknown':
      return 'not a GPUStack UI database authctl recognises';
    case 'managed':
      return 'managed by authctl';
  }
}

export function unknownSchemaError(problems: string[]) {
  const shown = problems.slice(0, 6).join('; ') + (problems.length > 6 ? `; and ${problems.length - 6} more` : '');
  return databaseError(
    'UNKNOWN_SCHEMA',
    `This database has tables but no migration history, and they are not the GPUStack UI app's schema (${shown}).`,
    'Nothing was changed. Check DATABASE_URL (or -d) points at the app\'s database.',
  );
}
