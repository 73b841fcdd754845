import { Command, CommanderError, Option } from 'commander';
import { AuthctlError, ExitCode } from './core/errors/errors.js';
import { toAuthctlError } from './core/errors/map.js';
import { scrubSecrets } from './core/config/secrets.js';
import { deliverPendingSignals, endByHangupWhenTerminalGone, routeSignal, STOP_SIGNALS } from './core/signals/interrupt.js';
import { terminalSafe } from './terminal/output.js';
import { watchOutputs } from './terminal/output-loss.js';
import { outputFor, type GlobalOptions } from './commands/define.js';
import { initDbCommand } from './commands/init-db.js';
import { migrateCommand } from './commands/migrate.js';
import { gpustackCommand } from './commands/gpustack/index.js';
import { userCommand } from './commands/user/index.js';
import { sessionsCommand } from './commands/sessions/index.js';
import { auditCommand } from './commands/audit.js';
import { doctorCommand } from './commands/doctor.js';
import { completionCommand } from './commands/completion/index.js';
import { commandPath, GLOBAL_OPTIONS_HEADING, helpCommand, styleHelp, unknownSubcommand } from './commands/help.js';
import { VERSION } from './version.js';

/**
 * The options every command accepts, before or after its name. The root
 * lists them once under their own heading; each command holds hidden copies
 * so they parse after its name too, and its help points to the root's list.
 */
function addGlobalOptions(cmd: Command, hidden: boolean): Command {
  const options = [
    new Option('-d, --database-url <url>', 'database to use (env DATABASE_URL, .env; default: sqlite:///./gpustack_ui.db)'),
    new Option('--json', 'one JSON document on stdout; errors as JSON on stderr'),
    new Option('--no-color', 'no colour (also NO_COLOR, and whenever stdout is not a terminal)'),
    new Option('-q, --quiet', 'print only errors'),
    new Option('-y, --yes', 'answer yes to confirmations'),
    new Option('--debug', 'print the stack trace of an internal error (also AUTHCTL_DEBUG=1)'),
  ];
  for (const option of options) cmd.addOption(hidden ? option.hideHelp() : option.helpGroup(GLOBAL_OPTIONS_HEADING));
  return cmd;
}

function withGlobalOptionsEverywhere(cmd: Command): void {
  for (const sub of cmd.commands) {
    addGlobalOptions(sub, true);
    withGlobalOptionsEverywhere(sub);
  }
}

export function buildProgram(): Command {
  const program = new Command('authctl')
    .description('Administer the GPUStack UI authentication database: users, sessions, migrations, GPUStack sync.')
    .optionsGroup(GLOBAL_OPTIONS_HEADING)
    .version(VERSION, '-V, --version', 'print the version')
    .helpOption('-h, --help', 'display help for command')
    .helpCommand(false);
  addGlobalOptions(program, false);
  program.addCommand(initDbCommand());
  program.addCommand(migrateCommand());
  program.addCommand(gpustackCommand());
  program.addCommand(userCommand());
  program.addCommand(sessionsCommand());
  program.addCommand(doctorCommand());
  program.addCommand(auditCommand());
  program.addCommand(completionCommand(() => program));
  program.addCommand(helpCommand(() => program));
  withGlobalOptionsEverywhere(program);
  styleHelp(program);
  const configure = (cmd: Command) => {
    cmd.exitOverride();
    // Help on stderr is for an incomplete command line (`authctl user`); under --json it becomes a JSON error (main).
    cmd.configureOutput({ outputError: () => {}, writeErr: (text) => void (outputFor(cmd).json || process.stderr.write(text)) });
    cmd.commands.forEach(configure);
  };
  configure(program);
  return program;
}

/** The only place that decides the exit code. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  // The command commander reached; its parsed options (not a scan of argv)
  // say whether errors are JSON, so `user list -- --json` stays human.
  let reached: Command = program;
  const reach = (_parent: Command, sub: Command) => {
    reached = sub;
  };
  const hook = (cmd: Command) => {
    cmd.hook('preSubcommand', reach);
    cmd.commands.forEach(hook);
  };
  hook(program);
  const out = () => outputFor(reached);
  const debug = () => Boolean(reached.optsWithGlobals<GlobalOptions>().debug) || process.env.AUTHCTL_DEBUG === '1';
  // Ctrl+C, SIGTERM and SIGHUP (a closed terminal or SSH session) cancel
  // with exit 130, unless a command handles them itself (purge stops after
  // its batch) or holds them through a step that must finish (migrate,
  // init-db).
  const onSignal = (signal: NodeJS.Signals) => {
    const route = routeSignal(signal);
    if (route === 'claimed') return;
    if (route === 'held') {
      out().warn('Stopping after the step in progress; press Ctrl+C again to stop at once.');
      return;
    }
    out().error(new AuthctlError('CANCELLED', `Cancelled (${signal}).`, ExitCode.cancelled));
    process.exit(ExitCode.cancelled);
  };
  for (const signal of STOP_SIGNALS) process.on(signal, onSignal);
  endByHangupWhenTerminalGone();
  const outputs = watchOutputs();
  return outputs.settle(await run(), out());

  async function run(): Promise<number> {
    try {
      if (argv.length <= 2) {
        program.outputHelp({ error: true });
        return ExitCode.usage;
      }
      await program.parseAsync(argv);
      return ExitCode.ok;
    } catch (err) {
      // A Ctrl+C or SIGTERM that came while Node was busy (SQLite waiting out
      // another writer's lock blocks the event loop) is a cancel, not this
      // failure: nothing was changed either way, and the operator asked to stop.
      await deliverPendingSignals();
      if (err instanceof CommanderError) {
        if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') return ExitCode.ok;
        // A group named without a command (`authctl user`) printed its help on
        // stderr, as bare `authctl` does: both are usage errors.
        if (err.code === 'commander.help') {
          if (err.exitCode === 0) return ExitCode.ok;
          if (out().json) out().error(new AuthctlError('USAGE', `No command given to ${commandPath(reached)}.`, ExitCode.usage, `Run \`${commandPath(reached)} --help\` for its commands.`));
          return ExitCode.usage;
        }
        // `migrate stauts`: a word that names no subcommand of a command that also runs on its own.
        if (err.code === 'commander.excessArguments' && reached.commands.length > 0 && reached.registeredArguments.length === 0) {
          out().error(unknownSubcommand(reached, String(reached.args[0])));
          return ExitCode.usage;
        }
        let message = err.message.replace(/^error: /, '').replace(/\s*\n\s*/g, ' ');
        if (err.code === 'commander.unknownOption') message = withoutOptionValue(message, reached);
        out().error(new AuthctlError('USAGE', message, ExitCode.usage, `Run \`${commandPath(reached)} --help\` for usage.`));
        return ExitCode.usage;
      }
      let mapped = toAuthctlError(err);
      if (mapped.exitCode === ExitCode.internal && !mapped.hint && !debug()) {
        // Part of the error itself, so --json keeps stderr to the one JSON document.
        mapped = new AuthctlError(mapped.code, mapped.message, mapped.exitCode, 'This is a bug in authctl. Run again with --debug (or AUTHCTL_DEBUG=1) for details.');
      }
      out().error(mapped);
      if (debug() && mapped !== err) {
        const trace = (err as Error)?.stack ?? String(err);
        process.stderr.write(`${trace.split('\n').map((line) => terminalSafe(scrubSecrets(line))).join('\n')}\n`);
      }
      return mapped.exitCode;
    }
  }
}

/**
 * `unknown option '--token=gpustack_…'`: commander quotes the whole word, and
 * a value typed after `=` (or glued to a short flag, `-pSecret`) is often the
 * very secret that must never be on the command line, let alone echoed into
 * a cron log. The message names the option alone.
 */
function withoutOptionValue(message: string, command: Command): string {
  // The word may itself hold quotes (`--password=it's…`): it runs to the last
  // quote, before commander's optional suggestion.
  return message.replace(/^unknown option '(.*)'((?: \(Did you mean [^)]*\?\))?)$/, (whole, word: string, suggestion: string) => {
    const name = word.startsWith('--') ? word.split('=')[0]! : word.slice(0, 2);
    if (name === word) return whole;
    // `--admin=yes`: a real option of this command (or a global one) that takes no value.
    const known = [command, ...ancestors(command)].some((c) => c.options.some((o) => o.long === name || o.short === name));
    return known ? `option '${name}' takes no value (the value given is not shown)` : `unknown option '${name}' (its value is not shown)${suggestion}`;
  });
}

function ancestors(command: Command): Command[] {
  const up: Command[] = [];
  for (let c = command.parent; c; c = c.parent) up.push(c);
  return up;
}
