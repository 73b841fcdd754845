import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { SqlDriverAdapter, SqlMigrationAwareDriverAdapterFactory, SqlQuery } from '@prisma/driver-adapter-utils';
import type { DatabaseTarget } from '../config/config.js';
import { databaseError } from '../errors/errors.js';
import { MIGRATIONS_DIR, SCHEMA_FILE } from '../../paths.js';
import type { Migration } from './migrations.js';
import { BUSY_TIMEOUT_MS } from './sqlite.js';

/**
 * Prisma's own schema engine, run in-process from its WebAssembly build. It
 * needs no native binary and no network, and it keeps `_prisma_migrations`
 * exactly as `prisma migrate deploy` does.
 */
interface MigrationEngine {
  applyMigrations(): Promise<string[]>;
  markApplied(name: string): Promise<void>;
  close(): Promise<void>;
}

interface WasmSchemaEngine {
  applyMigrations(input: unknown): Promise<{ appliedMigrationNames: string[] }>;
  markMigrationApplied(input: unknown): Promise<unknown>;
  free(): void;
}

interface ErrorRegistry {
  consumeError(id: number): { error: unknown } | undefined;
}

const require = createRequire(import.meta.url);

async function loadWasmEngine(): Promise<{ SchemaEngine: { new: (...args: unknown[]) => Promise<WasmSchemaEngine> } }> {
  // Node 20 cannot import a .wasm module, so instantiate it by hand and hand
  // the instance to the generated bindings.
  const bindings = (await import('@prisma/schema-engine-wasm/schema_engine_bg')) as Record<string, unknown> & {
    __wbg_set_wasm(exports: WebAssembly.Exports): void;
  };
  const wasmPath = path.join(path.dirname(require.resolve('@prisma/schema-engine-wasm/schema_engine_bg')), 'schema_engine_bg.wasm');
  const module = new WebAssembly.Module(fs.readFileSync(wasmPath));
  const instance = new WebAssembly.Instance(module, { './schema_engine_bg.js': bindings as WebAssembly.ModuleImports });
  bindings.__wbg_set_wasm(instance.exports);
  (instance.exports.__wbindgen_start as () => void)();
  return bindings as unknown as { SchemaEngine: { new: (...args: unknown[]) => Promise<WasmSchemaEngine> } };
}

const HISTORY_INSERT = /^\s*INSERT INTO [`"]_prisma_migrations[`"]/i;
const HISTORY_FINISHED = /^\s*UPDATE [`"]_prisma_migrations[`"] SET [`"]finished_at[`"]/i;

/**
 * Makes each migration one transaction with its history row. The engine
 * records a migration as started, runs its script, then marks it finished,
 * each as a separate statement, so a run stopped in between left a migration
 * "started and never finished" and every later command refused the database.
 * On this connection the engine's own statements come in order, so the
 * transaction opens before the "started" row and commits with the "finished"
 * mark; a failing script rolls the whole step back. An interrupted run
 * therefore leaves the database before or after each migration, and a rerun
 * finishes the job.
 */
function atomicMigrations(adapter: SqlDriverAdapter, begin: string): SqlDriverAdapter {
  let open = false;
  const run = (sql: string) => adapter.executeRaw({ sql, args: [], argTypes: [] });
  const rollback = async () => {
    if (!open) return;
    open = false;
    await run('ROLLBACK').catch(() => {});
  };
  const statement = (method: 'queryRaw' | 'executeRaw') => async (query: SqlQuery) => {
    if (!open && HISTORY_INSERT.test(query.sql)) {
      await run(begin);
      open = true;
    }
    try {
      const result = await (adapter[method] as (q: SqlQuery) => Promise<unknown>)(query);
      if (open && HISTORY_FINISHED.test(query.sql)) {
        open = false;
        await run('COMMIT');
      }
      return result;
    } catch (err) {
      await rollback();
      throw err;
    }
  };
  return new Proxy(adapter, {
    get(target, prop, receiver) {
      if (prop === 'queryRaw' || prop === 'executeRaw') return statement(prop);
      if (prop === 'executeScript') {
        return async (script: string) => {
          // The engine runs migration scripts on this connection and nothing
          // else; one outside a transaction means its statements changed and
          // the step would no longer be atomic, so refuse rather than risk it.
          if (!open) {
            throw new Error('the schema engine ran a migration script without recording it first; this authctl does not support that engine version');
          }
          try {
            await target.executeScript(script);
          } catch (err) {
            await rollback();
            throw err;
          }
        };
      }
      if (prop === 'dispose') {
        return async () => {
          await rollback();
          await target.dispose();
        };
      }
      const value = Reflect.get(target, prop, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/**
 * The driver adapter for the engine. It remembers every connection it opens:
 * freeing the engine does not close them, and on SQLite an open one keeps the
 * engine's exclusive lock on the file.
 */
async function adapterFactory(target: DatabaseTarget) {
  const { bindMigrationAwareSqlAdapterFactory } = await import('@prisma/driver-adapter-utils');
  let inner: SqlMigrationAwareDriverAdapterFactory;
  let begin: string;
  if (target.provider === 'sqlite') {
    const { PrismaBetterSqlite3 } = await import('@prisma/adapter-better-sqlite3');
    inner = new PrismaBetterSqlite3({ url: target.file, timeout: BUSY_TIMEOUT_MS });
    begin = 'BEGIN IMMEDIATE';
  } else {
    const [{ PrismaPg }, { pgPoolConfig }] = await Promise.all([import('@prisma/adapter-pg'), import('./pg.js')]);
    // One connection, so a transaction's statements all run on it.
    inner = new PrismaPg({ ...(await pgPoolConfig(target.url)), max: 1 });
    begin = 'BEGIN';
  }
  const opened: SqlDriverAdapter[] = [];
  const remember = async (connection: Promise<SqlDriverAdapter>, atomic: boolean) => {
    const adapter = await connection;
    opened.push(adapter);
    return atomic ? atomicMigrations(adapter, begin) : adapter;
  };
  const factory = bindMigrationAwareSqlAdapterFactory({
    provider: inner.provider,
    adapterName: inner.adapterName,
    connect: () => remember(inner.connect(), true),
    connectToShadowDb: () => remember(inner.connectToShadowDb(), false),
  });
  return {
    factory,
    async disposeAll() {
      await Promise.all(opened.splice(0).map((adapter) => adapter.dispose()));
    },
  };
}

export async function openMigrationEngine(target: DatabaseTarget, migrations: Migration[]): Promise<MigrationEngine> {
  const { SchemaEngine } = await loadWasmEngine();
  const { factory, disposeAll } = await adapterFactory(target);
  const schemaFile = SCHEMA_FILE[target.provider];
  const baseDir = MIGRATIONS_DIR[target.provider];
  const migrationsList = {
    baseDir,
    lockfile: { path: 'migration_lock.toml', content: fs.readFileSync(path.join(baseDir, 'migration_lock.toml'), 'utf8') },
    shadowDbInitScript: '',
    migrationDirectories: migrations.map((m) => ({
      path: m.name,
      migrationFile: { path: 'migration.sql', content: { tag: 'ok', value: m.script } },
    })),
  };
  const filters = { externalTables: [], externalEnums: [] };
  const engine = await SchemaEngine.new(
    { datamodels: [[schemaFile, fs.readFileSync(schemaFile, 'utf8')]] },
    () => {},
    factory,
  );
  const registry = (factory as unknown as { errorRegistry: ErrorRegistry }).errorRegistry;

  // The engine reports driver failures as "External error id#N"; the real
  // error waits in the adapter's registry.
  const explain = (err: unknown) => {
    const message = err instanceof Error ? err.message : String(err);
    const id = /id#(\d+)/.exec(message)?.[1];
    const inner = id ? registry.consumeError(Number(id))?.error : undefined;
    const detail = inner ? JSON.stringify(inner) : message;
    // Only a SQLite file is backed up first.
    const hint =
      target.provider === 'sqlite'
        ? 'The database file was backed up before; see the .bak- file beside it.'
        : 'Migrations applied before the failed one stay applied; fix the cause, then run `authctl migrate` again.';
    return databaseError('MIGRATION_FAILED', `Applying migrations failed: ${detail}`, hint);
  };

  return {
    async applyMigrations() {
      try {
        return (await engine.applyMigrations({ migrationsList, filters })).appliedMigrationNames;
      } catch (err) {
        throw explain(err);
      }
    },
    async markApplied(name: string) {
      try {
        await engine.markMigrationApplied({ migrationName: name, migrationsList });
      } catch (err) {
        throw explain(err);
      }
    },
    async close() {
      engine.free();
      await disposeAll();
    },
  };
}
