import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, tempDir } from '../support/cli.js';

/**
 * The layering rules (test/arch/.dependency-cruiser.cjs, run on the compiled
 * dist/) and dead-code rules (test/arch/knip.jsonc) hold for the program as
 * built, and each of them fails on a copy of the tree broken on purpose.
 */

const DEPCRUISE = path.join(ROOT, 'node_modules', 'dependency-cruiser', 'bin', 'dependency-cruise.mjs');
const KNIP = path.join(ROOT, 'node_modules', 'knip', 'bin', 'knip.js');
const TSC = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

function run(cwd: string, script: string, args: string[]) {
  const r = spawnSync(process.execPath, [script, ...args], { cwd, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' } });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

const depcruise = (cwd: string) => run(cwd, DEPCRUISE, ['dist', '--config', 'test/arch/.dependency-cruiser.cjs', '--output-type', 'err']);
const knip = (cwd: string) => run(cwd, KNIP, ['--config', 'test/arch/knip.jsonc', '--no-progress']);

interface Violation {
  rule: { name: string };
  from: string;
  to: string;
  cycle?: Array<{ name: string }>;
}

describe('architecture', () => {
  it('dist/ keeps the layering rules and has no import cycles', () => {
    const r = depcruise(ROOT);
    expect(r.code, r.out).toBe(0);
  });

  it('knip finds no unused files, exports or dependencies', () => {
    const r = knip(ROOT);
    expect(r.code, r.out).toBe(0);
  });

  describe('on a copy of the tree broken on purpose', () => {
    /** The source, tests and config, compiled afresh into the copy's own dist/. */
    function brokenCopy(edits: Record<string, string>): string {
      const copy = tempDir('authctl-arch-');
      for (const entry of ['src', 'test', 'prisma', 'package.json', 'tsconfig.json']) {
        fs.cpSync(path.join(ROOT, entry), path.join(copy, entry), { recursive: true });
      }
      fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(copy, 'node_modules'), 'dir');
      for (const [file, text] of Object.entries(edits)) fs.appendFileSync(path.join(copy, file), text);
      const built = run(copy, TSC, ['-p', '.']);
      expect(built.code, built.out).toBe(0);
      return copy;
    }

    it('dependency-cruiser names each broken rule and the file that broke it', () => {
      const copy = brokenCopy({
        'src/core/time/timestamps.ts': "\nimport 'chalk';\nimport '../../terminal/output.js';\n",
        'src/commands/user/list.ts': "\nimport 'pg';\n",
        // config.ts is imported, through the commands, by cli.ts.
        'src/core/config/config.ts': "\nimport '../../cli.js';\n",
      });
      // The JSON report lists every violation (its exit code is 0; the err report's below is not).
      const r = run(copy, DEPCRUISE, ['dist', '--config', 'test/arch/.dependency-cruiser.cjs', '--output-type', 'json']);
      const violations: Violation[] = JSON.parse(r.out.slice(r.out.indexOf('{'))).summary.violations;
      const found = (rule: string, from: string, to: RegExp) => violations.some((v) => v.rule.name === rule && v.from === from && to.test(v.to));
      expect(found('core-no-terminal-libs', 'dist/core/time/timestamps.js', /(^|\/)node_modules\/chalk\//), JSON.stringify(violations)).toBe(true);
      expect(found('core-no-commands-or-terminal', 'dist/core/time/timestamps.js', /^dist\/terminal\/output\.js$/)).toBe(true);
      expect(found('commands-no-drivers', 'dist/commands/user/list.js', /(^|\/)node_modules\/pg\//)).toBe(true);
      expect(
        violations.some((v) => v.rule.name === 'no-cycles' && [v.from, ...(v.cycle ?? []).map((c) => c.name)].includes('dist/core/config/config.js') && [v.to, ...(v.cycle ?? []).map((c) => c.name)].includes('dist/cli.js')),
      ).toBe(true);
      // The human report, as `npm test` prints it, names the rules too.
      const err = depcruise(copy);
      expect(err.code).not.toBe(0);
      for (const rule of ['core-no-terminal-libs', 'core-no-commands-or-terminal', 'commands-no-drivers', 'no-cycles']) expect(err.out).toContain(`error ${rule}:`);
    }, 120_000);

    it('knip names an unused export and an unused file', () => {
      const copy = brokenCopy({ 'src/core/time/timestamps.ts': '\nexport const UNUSED_PROBE = 1;\n' });
      fs.writeFileSync(path.join(copy, 'src/core/time/orphan.ts'), 'export const ORPHAN = 1;\n');
      const r = knip(copy);
      expect(r.code).not.toBe(0);
      expect(r.out).toMatch(/Unused files[\s\S]*src\/core\/time\/orphan\.ts/);
      expect(r.out).toMatch(/Unused exports[\s\S]*UNUSED_PROBE\s+src\/core\/time\/timestamps\.ts/);
    }, 120_000);
  });
});
