import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/cli.js';
import { examplesOf, setExecutor } from '../../src/commands/define.js';
import { AuthctlError } from '../../src/core/errors/errors.js';

function allCommands(cmd: Command): Command[] {
  return [cmd, ...cmd.commands.flatMap(allCommands)];
}

function pathOf(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c?.parent; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

/** Shell words, with '...' and "..." quoting (enough for the examples). */
function words(line: string): string[] {
  return [...line.matchAll(/'([^']*)'|"((?:[^"\\]|\\.)*)"|(\S+)/g)].map((m) => m[1] ?? m[2] ?? m[3]);
}

const OPERATOR = /^(\|\|?|&&|;|[0-9]*[<>].*)$/;

/** The argument lists of every `authctl` an example line runs (in pipes, `||`, `<(...)`, crontab lines). */
function invocations(line: string): string[][] {
  const all = words(line);
  const runs: string[][] = [];
  all.forEach((word, i) => {
    if (word.replace(/^<\(|^\$\(/, '') !== 'authctl') return;
    const args: string[] = [];
    for (const next of all.slice(i + 1)) {
      if (OPERATOR.test(next)) break;
      if (next.endsWith(')')) {
        args.push(next.slice(0, -1));
        break;
      }
      args.push(next);
    }
    runs.push(args);
  });
  return runs;
}

describe('help examples', () => {
  const program = buildProgram();
  const commands = allCommands(program).filter((cmd) => cmd.parent && examplesOf(cmd).length > 0);
  const cases = commands.flatMap((cmd) => examplesOf(cmd).map((line) => [pathOf(cmd), line] as const));

  it('every command built by defineCommand has examples', () => {
    // Groups (user, sessions, gpustack) have no action of their own; every other command does.
    const leaves = allCommands(program).filter((cmd) => cmd.parent && cmd.commands.length === 0);
    expect(leaves.length).toBeGreaterThan(15);
    for (const cmd of leaves) expect(examplesOf(cmd), pathOf(cmd)).not.toHaveLength(0);
  });

  it.each(cases)('%s: `%s` runs that command and parses', async (path, line) => {
    const runs = invocations(line);
    expect(runs.length, line).toBeGreaterThan(0);
    for (const args of runs) {
      const fresh = buildProgram();
      let reached: string | undefined;
      setExecutor(fresh, async (_spec, _input, command) => {
        reached = pathOf(command);
      });
      try {
        await fresh.parseAsync(['node', 'authctl', ...args]);
      } catch (err) {
        // A file the example names (a token file) is read while parsing; the command line itself was accepted.
        if (err instanceof AuthctlError && / does not exist\./.test(err.message)) continue;
        throw err;
      }
      expect(reached, `${line}: ${args.join(' ')}`).toBeDefined();
    }
    // The line's first authctl names the command it illustrates.
    const reached = runs[0].filter((word) => !word.startsWith('-'));
    expect(` ${reached.join(' ')} `).toContain(` ${path} `);
  });
});
