import type { Command, Option } from 'commander';

/** An option as completion sees it. */
export interface FlagSpec {
  /** `-d`, `--database-url`: every spelling. */
  names: string[];
  description: string;
  takesValue: boolean;
  /** Fixed values (commander's `.choices()`). */
  choices: string[];
  /** The value is a file (`<path>`, `<file>`). */
  file: boolean;
}

/** A command as completion sees it: what may follow it on the command line. */
export interface CommandSpecNode {
  /** Names from the root down, without the program's own: `[]`, `['user', 'add']`. */
  path: string[];
  description: string;
  subcommands: CommandSpecNode[];
  /** Its own options (the global ones are in `CompletionTree.globals`). */
  flags: FlagSpec[];
  /** Fixed values of each positional argument, by position; a variadic last one repeats. */
  args: Array<{ choices: string[]; variadic: boolean }>;
}

export interface CompletionTree {
  program: string;
  globals: FlagSpec[];
  root: CommandSpecNode;
}

function flagOf(option: Option): FlagSpec {
  return {
    names: [option.short, option.long].filter((n): n is string => Boolean(n)),
    description: option.description,
    takesValue: option.required || option.optional,
    choices: option.argChoices ? [...option.argChoices] : [],
    file: /<(path|file)>/.test(option.flags),
  };
}

const HELP_FLAG: FlagSpec = { names: ['-h', '--help'], description: 'display help for command', takesValue: false, choices: [], file: false };

/**
 * The command tree as completion needs it, read from commander at run time,
 * so the scripts always match the commands this build has. The root's
 * options that every command also accepts are global; hidden ones are left out.
 */
export function completionTree(program: Command): CompletionTree {
  const key = (o: Option) => o.long ?? o.short;
  const everywhere = (o: Option) => program.commands.every((sub) => sub.options.some((s) => key(s) === key(o)));
  const globalOptions = program.options.filter((o) => !o.hidden && everywhere(o));
  const globalNames = new Set(globalOptions.map(key));
  const node = (cmd: Command, path: string[]): CommandSpecNode => ({
    path,
    description: cmd.description(),
    subcommands: cmd.commands.map((sub) => node(sub, [...path, sub.name()])),
    flags: cmd.options.filter((o) => !o.hidden && !globalNames.has(o.long ?? o.short)).map(flagOf),
    args: cmd.registeredArguments.map((a) => ({ choices: a.argChoices ? [...a.argChoices] : [], variadic: a.variadic })),
  });
  return {
    program: program.name(),
    globals: [...globalOptions.map(flagOf), HELP_FLAG],
    root: node(program, []),
  };
}

/** Every command in the tree, the root first. */
export function allNodes(root: CommandSpecNode): CommandSpecNode[] {
  return [root, ...root.subcommands.flatMap(allNodes)];
}

/** A shell word in single quotes, for sh, bash and zsh. */
export function shQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

/** A shell function name made of the program's name. */
export function functionName(program: string): string {
  return program.replace(/[^A-Za-z0-9_]/g, '_');
}

/**
 * The values a shell offers after an option or at an argument position, as
 * case patterns on `"<command path>|<option>"` or `"<command path>|#<position>"`
 * (`#*` for a variadic argument), each with its fixed choices or, for a file,
 * none. The bash and zsh scripts look these up the same way.
 */
export function valueCases(tree: CompletionTree, nodes: CommandSpecNode[]): Array<{ pattern: string; choices: string[] | null }> {
  const cases: Array<{ pattern: string; choices: string[] | null }> = [];
  for (const node of nodes) {
    const at = node.path.join(' ');
    for (const flag of [...node.flags, ...tree.globals]) {
      if (!flag.takesValue || (!flag.choices.length && !flag.file)) continue;
      const pattern = flag.names.map((n) => shQuote(`${at}|${n}`)).join('|');
      cases.push({ pattern, choices: flag.choices.length ? flag.choices : null });
    }
    node.args.forEach((arg, i) => {
      if (!arg.choices.length) return;
      cases.push({ pattern: arg.variadic ? `${shQuote(`${at}|#`)}*` : shQuote(`${at}|#${i}`), choices: arg.choices });
    });
  }
  return cases;
}
