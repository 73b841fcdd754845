import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/cli.js';
import { ExitCode } from '../../src/core/errors/errors.js';
import { ROOT, runCli, tempDir } from '../support/cli.js';

/** Every command line of the tree, from the commander commands themselves: [] is the root. */
function commandPaths(cmd: Command = buildProgram(), prefix: string[] = []): string[][] {
  return [prefix, ...cmd.commands.flatMap((sub) => commandPaths(sub, [...prefix, sub.name()]))];
}

const widest = (text: string) => Math.max(...text.split('\n').map((line) => line.length));

/** Runs several CLI invocations at a time, keeping the order of their results. */
async function runAll(argvs: string[][], cwd: string) {
  const results: Awaited<ReturnType<typeof runCli>>[] = [];
  for (let i = 0; i < argvs.length; i += 4) results.push(...(await Promise.all(argvs.slice(i, i + 4).map((argv) => runCli(argv, { cwd })))));
  return results;
}

describe('help', () => {
  it('every command has an Examples section, fits 80 columns when piped, and lists the global options once', async () => {
    const cwd = tempDir();
    const paths = commandPaths();
    expect(paths.length).toBeGreaterThan(20);
    const results = await runAll(paths.map((p) => [...p, '--help']), cwd);
    paths.forEach((p, i) => {
      const { code, stdout, stderr } = results[i];
      const where = `authctl ${p.join(' ')} --help`;
      expect(code, where).toBe(0);
      expect(stderr, where).toBe('');
      expect(widest(stdout), where).toBeLessThanOrEqual(80);
      // One -h wording, one default wording.
      expect(stdout.match(/-h, --help +(.*)/)?.[1], where).toBe('display help for command');
      for (const m of stdout.replace(/\s+/g, ' ').matchAll(/(?:\(|; )default\b(.?.?)/g)) expect(m[1], `${where}: "default${m[1]}"`).toBe(': ');
      // The global options: listed under their heading on the root, pointed to in one line elsewhere.
      expect(stdout.match(/^Global options:/gm), where).toHaveLength(1);
      expect(stdout.match(/--database-url/g)?.length ?? 0, where).toBe(p.length === 0 ? 1 : 0);
      if (p.length === 0) {
        expect(stdout).toMatch(/^Global options:\n(  .*\n)*  -d, --database-url <url>/m);
        expect(stdout).toMatch(/help exit-codes/);
        expect(stdout).toMatch(/README/);
      } else {
        expect(stdout, where).toMatch(/^Global options: -d, --json, --no-color, -q, -y, --debug \(see `authctl --help`\)$/m);
        expect(stdout, where).toMatch(new RegExp(`^Examples:\\n  \\$ .*authctl ${p[0]}`, 'm'));
      }
    });
    expect(fs.readdirSync(cwd)).toEqual([]);
  });

  it('`help <group> <command>` shows that command\'s help, the same as --help', async () => {
    const cwd = tempDir();
    const [viaHelp, viaFlag, group] = await runAll([['help', 'user', 'add'], ['user', 'add', '--help'], ['help', 'user']], cwd);
    expect(viaHelp.code).toBe(0);
    expect(viaHelp.stdout).toMatch(/^Usage: authctl user add \[options\] <username>/);
    expect(viaHelp.stdout).toBe(viaFlag.stdout);
    expect(group.stdout).toMatch(/^Usage: authctl user \[options\] \[command\]/);
  });

  it('`help` of a command that does not exist is a usage error with a suggestion', async () => {
    const cwd = tempDir();
    const [typo, json] = await runAll([['help', 'user', 'ad'], ['help', 'sesions', '--json']], cwd);
    expect(typo.code).toBe(ExitCode.usage);
    expect(typo.stderr).toMatch(/unknown command 'ad' for 'authctl user' \(Did you mean add\?\)/);
    expect(typo.stdout).toBe('');
    expect(json.code).toBe(ExitCode.usage);
    expect(JSON.parse(json.stderr)).toMatchObject({ error: { code: 'USAGE', exitCode: 2, message: expect.stringMatching(/Did you mean sessions\?/) } });
  });

  it('a mistyped subcommand suggests the right one, exit 2, and touches no database', async () => {
    const cwd = tempDir();
    const [migrate, user, json] = await runAll([['migrate', 'stauts'], ['user', 'lst'], ['migrate', 'stauts', '--json']], cwd);
    expect(migrate.code).toBe(ExitCode.usage);
    expect(migrate.stderr).toMatch(/unknown command 'stauts' for 'authctl migrate' \(Did you mean status\?\)/);
    expect(migrate.stderr).toMatch(/authctl migrate --help/);
    expect(user.code).toBe(ExitCode.usage);
    expect(user.stderr).toMatch(/Did you mean list\?/);
    expect(JSON.parse(json.stderr)).toMatchObject({ error: { code: 'USAGE', exitCode: 2 } });
    expect(fs.readdirSync(cwd)).toEqual([]);
  });

  it('bare `authctl` and bare `authctl <group>` behave the same: help on stderr, exit 2', async () => {
    const cwd = tempDir();
    const [bare, group] = await runAll([[], ['user']], cwd);
    for (const r of [bare, group]) {
      expect(r.code).toBe(ExitCode.usage);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(/^Usage: authctl/);
    }
    expect(group.stderr).toMatch(/^Commands:\n  add <username>/m);
    // Under --json, stderr holds one JSON error instead.
    const json = await runCli(['sessions', '--json'], { cwd });
    expect(json.code).toBe(ExitCode.usage);
    expect(JSON.parse(json.stderr)).toMatchObject({ error: { code: 'USAGE', exitCode: 2, hint: expect.stringMatching(/authctl sessions --help/) } });
  });

  it('`user prefs --help` documents its arguments and the keys the app knows', async () => {
    const r = await runCli(['user', 'prefs', '--help'], { cwd: tempDir() });
    expect(r.stdout).toMatch(/^Arguments:\n  username +the user/m);
    expect(r.stdout).toMatch(/action +list, get, set or unset \(default: list\)/);
    const flat = r.stdout.replace(/\s+/g, ' ');
    for (const key of ['theme', 'language', 'default_model', 'default_temperature', 'enable_web_search', 'default_search_engine']) expect(flat).toContain(key);
  });

  it('`help exit-codes` lists every exit code, and `help environment` every variable authctl reads', async () => {
    const cwd = tempDir();
    const [codes, environment, json] = await runAll([['help', 'exit-codes'], ['help', 'environment'], ['help', 'exit-codes', '--json']], cwd);
    expect(codes.code).toBe(0);
    for (const code of Object.values(ExitCode)) expect(codes.stdout).toMatch(new RegExp(`^ +${code} +\\S`, 'm'));
    expect(codes.stdout).toMatch(/README/);
    expect(widest(codes.stdout)).toBeLessThanOrEqual(80);
    expect(JSON.parse(json.stdout)).toMatchObject({ topic: 'exit-codes', help: expect.stringContaining('130') });
    // Variables the source reads: `env.NAME`, `env['NAME']`, and the AUTHCTL_ names it lists.
    const read = new Set<string>();
    const walk = (dir: string): void => {
      for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
        const file = path.join(dir, entry.name);
        if (entry.isDirectory()) {
          if (entry.name !== 'generated') walk(file);
        } else if (file.endsWith('.ts')) {
          const text = fs.readFileSync(file, 'utf8');
          for (const m of text.matchAll(/env(?:\.|\[['"])([A-Z][A-Z0-9_]+)/g)) read.add(m[1]);
          for (const m of text.matchAll(/['"](AUTHCTL_[A-Z0-9_]+)['"]/g)) read.add(m[1]);
        }
      }
    };
    walk(path.join(ROOT, 'src'));
    expect(read.size).toBeGreaterThan(8);
    for (const name of read) expect(environment.stdout, name).toMatch(new RegExp(`\\b${name}\\b`));
    expect(environment.stdout).toMatch(/GPUSTACK_SERVER_URL/);
    expect(environment.stdout).toMatch(/GPUSTACK_API_KEY/);
    expect(widest(environment.stdout)).toBeLessThanOrEqual(80);
  });

  it('an unknown option typed with a value (--token=…, -pSecret) is named without its value, also in --json', async () => {
    const dir = tempDir();
    const secret = 'gpustack_Sup3rSecretValue';
    const cases: Array<[string[], string]> = [
      [['gpustack', 'check', `--token=${secret}`], '--token'],
      [['user', 'add', 'bob', `--password=${secret}`, '--json'], '--password'],
      [['user', 'list', `-p${secret}`], '-p'],
      [['user', 'add', 'bob', `--passwd=it's-${secret}'x`], '--passwd'],
    ];
    for (const [argv, name] of cases) {
      const r = await runCli(argv, { cwd: dir });
      expect(r.code).toBe(ExitCode.usage);
      expect(r.stdout + r.stderr).not.toContain('Sup3rSecret');
      expect(r.stderr).toContain(`unknown option '${name}'`);
    }
    // Without a value, commander's own message and suggestion stay as they were.
    const typo = await runCli(['user', 'list', '--jsn'], { cwd: dir });
    expect(typo.code).toBe(ExitCode.usage);
    expect(typo.stderr).toContain("unknown option '--jsn' (Did you mean --json?)");
    // A real option that takes no value, given one: named as real, the value still not shown.
    for (const [argv, name] of [[['user', 'add', 'bob', `--admin=${secret}`], '--admin'], [['user', 'list', `--json=${secret}`], '--json']] as const) {
      const r = await runCli([...argv], { cwd: dir });
      expect(r.code).toBe(ExitCode.usage);
      expect(r.stderr).toContain(`option '${name}' takes no value (the value given is not shown)`);
      expect(r.stderr).not.toMatch(/unknown option|Did you mean/);
      expect(r.stdout + r.stderr).not.toContain('Sup3rSecret');
    }
    expect(fs.readdirSync(dir)).toEqual([]);
  });
});
