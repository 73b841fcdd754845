import { Command, CommanderError } from 'commander';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/cli.js';
import { setExecutor } from '../../src/commands/define.js';
import { AuthctlError } from '../../src/core/errors/errors.js';

interface Parsed {
  command: string;
  input: unknown;
  globals: Record<string, unknown>;
}

function pathOf(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c?.parent; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

/**
 * Parses argv with the real command tree and each command's own parse step,
 * but runs nothing: argv in, the command and the input its `run` would get out.
 */
async function parse(argv: string[]): Promise<Parsed> {
  const program = buildProgram();
  let parsed: Parsed | undefined;
  setExecutor(program, async (_spec, input, command) => {
    parsed = { command: pathOf(command), input, globals: command.optsWithGlobals() };
  });
  await program.parseAsync(['node', 'authctl', ...argv]);
  if (!parsed) throw new Error('no command ran');
  return parsed;
}

/** The error argv fails with: commander's code for a malformed command line, the usage error of a parse step otherwise. */
async function parseError(argv: string[]): Promise<string> {
  try {
    await parse(argv);
  } catch (err) {
    if (err instanceof CommanderError) return err.code;
    if (err instanceof AuthctlError) return `${err.code} (exit ${err.exitCode}): ${err.message}`;
    throw err;
  }
  throw new Error('parsed without an error');
}

describe('argument parsing: what each command runs with', () => {
  it.each([
    [['user', 'list'], 'user list', { admins: false, state: 'active', search: undefined }],
    [['user', 'list', '--all', '--admins', '--search', 'ali'], 'user list', { admins: true, state: 'all', search: 'ali' }],
    [['user', 'list', '--inactive'], 'user list', { state: 'inactive' }],
    [['user', 'add', 'alice', '--admin', '--password-stdin', '--email', 'a@example.com'], 'user add', {
      username: 'alice', email: 'a@example.com', fullName: undefined, isAdmin: true, password: { passwordStdin: true },
    }],
    [['user', 'add', 'bob', '--full-name', 'Bob B', '--generate-password', '--rounds', '10'], 'user add', {
      username: 'bob', fullName: 'Bob B', isAdmin: false, password: { generatePassword: true, rounds: '10' },
    }],
    [['user', 'reset', 'alice', '--keep-sessions', '--password-file', 'p.txt'], 'user reset', {
      username: 'alice', keepSessions: true, password: { passwordFile: 'p.txt' },
    }],
    [['user', 'disable', 'alice', '--force'], 'user disable', { username: 'alice', force: true }],
    [['user', 'enable', 'alice'], 'user enable', { username: 'alice', force: false }],
    [['user', 'show', 'alice'], 'user show', { username: 'alice' }],
    [['user', 'set', 'alice', '--full-name', 'Alice C', '--email', 'a@example.com', '--admin'], 'user set', {
      username: 'alice', edits: { fullName: 'Alice C', email: 'a@example.com', isAdmin: true }, dryRun: false, force: false,
    }],
    [['user', 'set', 'alice', '--no-email', '--no-admin', '--rename', 'alicia', '--dry-run', '--force'], 'user set', {
      username: 'alice', edits: { email: null, isAdmin: false, username: 'alicia' }, dryRun: true, force: true,
    }],
    [['user', 'delete', 'bob'], 'user delete', { username: 'bob', dryRun: false, deleteConversations: false, force: false }],
    [['user', 'delete', 'bob', '--dry-run', '--delete-conversations', '--force'], 'user delete', { username: 'bob', dryRun: true, deleteConversations: true, force: true }],
    [['user', 'prefs', 'alice'], 'user prefs', { username: 'alice', action: 'list' }],
    [['user', 'prefs', 'alice', 'set', 'theme', 'dark'], 'user prefs', { username: 'alice', action: 'set', key: 'theme', value: 'dark' }],
    [['user', 'prefs', 'alice', 'unset', 'theme'], 'user prefs', { username: 'alice', action: 'unset', key: 'theme' }],
    [['user', 'import', 'users.csv'], 'user import', { file: 'users.csv', format: 'csv', onConflict: 'fail', missingPassword: 'error', dryRun: false, allowWeakPassword: false }],
    [['user', 'import', '-', '--format', 'ndjson', '--on-conflict', 'update', '--no-password', '--dry-run'], 'user import', { file: '-', format: 'ndjson', onConflict: 'update', missingPassword: 'none', dryRun: true }],
    [['user', 'import', 'u.JSON', '--generate-passwords', '--passwords-out', 'pw.csv', '--rounds', '10', '--allow-weak-password'], 'user import', {
      format: 'json', missingPassword: 'generate', passwordsOut: 'pw.csv', rounds: '10', allowWeakPassword: true,
    }],
    [['user', 'import', '-'], 'user import', { format: 'csv' }],
    [['user', 'export'], 'user export', { format: 'csv', scope: 'active', output: undefined, includeHashes: false }],
    [['user', 'export', '--all', '-o', 'users.ndjson', '--include-hashes'], 'user export', { format: 'ndjson', scope: 'all', output: 'users.ndjson', includeHashes: true }],
    [['user', 'export', '--inactive', '--format', 'json'], 'user export', { format: 'json', scope: 'inactive' }],
    [['user', 'export', '-o', 'users.txt'], 'user export', { format: 'csv', output: 'users.txt' }],
    [['sessions', 'list'], 'sessions list', { user: undefined, type: undefined, state: 'active', limit: 50 }],
    [['sessions', 'list', '--expired', '--type', 'refresh', '--limit', '7', '--user', 'bob'], 'sessions list', { user: 'bob', type: 'refresh', state: 'expired', limit: 7 }],
    [['sessions', 'revoke', '3', '4', '3'], 'sessions revoke', { target: { kind: 'ids', ids: [3, 4], jtis: [] }, dryRun: false }],
    [['sessions', 'revoke', '--jti', 'a', '--jti', 'b'], 'sessions revoke', { target: { kind: 'ids', ids: [], jtis: ['a', 'b'] } }],
    [['sessions', 'revoke', '--user', 'bob', '--type', 'access', '--dry-run'], 'sessions revoke', { target: { kind: 'user', username: 'bob', type: 'access' }, dryRun: true }],
    [['sessions', 'revoke', '--all'], 'sessions revoke', { target: { kind: 'all', type: undefined } }],
    [['sessions', 'purge'], 'sessions purge', { dryRun: false, graceMs: 0, batchSize: 20_000, maxLockMs: 200, wait: false }],
    [['sessions', 'purge', '--dry-run', '--grace', '12h', '--batch-size', '500', '--max-lock', '50', '--wait'], 'sessions purge', {
      dryRun: true, graceMs: 12 * 3_600_000, batchSize: 500, maxLockMs: 50, wait: true,
    }],
    [['sessions', 'stats'], 'sessions stats', {}],
    [['init-db'], 'init-db', { adminUsername: 'admin', password: {} }],
    [['init-db', '--admin-username', 'root-admin', '--generate-password'], 'init-db', { adminUsername: 'root-admin', password: { generatePassword: true } }],
    [['migrate', '--dry-run'], 'migrate', { dryRun: true }],
    [['migrate'], 'migrate', { dryRun: false }],
    [['gpustack', 'sync', '--max-disable', '25%', '--force'], 'gpustack sync', {
      url: undefined, token: undefined, dryRun: false, force: true, linkByUsername: false, maxDisable: { kind: 'percent', value: 25 },
    }],
    [['gpustack', 'sync', '--dry-run', '--link-by-username', '--url', 'http://127.0.0.1:9/'], 'gpustack sync', { url: 'http://127.0.0.1:9', dryRun: true, linkByUsername: true }],
    [['gpustack', 'check', '--url', 'https://gpustack.example'], 'gpustack check', { url: 'https://gpustack.example' }],
    [['doctor', '--url', 'http://127.0.0.1:9'], 'doctor', { url: 'http://127.0.0.1:9', tokenFile: undefined, deep: false }],
    [['doctor', '--deep'], 'doctor', { deep: true }],
    [['audit', '--limit', '5'], 'audit', { limit: 5 }],
    [['audit'], 'audit', { limit: 20, since: undefined, until: undefined, user: undefined, command: undefined }],
    [['audit', '--since', '2026-11-30', '--until', '2026-12-01T08:30:00+02:00', '--user', 'alice', '--command', 'user add'], 'audit', {
      limit: 20, since: new Date('2026-11-30T00:00:00Z'), until: new Date('2026-12-01T06:30:00Z'), user: 'alice', command: 'user add',
    }],
    [['audit', '--since', '2026-11-30 08:00'], 'audit', { since: new Date('2026-11-30T08:00:00Z') }],
    [['sessions', 'list', '--since', '2026-11-30T08:00Z', '--ip', '10.0.0.1'], 'sessions list', { since: new Date('2026-11-30T08:00:00Z'), ip: '10.0.0.1', limit: 50 }],
    [['user', 'list', '--limit', '3'], 'user list', { limit: 3 }],
    [['user', 'list'], 'user list', { limit: undefined }],
  ])('%j runs %s with %j', async (argv, command, input) => {
    const parsed = await parse(argv as string[]);
    expect(parsed.command).toBe(command);
    expect(parsed.input).toMatchObject(input as Record<string, unknown>);
  });

  it.each([
    [['user', 'list', '--json'], { json: true }],
    [['--json', 'user', 'list'], { json: true }],
    [['-d', 'file:./a.db', 'sessions', 'purge', '--dry-run'], { databaseUrl: 'file:./a.db' }],
    [['sessions', 'purge', '-d', 'file:./a.db', '--wait', '-q'], { databaseUrl: 'file:./a.db', quiet: true }],
    [['gpustack', 'sync', '-y'], { yes: true }],
    [['--no-color', 'doctor'], { color: false }],
  ])('global options %j reach the runner as %j', async (argv, globals) => {
    expect((await parse(argv as string[])).globals).toMatchObject(globals as Record<string, unknown>);
  });

  it('reads --since as a duration before now', async () => {
    const before = Date.now();
    const { input } = await parse(['audit', '--since', '1h30m']);
    const since = (input as { since: Date }).since.getTime();
    expect(since).toBeGreaterThanOrEqual(before - 90 * 60_000);
    expect(since).toBeLessThanOrEqual(Date.now() - 90 * 60_000);
  });

  it('takes --json only as an option: -d takes the next word as its value', async () => {
    const { globals } = await parse(['user', 'list', '-d', '--json']);
    expect(globals.databaseUrl).toBe('--json');
    expect(globals.json).toBeUndefined();
  });

  it.each([
    [['user', 'list', '--inactive', '--all'], /USAGE \(exit 2\): --inactive and --all/],
    [['user', 'add', 'bad name'], /exit 2/],
    [['user', 'add', 'x'.repeat(51)], /exit 2.*50/],
    [['user', 'add', 'alice', '--email', 'not-an-email'], /exit 2/],
    [['user', 'add', 'alice', '--full-name', ''], /exit 2/],
    [['user', 'prefs', 'alice', 'frob'], /USAGE \(exit 2\): Unknown prefs action/],
    [['user', 'set', 'alice'], /USAGE \(exit 2\): Nothing to change/],
    [['user', 'set', 'alice', '--rename', 'al'], /exit 2.*at least 3/],
    [['user', 'set', 'alice', '--rename', 'x'.repeat(51)], /exit 2.*50/],
    [['user', 'set', 'alice', '--rename', 'has space'], /exit 2/],
    [['user', 'set', 'alice', '--full-name', 'x'.repeat(101)], /exit 2.*100/],
    [['user', 'set', 'alice', '--full-name', '  '], /exit 2.*empty/],
    [['user', 'set', 'alice', '--email', 'nope'], /exit 2.*not an email/],
    [['user', 'import', 'users.txt'], /exit 2.*Cannot tell the format/],
    [['user', 'import', 'u.csv', '--generate-passwords', '--no-password'], /exit 2.*contradict/],
    [['user', 'import', 'u.csv', '--passwords-out', 'p.csv'], /exit 2.*--passwords-out/],
    [['user', 'export', '--all', '--inactive'], /exit 2.*contradict/],
    [['user', 'prefs', 'alice', 'set', 'theme'], /exit 2.*a key and a value/],
    [['sessions', 'list', '--limit', '0'], /USAGE \(exit 2\): --limit/],
    [['sessions', 'list', '--limit', '1e3'], /USAGE \(exit 2\): --limit/],
    [['sessions', 'list', '--expired', '--all'], /exit 2/],
    [['sessions', 'revoke'], /USAGE \(exit 2\): Nothing to revoke/],
    [['sessions', 'revoke', '3', '--all'], /USAGE \(exit 2\): Choose one target/],
    [['sessions', 'revoke', '0'], /exit 2/],
    [['sessions', 'revoke', '3', '--type', 'access'], /exit 2.*--type narrows/],
    [['sessions', 'purge', '--grace', 'soon'], /USAGE \(exit 2\): --grace/],
    [['sessions', 'purge', '--grace', '3651d'], /USAGE \(exit 2\): --grace/],
    [['sessions', 'purge', '--batch-size', '0'], /USAGE \(exit 2\): --batch-size/],
    [['sessions', 'purge', '--max-lock', '60001'], /USAGE \(exit 2\): --max-lock/],
    [['init-db', '--admin-username', 'has space'], /exit 2/],
    [['gpustack', 'sync', '--max-disable', 'abc'], /exit 2/],
    [['gpustack', 'sync', '--max-disable', '101%'], /exit 2/],
    [['gpustack', 'check', '--url', 'ftp://gpustack.example'], /exit 2/],
    [['audit', '--limit', '0'], /USAGE \(exit 2\): --limit/],
    [['audit', '--since', 'last week'], /USAGE \(exit 2\): --since: "last week" is neither a duration nor a date/],
    [['audit', '--until', '2026-13-01'], /USAGE \(exit 2\): --until/],
    [['audit', '--until', '2026-11-30T25:00'], /USAGE \(exit 2\): --until/],
    [['audit', '--since', '3651d'], /USAGE \(exit 2\): --since: "3651d" is longer than 3650d/],
    [['audit', '--since', '2026-12-01', '--until', '2026-11-30'], /USAGE \(exit 2\): --since .* is not before --until/],
    [['audit', '--command', ''], /USAGE \(exit 2\): --command needs a name/],
    [['sessions', 'list', '--since', '7 days'], /USAGE \(exit 2\): --since/],
    [['sessions', 'list', '--ip', ' '], /USAGE \(exit 2\): --ip needs an address/],
    [['user', 'list', '--limit', '-1'], /USAGE \(exit 2\): --limit/],
  ])('%j is refused by the command\'s parse step', async (argv, message) => {
    expect(await parseError(argv as string[])).toMatch(message);
  });

  it.each([
    [['frobnicate'], 'commander.unknownCommand'],
    [['user', 'list', '--bogus'], 'commander.unknownOption'],
    [['user', 'list', '--', '--json'], 'commander.excessArguments'],
    [['user', 'add'], 'commander.missingArgument'],
    [['user', 'import'], 'commander.missingArgument'],
    [['user', 'import', 'u.csv', '--password', 'hunter2'], 'commander.unknownOption'],
    [['init-db', '--admin-username'], 'commander.optionMissingArgument'],
    [['user', 'reset', 'alice', 'extra'], 'commander.excessArguments'],
    [['sessions', 'list', '--type', 'id_token'], 'commander.invalidArgument'],
    [['completion', 'tcsh'], 'commander.invalidArgument'],
    [['user', 'import', 'u.csv', '--format', 'xml'], 'commander.invalidArgument'],
    [['user', 'import', 'u.csv', '--on-conflict', 'merge'], 'commander.invalidArgument'],
    [['user', 'export', '--format', 'yaml'], 'commander.invalidArgument'],
    [['audit', '--format', 'xml'], 'commander.invalidArgument'],
    [['user', 'delete'], 'commander.missingArgument'],
    [['user', 'set', 'alice', '--email'], 'commander.optionMissingArgument'],
  ])('%j is a usage error (%s)', async (argv, code) => {
    expect(await parseError(argv as string[])).toBe(code);
  });

  it('never accepts a password or token as an option value', async () => {
    expect(await parseError(['user', 'add', 'alice', '--password', 'hunter2'])).toBe('commander.unknownOption');
    expect(await parseError(['gpustack', 'sync', '--token', 'abc'])).toBe('commander.unknownOption');
  });
});
