import { Help, type Argument, type Command, type Option } from 'commander';
import { usageError, ExitCode, type AuthctlError } from '../core/errors/errors.js';
import { defineCommand, examplesOf } from './define.js';

/** The heading of the options every command accepts, listed once on `authctl --help`. */
export const GLOBAL_OPTIONS_HEADING = 'Global options:';

/** Below this many columns for a description, an item's description goes under its term instead of beside it. */
const MIN_DESCRIPTION_WIDTH = 36;
const STACKED_INDENT = 6;

const EXIT_CODES: Record<keyof typeof ExitCode, string> = {
  ok: 'success (also: nothing to do)',
  internal: 'internal error, a bug (details with --debug or AUTHCTL_DEBUG=1); or output lost (stdout could not be written)',
  usage: 'usage error: unknown command or option, bad value, no password source without a terminal',
  notFound: 'not found: user, session, preference key',
  conflict: 'conflict: username or email taken, migration history diverged',
  database: 'database problem: cannot open, locked too long, not initialised, unknown schema',
  gpustack: 'GPUStack problem: unreachable, timed out, credential rejected, unexpected response',
  refused: 'refused by a safety rule: weak or default password, sync guard, destructive step without --yes and without a terminal',
  checkFailed: 'a check failed: doctor found a problem, migrate status not up to date',
  busy: 'busy: another authctl holds the lock for this job (sessions purge, migrate, init-db, gpustack sync)',
  cancelled: 'cancelled (Ctrl+C, SIGTERM, SIGHUP)',
};

const ENVIRONMENT: Array<[string, string]> = [
  ['DATABASE_URL', 'the database (as -d); also read from .env in the working directory; default sqlite:///./gpustack_ui.db'],
  ['GPUSTACK_API_BASE', 'the GPUStack server URL (as --url); GPUSTACK_SERVER_URL is the fallback'],
  ['GPUSTACK_API_TOKEN', 'the GPUStack API key (as --token-file); GPUSTACK_API_KEY is the fallback'],
  ['PGSSLMODE, PGSSLROOTCERT, PGSSLCERT, PGSSLKEY', 'SSL settings, as in libpq, for a PostgreSQL URL that does not give them (default sslmode: prefer)'],
  ['AUTHCTL_BCRYPT_ROUNDS', 'bcrypt cost for new passwords, 10 to 15 (as --rounds; default: 12)'],
  ['AUTHCTL_GPUSTACK_CONNECT_TIMEOUT_MS', 'connect timeout per GPUStack request (default: 5000)'],
  ['AUTHCTL_GPUSTACK_TIMEOUT_MS', 'time for a whole GPUStack answer, once connected (default: 10000)'],
  ['AUTHCTL_GPUSTACK_RETRIES', 'retries after the first attempt, 0 to 10 (default: 3)'],
  ['AUTHCTL_GPUSTACK_RETRY_BASE_MS', 'first backoff delay, doubled each retry (default: 500)'],
  ['AUTHCTL_GPUSTACK_CONCURRENCY', 'user-list pages fetched at once by sync, 1 to 16 (default: 4)'],
  ['AUTHCTL_DEBUG', 'set to 1 to print the stack trace of an internal error (as --debug)'],
  ['NO_COLOR', 'any non-empty value turns colour off (as --no-color)'],
  ['FORCE_COLOR', 'colour even on a pipe: 1, 2 or 3 (basic, 256, true colour); 0 turns it off'],
  ['USER, LOGNAME', 'the name recorded as the actor in the audit log'],
];

const TOPICS: Record<string, { summary: string; lines: () => string[] }> = {
  'exit-codes': {
    summary: 'what each exit code means',
    lines: () => [
      'Exit codes:',
      ...(Object.keys(ExitCode) as Array<keyof typeof ExitCode>).map((key) => item(String(ExitCode[key]).padStart(3), EXIT_CODES[key], 5)),
      '',
      'With --json, an error is one JSON document on stderr: {"error": {"code", "message", "exitCode", "hint"}}.',
      'More in README.md, section "Exit codes".',
    ],
  },
  environment: {
    summary: 'the environment variables authctl reads',
    lines: () => [
      'Environment:',
      ...ENVIRONMENT.map(([name, meaning]) => item(name, meaning, 0)),
      '',
      'Flags win over the environment, and the environment over .env.',
      'More in README.md, section "Configuration".',
    ],
  },
};

/**
 * A term and its meaning, wrapped to 80 columns: the meaning beside the term
 * padded to `width`, or under it when `width` is 0.
 */
function item(term: string, meaning: string, width: number): string {
  const column = width > 0 ? 2 + width : STACKED_INDENT;
  const pad = ' '.repeat(column);
  const wrapped = new Help().boxWrap(meaning, 80 - column).replace(/\n/g, `\n${pad}`);
  return width > 0 ? `  ${term.padEnd(width)}${wrapped}` : `  ${term}\n${pad}${wrapped}`;
}

function rootOf(cmd: Command): Command {
  let c = cmd;
  while (c.parent) c = c.parent;
  return c;
}

/** `authctl user add`: the command line that reaches a command. */
export function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

/** `<username>`, `[ids...]`: an argument as usage lines spell it. */
function argumentTerm(arg: Argument): string {
  const name = arg.name() + (arg.variadic ? '...' : '');
  return arg.required ? `<${name}>` : `[${name}]`;
}

/** " (Did you mean status?)" when one candidate is close to the mistyped name, "" otherwise. */
function suggestion(word: string, candidates: string[]): string {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const d = editDistance(word, candidate);
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best !== undefined && bestDistance <= Math.max(1, Math.floor(best.length / 3)) ? ` (Did you mean ${best}?)` : '';
}

/** Optimal string alignment distance: a swap of two neighbours counts as one edit. */
function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

/** The usage error for a word that names none of a command's subcommands. */
export function unknownSubcommand(parent: Command, word: string): AuthctlError {
  const names = parent.commands.map((c) => c.name());
  return usageError(`unknown command '${word}' for '${commandPath(parent)}'${suggestion(word, names)}.`, `Run \`${commandPath(parent)} --help\` for its commands.`);
}

/**
 * Wraps a line wider than `width` at spaces, continuing 4 columns further in.
 * Example lines stay whole, so they can be copied.
 */
function fit(text: string, width: number): string {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    if (line.length <= width || /^\s*\$ /.test(line)) {
      out.push(line);
      continue;
    }
    const indent = ' '.repeat(Math.min(line.length - line.trimStart().length + 4, 20));
    let rest = line;
    let first = true;
    while (rest.length > width) {
      const cut = rest.lastIndexOf(' ', width);
      const floor = first ? 0 : indent.length;
      if (cut <= floor) break;
      out.push(rest.slice(0, cut).trimEnd());
      rest = indent + rest.slice(cut + 1).trimStart();
      first = false;
    }
    out.push(rest);
  }
  return out.join('\n');
}

function choicesText(choices: readonly string[] | undefined): string[] {
  return choices?.length ? [`one of: ${choices.join(', ')}`] : [];
}

function withExtras(description: string, extras: string[]): string {
  if (extras.length === 0) return description;
  return description ? `${description} (${extras.join('; ')})` : `(${extras.join('; ')})`;
}

/** Help settings shared by every command: one wording for defaults and choices, stacked items when terms are long, global options once. */
const helpSettings: Partial<Help> = {
  subcommandTerm(cmd: Command): string {
    return [cmd.name(), ...cmd.registeredArguments.map(argumentTerm)].join(' ');
  },
  optionDescription(option: Option): string {
    const extras = choicesText(option.argChoices);
    if (option.defaultValue !== undefined && (option.required || option.optional)) {
      extras.push(`default: ${option.defaultValueDescription ?? String(option.defaultValue)}`);
    }
    return withExtras(option.description, extras);
  },
  argumentDescription(argument: Argument): string {
    const extras = choicesText(argument.argChoices);
    if (argument.defaultValue !== undefined) extras.push(`default: ${argument.defaultValueDescription ?? String(argument.defaultValue)}`);
    return withExtras(argument.description, extras);
  },
  formatItem(this: Help, term: string, termWidth: number, description: string, helper: Help): string {
    const width = this.helpWidth ?? 80;
    if (!description || width - termWidth - 4 >= MIN_DESCRIPTION_WIDTH) return Help.prototype.formatItem.call(this, term, termWidth, description, helper);
    const pad = ' '.repeat(STACKED_INDENT);
    return `  ${term}\n${pad}${helper.boxWrap(description, width - STACKED_INDENT).replace(/\n/g, `\n${pad}`)}`;
  },
  formatHelp(this: Help, cmd: Command, helper: Help): string {
    const width = this.helpWidth ?? 80;
    const sections = [Help.prototype.formatHelp.call(this, cmd, helper).trimEnd()];
    const root = rootOf(cmd);
    // A group (`user`) shows the first example of each of its commands.
    const examples = cmd === root ? [] : examplesOf(cmd).length ? examplesOf(cmd) : cmd.commands.flatMap((sub) => examplesOf(sub).slice(0, 1));
    if (examples.length) sections.push(['Examples:', ...examples.map((line) => `  $ ${line}`)].join('\n'));
    if (cmd !== root) {
      // The root's global options that this command also accepts (not --version).
      const own = new Set(cmd.options.map((o) => o.long));
      const flags = root.options.filter((o) => o.helpGroupHeading === GLOBAL_OPTIONS_HEADING && own.has(o.long)).map((o) => o.short ?? o.long);
      sections.push(`${GLOBAL_OPTIONS_HEADING} ${flags.join(', ')} (see \`${root.name()} --help\`)`);
    } else {
      sections.push(
        [
          'Help topics:',
          ...Object.entries(TOPICS).map(([name, topic]) => item(`${root.name()} help ${name}`, topic.summary, 30)),
          '',
          `\`${root.name()} help <command>\` shows a command's options and examples;`,
          'README.md (in the package) documents every command.',
        ].join('\n'),
      );
    }
    return `${fit(sections.join('\n\n'), width)}\n`;
  },
};

/** Applies the shared help settings to a command and everything under it. */
export function styleHelp(cmd: Command): void {
  cmd.configureHelp(helpSettings);
  cmd.commands.forEach(styleHelp);
}

interface HelpResult {
  /** The command line the help is for, or the topic's name. */
  topic: string;
  help: string;
}

/**
 * `authctl help [command...]`: the help of any command in the tree
 * (`help user add`), or a topic (`help exit-codes`, `help environment`).
 */
export function helpCommand(program: () => Command) {
  return defineCommand<string[], HelpResult>({
    name: 'help',
    description: 'help for a command (help user add) or a topic (help exit-codes, help environment)',
    examples: ['authctl help user add', 'authctl help exit-codes', 'authctl help environment'],
    arguments: [{ name: '[command...]', description: `a command, or a topic: ${Object.keys(TOPICS).join(', ')}` }],
    parse: ({ args }) => (args[0] as string[] | undefined) ?? [],
    needs: 'none',
    run: async (_ctx, words) => {
      const root = program();
      const topic = words.length === 1 ? TOPICS[words[0]] : undefined;
      if (topic) return { topic: words[0], help: fit(topic.lines().join('\n'), 80) };
      let target = root;
      for (const word of words) {
        const next = target.commands.find((c) => c.name() === word);
        if (!next) {
          if (target === root && words.length === 1) {
            const err = unknownSubcommand(root, word);
            const topics = suggestion(word, Object.keys(TOPICS));
            throw topics ? usageError(`unknown command or help topic '${word}'${topics}.`, err.hint) : err;
          }
          throw unknownSubcommand(target, word);
        }
        target = next;
      }
      return { topic: commandPath(target), help: target.helpInformation().trimEnd() };
    },
    render: (result, out) => {
      for (const line of result.help.split('\n')) out.line(line);
    },
  });
}
