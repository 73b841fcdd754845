import Database from 'better-sqlite3';
import type { SqliteDb } from './sqlite.js';

/**
 * A canonical description of a SQLite schema: per table, its columns, indexes
 * (by columns and uniqueness; SQLite names inline constraints itself) and
 * foreign keys. Two databases with equal shapes hold the same schema.
 */
export type SchemaShape = Record<string, string[]>;

const INTERNAL = /^(sqlite_|_prisma_migrations$)/;

export function describeSqlite(db: SqliteDb): SchemaShape {
  const tables = db
    .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
    .pluck()
    .all() as string[];
  const shape: SchemaShape = {};
  for (const table of tables) {
    if (INTERNAL.test(table)) continue;
    const facts: string[] = [];
    for (const c of db.pragma(`table_info("${table}")`) as Array<{ name: string; type: string; notnull: number; pk: number }>) {
      facts.push(`column ${c.name} ${c.type.toUpperCase()}${c.notnull ? ' NOT NULL' : ''}${c.pk ? ` PK${c.pk}` : ''}`);
    }
    for (const ix of db.pragma(`index_list("${table}")`) as Array<{ name: string; unique: number; origin: string }>) {
      if (ix.origin === 'pk') continue;
      const cols = (db.pragma(`index_info("${ix.name}")`) as Array<{ name: string }>).map((c) => c.name).join(', ');
      const name = ix.name.startsWith('sqlite_autoindex_') ? '(constraint)' : ix.name;
      facts.push(`${ix.unique ? 'unique index' : 'index'} ${name} (${cols})`);
    }
    for (const fk of db.pragma(`foreign_key_list("${table}")`) as Array<{ from: string; table: string; to: string }>) {
      facts.push(`foreign key ${fk.from} -> ${fk.table}.${fk.to}`);
    }
    shape[table] = facts.sort();
  }
  return shape;
}

/** The shape a list of migration scripts produces, built in memory. */
export function shapeOfScripts(scripts: string[]): SchemaShape {
  const db = new Database(':memory:');
  try {
    for (const script of scripts) db.exec(script);
    return describeSqlite(db);
  } finally {
    db.close();
  }
}

/**
 * Human lines describing how the tables of `expected` differ in `actual`;
 * empty when equal. Only the tables `expected` names are compared: every
 * other table belongs to the app (its chat history since v2.3.0, and whatever
 * a later version adds), so it is never a difference.
 */
export function compareShapes(expected: SchemaShape, actual: SchemaShape): string[] {
  const out: string[] = [];
  for (const table of Object.keys(expected)) {
    if (!(table in actual)) {
      out.push(`table ${table} is missing`);
      continue;
    }
    const want = new Set(expected[table]);
    const have = new Set(actual[table]);
    for (const f of want) if (!have.has(f)) out.push(`${table}: expected ${f}`);
    for (const f of have) if (!want.has(f)) out.push(`${table}: unexpected ${f}`);
  }
  return out;
}

/** How a live schema compares with the one authctl's migrations produce. */
export interface SchemaComparison {
  /** Differences in the tables authctl manages. */
  drift: string[];
  /** Every other table: the app's own, never changed by authctl. */
  appTables: string[];
}

/** The tables of `actual` that `expected` does not name: the app's own, not managed by authctl. */
export function otherTables(expected: SchemaShape, actual: SchemaShape): string[] {
  return Object.keys(actual)
    .filter((table) => !(table in expected))
    .sort();
}
