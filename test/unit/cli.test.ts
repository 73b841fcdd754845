import { Command, CommanderError } from 'commander';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/cli.js';

interface Parsed {
  command: string;
  args: unknown[];
  opts: Record<string, unknown>;
}

/**
 * Parses argv with the real command tree, but with every action replaced by
 * one that records what it was given: argv in, command and options out.
 */
async function parse(argv: string[]): Promise<Parsed> {
  const program = buildProgram();
  let parsed: Parsed | undefined;
  const capture = (cmd: Command, path: string[]) => {
    const here = [...path, cmd.name()];
    if (cmd.commands.length === 0 || (cmd as unknown as { _actionHandler: unknown })._actionHandler) {
      cmd.action((...all: unknown[]) => {
        const self = all.at(-1) as Command;
        parsed = { command: here.slice(1).join(' '), args: all.slice(0, -2), opts: self.optsWithGlobals() };
      });
    }
    for (const sub of cmd.commands) capture(sub, here);
  };
  capture(program, []);
  await program.parseAsync(['node', 'authctl', ...argv]);
  if (!parsed) throw new Error('no action ran');
  return parsed;
}

async function parseError(argv: string[]): Promise<string> {
  try {
    await parse(argv);
  } catch (err) {
    if (err instanceof CommanderError) return err.code;
    throw err;
  }
  throw new Error('parsed without an error');
}

describe('argument parsing', () => {
  it.each([
    [['user', 'list', '--json'], 'user list', { json: true }],
    [['--json', 'user', 'list'], 'user list', { json: true }],
    [['-d', 'file:./a.db', 'sessions', 'purge', '--dry-run'], 'sessions purge', { databaseUrl: 'file:./a.db', dryRun: true }],
    [['sessions', 'purge', '-d', 'file:./a.db', '--wait', '-q'], 'sessions purge', { databaseUrl: 'file:./a.db', wait: true, quiet: true }],
    [['user', 'add', 'alice', '--admin', '--password-stdin', '--email', 'a@example.com'], 'user add', { admin: true, passwordStdin: true, email: 'a@example.com' }],
    [['init-db', '--admin-username', 'root-admin', '--generate-password'], 'init-db', { adminUsername: 'root-admin', generatePassword: true }],
    [['init-db'], 'init-db', { adminUsername: 'admin' }],
    [['migrate', '--dry-run'], 'migrate', { dryRun: true }],
    [['migrate', 'status', '--json'], 'migrate status', { json: true }],
    [['gpustack', 'sync', '--max-disable', '25%', '--force', '-y'], 'gpustack sync', { maxDisable: '25%', force: true, yes: true }],
    [['--no-color', 'doctor'], 'doctor', { color: false }],
    [['audit', '--limit', '5'], 'audit', { limit: '5' }],
  ])('%j runs %s with %j', async (argv, command, opts) => {
    const parsed = await parse(argv as string[]);
    expect(parsed.command).toBe(command);
    expect(parsed.opts).toMatchObject(opts as Record<string, unknown>);
  });

  it('passes positional arguments through', async () => {
    expect((await parse(['user', 'prefs', 'alice', 'set', 'theme', 'dark'])).args).toEqual(['alice', 'set', ['theme', 'dark']]);
    expect((await parse(['sessions', 'revoke', '3', '4'])).args).toEqual([['3', '4']]);
  });

  it.each([
    [['frobnicate'], 'commander.unknownCommand'],
    [['user', 'list', '--bogus'], 'commander.unknownOption'],
    [['user', 'add'], 'commander.missingArgument'],
    [['init-db', '--admin-username'], 'commander.optionMissingArgument'],
    [['user', 'reset', 'alice', 'extra'], 'commander.excessArguments'],
  ])('%j is a usage error (%s)', async (argv, code) => {
    expect(await parseError(argv as string[])).toBe(code);
  });

  it('never accepts a password as an option value', async () => {
    expect(await parseError(['user', 'add', 'alice', '--password', 'hunter2'])).toBe('commander.unknownOption');
    expect(await parseError(['gpustack', 'sync', '--token', 'abc'])).toBe('commander.unknownOption');
  });
});
