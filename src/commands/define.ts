import { Argument, Command } from 'commander';
import type { ResolvedConfig } from '../core/config/config.js';
import type { AuthctlError } from '../core/errors/errors.js';
import type { Db } from '../core/db/handle.js';
import type { LockedJob } from '../core/locks/job.js';
import { claimSignals, STOP_SIGNALS } from '../core/signals/interrupt.js';
import { Output, type TableFormat } from '../terminal/output.js';

/** The options every command accepts, before or after its name. */
export interface GlobalOptions {
  databaseUrl?: string;
  json?: boolean;
  color?: boolean;
  quiet?: boolean;
  yes?: boolean;
  debug?: boolean;
}

/** What commander parsed for one command: its positional arguments in order, and its own options. */
export interface RawInput {
  args: unknown[];
  opts: Record<string, unknown>;
}

/**
 * What a command needs before it runs:
 * - `none`: nothing; DATABASE_URL is neither read nor announced (`gpustack check`);
 * - `config`: the resolved configuration (DATABASE_URL, the environment, .env);
 * - `database`: also a handle on the database, which may not exist yet or be
 *   behind (init-db, migrate, doctor look at it as it is);
 * - `ready`: a handle on a database that is initialised and fully migrated,
 *   checked once here (exit 5 with the next step otherwise).
 */
export type Needs = 'none' | 'config' | 'database' | 'ready';

export interface LockRequest {
  job: LockedJob;
  /** 0: fail at once as busy (exit 75); Infinity: wait as long as it takes. */
  waitMs: number;
}

/**
 * What the runner gives a command's `run`. `config` is there unless the
 * command needs nothing; `db` is there when it needs a database.
 */
export interface RunContext {
  out: Output;
  config: ResolvedConfig;
  db: Db;
  /** --yes: confirmations are answered yes. */
  yes: boolean;
  /** For a `stoppable` command: aborted by the first Ctrl+C, SIGTERM or SIGHUP, with the signal's name as reason. */
  signal?: AbortSignal;
}

export interface CommandSpec<I, R> {
  name: string;
  description: string;
  /** Copy-pasteable command lines shown under "Examples:" in the command's help. */
  examples?: string[];
  /** Positional arguments, as commander spells them (`<username>`, `[ids...]`). */
  arguments?: Array<{ name: string; description?: string; choices?: string[] }>;
  /** Declares the command's own options (and usage, help text) on its commander command. */
  options?: (cmd: Command) => void;
  /** Validates at the edge: raw strings in, a typed input out, or a usage error (exit 2). */
  parse: (raw: RawInput) => I;
  needs: Needs;
  /** The job lock to hold while `run` runs (jobs that must not run twice at once). */
  lock?: (input: I) => LockRequest | null;
  /**
   * The command changes the database after asking something (a password, a
   * confirmation): on SQLite, a file this user cannot write is refused before
   * the first question rather than after it.
   */
  asksThenWrites?: (input: I) => boolean;
  /**
   * The command stops cleanly on Ctrl+C and SIGTERM (after the step in
   * progress): the runner claims them before any work, a signal cancels the
   * lock wait (exit 130) and aborts `ctx.signal`, until the result is out.
   */
  stoppable?: (input: I) => boolean;
  run: (ctx: RunContext, input: I) => Promise<R>;
  /** Prints the result for people; with --json the result itself is printed instead. */
  render: (result: R, out: Output, input: I) => void | Promise<void>;
  /** The error to exit with after the result was printed (a failed check, a run that stopped part way). */
  failure?: (result: R, input: I) => AuthctlError | null;
}

/** Runs a parsed command; replaced in tests that only look at what commands parse. */
export type Executor = (spec: CommandSpec<unknown, unknown>, input: unknown, command: Command) => Promise<void>;

const outputs = new WeakMap<Command, Output>();
const examples = new WeakMap<Command, string[]>();
const executors = new WeakMap<Command, Executor>();

function rootOf(cmd: Command): Command {
  let c = cmd;
  while (c.parent) c = c.parent;
  return c;
}

/**
 * The one Output of a command, built from the options commander parsed for
 * it: the runner prints through it, and `main` prints errors through it, so
 * --json means the same thing to both (and only when it was an option).
 */
export function outputFor(cmd: Command): Output {
  let out = outputs.get(cmd);
  if (!out) {
    const opts = cmd.optsWithGlobals<GlobalOptions>();
    const own = cmd.opts<{ wide?: boolean; headers?: boolean; format?: TableFormat }>();
    // The prompt library takes its colours from the environment alone, when it is first loaded (later than this).
    if (opts.color === false) process.env.NO_COLOR = '1';
    out = new Output({ json: opts.json, quiet: opts.quiet, color: opts.color, wide: own.wide, headers: own.headers, format: own.format });
    outputs.set(cmd, out);
  }
  return out;
}

/** The copy-pasteable command lines of a command's help (its "Examples:" section). */
export function examplesOf(cmd: Command): string[] {
  return examples.get(cmd) ?? [];
}

/** Lets a program run its commands some other way (tests record the parsed input). */
export function setExecutor(program: Command, executor: Executor): void {
  executors.set(program, executor);
}

/** The commander command for a spec: parse, then the runner (or the program's executor). */
export function defineCommand<I, R>(spec: CommandSpec<I, R>): Command {
  const cmd = new Command(spec.name).description(spec.description);
  for (const arg of spec.arguments ?? []) {
    const argument = new Argument(arg.name, arg.description);
    if (arg.choices) argument.choices(arg.choices);
    cmd.addArgument(argument);
  }
  spec.options?.(cmd);
  if (spec.examples?.length) examples.set(cmd, spec.examples);
  cmd.action(async (...params: unknown[]) => {
    const command = params.at(-1) as Command;
    const input = spec.parse({ args: params.slice(0, -2), opts: command.opts() });
    const executor = executors.get(rootOf(command)) ?? execute;
    await executor(spec as CommandSpec<unknown, unknown>, input, command);
  });
  return cmd;
}

/**
 * Resolves the configuration once, opens the one database handle, checks
 * readiness once, takes the job lock, runs, and prints the result as JSON or
 * for people. Everything opened here is closed here, whatever happens.
 */
async function execute(spec: CommandSpec<unknown, unknown>, input: unknown, command: Command): Promise<void> {
  const out = outputFor(command);
  const globals = command.optsWithGlobals<GlobalOptions>();
  const stop = spec.stoppable?.(input) ? stopOnSignals() : undefined;
  let config: ResolvedConfig | undefined;
  let db: Db | undefined;
  let release: (() => Promise<void>) | undefined;
  try {
    if (spec.needs !== 'none') {
      const { resolveConfig } = await import('../core/config/config.js');
      config = resolveConfig({ databaseUrl: globals.databaseUrl });
      out.banner(config.database.display);
    }
    if (config && spec.needs !== 'config') {
      const { openDb } = await import('../core/db/handle.js');
      db = openDb(config.database);
      if (spec.needs === 'ready') {
        const { assertReady } = await import('../core/db/readiness.js');
        await assertReady(db);
      }
      if (spec.asksThenWrites?.(input) && config.database.provider === 'sqlite') {
        const { assertSqliteWritable } = await import('../core/db/writable.js');
        assertSqliteWritable(config.database.file);
      }
    }
    const lock = spec.lock?.(input);
    if (lock && config) {
      const { acquireJobLock } = await import('../core/locks/job-lock.js');
      const held = await acquireJobLock(config.database, lock.job, lock.waitMs, stop?.signal);
      release = () => held.release();
    }
    const result = await spec.run({ out, config: config as ResolvedConfig, db: db as Db, yes: Boolean(globals.yes), signal: stop?.signal }, input);
    if (out.json) out.emitJson(result);
    else {
      await out.ready();
      await spec.render(result, out, input);
    }
    const failure = spec.failure?.(result, input);
    if (failure) throw failure;
  } finally {
    await release?.();
    await db?.close();
    stop?.release();
  }
}

/** Takes Ctrl+C and SIGTERM from the entry point (which would cancel at once) until `release`. */
function stopOnSignals(): { signal: AbortSignal; release: () => void } {
  const controller = new AbortController();
  const stop = (signal: NodeJS.Signals) => {
    if (!controller.signal.aborted) controller.abort(signal);
  };
  const giveBack = claimSignals();
  for (const name of STOP_SIGNALS) process.on(name, stop);
  return {
    signal: controller.signal,
    release() {
      for (const name of STOP_SIGNALS) process.off(name, stop);
      giveBack();
    },
  };
}
