import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CpuWaitClock } from '../../src/core/sessions/purge/cpu-wait.js';
import { tempDir } from '../support/cli.js';

function statFile(text: string): string {
  const file = path.join(tempDir(), 'schedstat');
  fs.writeFileSync(file, text);
  return file;
}

describe('the wait-for-a-core clock', () => {
  it('reads the second schedstat field, in ms, afresh on every reading', () => {
    const file = statFile('70506213 2500000 14\n');
    const clock = new CpuWaitClock(file);
    expect(clock.waitedMs()).toBe(2.5);
    const mark = clock.waitedMs();
    // The kernel rewrites the figures in place; the clock rereads from the start.
    fs.writeFileSync(file, '90506213 9500000 20\n');
    expect(clock.waitedSince(mark)).toBe(7);
    clock.close();
    expect(clock.waitedMs()).toBeUndefined();
  });

  it('reports nothing, and no wait, where the figures cannot be read', () => {
    for (const clock of [new CpuWaitClock(path.join(tempDir(), 'missing')), new CpuWaitClock(statFile('not numbers\n'))]) {
      expect(clock.waitedMs()).toBeUndefined();
      expect(clock.waitedSince(clock.waitedMs())).toBe(0);
      expect(clock.waitedSince(5)).toBe(0);
      clock.close();
    }
  });

  it.runIf(process.platform === 'linux')("reads this thread's own figures on Linux", () => {
    const clock = new CpuWaitClock();
    const first = clock.waitedMs();
    expect(first).toBeGreaterThanOrEqual(0);
    expect(clock.waitedSince(first)).toBeGreaterThanOrEqual(0);
    clock.close();
  });
});
