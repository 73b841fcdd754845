import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { SqlDriverAdapter, SqlMigrationAwareDriverAdapterFactory, SqlQuery } from '@prisma/driver-adapter-utils';
import type { DatabaseTarget } from '../config/config.js';
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
function atomicMigrations(adapter: SqlDriverAdapter, begin: string, failures: DriverFailures): SqlDriverAdapter {
  let open = false;
  const run = (sql: string) => adapter.executeRaw({ sql, args: [], argTypes: [] });
  const rollback = async () => {
    if (!open) return;
    open = false;
    await run('ROLLBACK').catch(() => {});
  };
  const statement = (method: 'queryRaw' | 'executeRaw') =>
    failures.watch(async (query: SqlQuery) => {
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
    });
  return new Proxy(adapter, {
    get(target, prop, receiver) {
      if (prop === 'queryRaw' || prop === 'executeRaw') return statement(prop);
      if (prop === 'executeScript') {
        return failures.watch(async (script: string) => {
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
        });
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
async function adapterFactory(target: DatabaseTarget, failures: DriverFailures) {
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
  const remember = async (connection: () => Promise<SqlDriverAdapter>, atomic: boolean) => {
    const adapter = await failures.watch(connection)();
    opened.push(adapter);
    return atomic ? atomicMigrations(adapter, begin, failures) : adapter;
  };
  const factory = bindMigrationAwareSqlAdapterFactory({
    provider: inner.provider,
    adapterName: inner.adapterName,
    connect: () => remember(() => inner.connect(), true),
    connectToShadowDb: () => remember(() => inner.connectToShadowDb(), false),
  });
  return {
    factory,
    async disposeAll() {
      await Promise.all(opened.splice(0).map((adapter) => adapter.dispose()));
    },
  };
}

/**
 * The last failure of the driver under the engine. The engine passes a
 * driver's error on as a typed value it must decode, and a kind its build does
 * not know (the SQLite adapter reports a busy database as `SocketTimeout`)
 * turns into a decoding error quoting the engine's own wasm and JS frames. So
 * the driver's error is kept here, as thrown, and reported instead.
 */
class DriverFailures {
  last: unknown = undefined;

  watch<A extends unknown[], R>(fn: (...args: A) => Promise<R>): (...args: A) => Promise<R> {
    return async (...args: A) => {
      try {
        return await fn(...args);
      } catch (err) {
        this.last = err;
        throw err;
      }
    };
  }
}

/**
 * A failure inside Prisma's schema engine. `driverError` is the database
 * driver's own error when one caused it; `message` is the engine's text
 * without its stack frames. Mapped to what the operator sees in
 * errors/map.ts; --debug prints `stack`, which keeps the engine's full text.
 */
export class MigrationEngineError extends Error {
  override readonly name = 'MigrationEngineError';
  readonly provider: DatabaseTarget['provider'];
  readonly driverError: unknown;
  /** The copy of the SQLite file made before this run, when there is one (set by the caller). */
  backup: string | null = null;

  constructor(raw: string, provider: DatabaseTarget['provider'], driverError: unknown) {
    super(engineSummary(raw));
    this.provider = provider;
    this.driverError = driverError;
    this.stack = `${this.name}: ${raw}${driverError instanceof Error && driverError.stack ? `\nCaused by: ${driverError.stack}` : ''}`;
  }
}

/** The engine's message up to its first stack frame or span trace, on one line, with no file or wasm addresses. */
function engineSummary(raw: string): string {
  const lines: string[] = [];
  for (const line of raw.replace(/\\n/g, '\n').split('\n')) {
    if (/^\s+(at |\d+: )/.test(line)) break;
    lines.push(line);
  }
  return lines
    .join(' ')
    .replace(/\(?(file|wasm):\/\/\S+\)?/g, '')
    .replace(/\s+/g, ' ')
    .trim();
}

export async function openMigrationEngine(target: DatabaseTarget, migrations: Migration[]): Promise<MigrationEngine> {
  const { SchemaEngine } = await loadWasmEngine();
  const failures = new DriverFailures();
  const { factory, disposeAll } = await adapterFactory(target, failures);
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

  // The engine reports a failure of JavaScript code under it as "External
  // error id#N", the error itself waiting in the adapter's registry; any other
  // failure of the driver is the one kept in `failures`.
  const explain = (err: unknown) => {
    const raw = err instanceof Error ? err.message : String(err);
    const id = /id#(\d+)/.exec(raw)?.[1];
    const registered = id ? registry.consumeError(Number(id))?.error : undefined;
    return new MigrationEngineError(raw, target.provider, registered ?? failures.last);
  };
  const run = async <R>(step: () => Promise<R>): Promise<R> => {
    failures.last = undefined;
    try {
      return await step();
    } catch (err) {
      throw explain(err);
    }
  };

  return {
    async applyMigrations() {
      return run(async () => (await engine.applyMigrations({ migrationsList, filters })).appliedMigrationNames);
    },
    async markApplied(name: string) {
      await run(() => engine.markMigrationApplied({ migrationName: name, migrationsList }));
    },
    async close() {
      engine.free();
      await disposeAll();
    },
  };
}
