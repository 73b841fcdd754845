import { Command, CommanderError, Option } from 'commander';
import { AuthctlError, ExitCode } from './core/errors/errors.js';
import { toAuthctlError } from './core/errors/map.js';
import { routeSignal } from './core/signals/interrupt.js';
import { terminalSafe } from './terminal/output.js';
import { outputFor, type GlobalOptions } from './commands/define.js';
import { initDbCommand } from './commands/init-db.js';
import { migrateCommand } from './commands/migrate.js';
import { gpustackCommand } from './commands/gpustack/index.js';
import { userCommand } from './commands/user/index.js';
import { sessionsCommand } from './commands/sessions/index.js';
import { auditCommand } from './commands/audit.js';
import { doctorCommand } from './commands/doctor.js';
import { VERSION } from './version.js';

function addGlobalOptions(cmd: Command): Command {
  return cmd
    .option('-d, --database-url <url>', 'database to use (env DATABASE_URL, .env; default sqlite:///./gpustack_ui.db)')
    .option('--json', 'one JSON document on stdout; errors as JSON on stderr')
    .option('--no-color', 'no colour (also NO_COLOR, and whenever stdout is not a terminal)')
    .option('-q, --quiet', 'print only errors')
    .option('-y, --yes', 'answer yes to confirmations')
    .addOption(new Option('--debug', 'print stack traces of internal errors').hideHelp());
}

/** Global options work before or after the command, so every command accepts them. */
function withGlobalOptionsEverywhere(cmd: Command): void {
  for (const sub of cmd.commands) {
    addGlobalOptions(sub);
    sub.configureHelp({ showGlobalOptions: false });
    withGlobalOptionsEverywhere(sub);
  }
}

export function buildProgram(): Command {
  const program = new Command('authctl')
    .description('Administer the GPUStack UI authentication database: users, sessions, migrations, GPUStack sync.')
    .version(VERSION, '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show help');
  addGlobalOptions(program);
  program.addCommand(initDbCommand());
  program.addCommand(migrateCommand());
  program.addCommand(gpustackCommand());
  program.addCommand(userCommand());
  program.addCommand(sessionsCommand());
  program.addCommand(doctorCommand());
  program.addCommand(auditCommand());
  withGlobalOptionsEverywhere(program);
  const configure = (cmd: Command) => {
    cmd.exitOverride();
    cmd.configureOutput({ outputError: () => {} });
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
  // Ctrl+C and SIGTERM cancel with exit 130, unless a command handles them
  // itself (purge stops after its batch) or holds them through a step that
  // must finish (migrate, init-db).
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
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    if (argv.length <= 2) {
      program.outputHelp({ error: true });
      return ExitCode.usage;
    }
    await program.parseAsync(argv);
    return ExitCode.ok;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') {
        return ExitCode.ok;
      }
      const message = err.message.replace(/^error: /, '').replace(/\s*\n\s*/g, ' ');
      out().error(new AuthctlError('USAGE', message, ExitCode.usage, 'Run with --help for usage.'));
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
      process.stderr.write(`${trace.split('\n').map((line) => terminalSafe(line)).join('\n')}\n`);
    }
    return mapped.exitCode;
  }
}
