import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ROOT, tempDir } from '../support/cli.js';

// Two processes that ask for the same job lock at the same moment, as two
// cron entries firing together would. Each spins until a shared start time,
// then takes the lock with no wait, holds it briefly and lets go.
const RACER = String.raw`
const [moduleUrl, file, at] = process.argv.slice(2);
const { acquireJobLock } = await import(moduleUrl);
while (Date.now() < Number(at)) {}
try {
  const lock = await acquireJobLock({ provider: 'sqlite', file }, 'purge', 0);
  await new Promise((resolve) => setTimeout(resolve, 600));
  await lock.release();
  console.log('ran');
} catch (err) {
  console.log(err.code === 'BUSY' ? 'busy' : 'error: ' + err.message);
}
`;

function race(script: string, file: string, at: number): Promise<string> {
  const moduleUrl = pathToFileURL(path.join(ROOT, 'dist', 'core', 'locks', 'job-lock.js')).href;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, moduleUrl, file, String(at)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('close', () => resolve(out.trim()));
  });
}

describe('the job lock', () => {
  it('lets exactly one of two runs that start at the same moment run, every time', async () => {
    const dir = tempDir();
    const script = path.join(dir, 'racer.mjs');
    fs.writeFileSync(script, RACER);
    const file = path.join(dir, 'app.db');
    const outcomes: string[] = [];
    for (let pair = 0; pair < 12; pair++) {
      // Far enough ahead for both processes to have started and loaded the module.
      const at = Date.now() + 600;
      const results = await Promise.all([race(script, file, at), race(script, file, at)]);
      outcomes.push(results.sort().join(' + '));
    }
    // Before the fix both exited busy in 6 of 20 such pairs.
    expect(outcomes).toEqual(Array(12).fill('busy + ran'));
    expect(fs.readdirSync(dir).filter((f) => f.includes('.lock'))).toEqual([]);
  }, 60_000);

  it('is one lock for one file, however the path reaches it (a symlink, a relative path)', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'app.db');
    fs.writeFileSync(file, '');
    fs.symlinkSync(file, path.join(dir, 'link.db'));
    const { acquireJobLock } = (await import(pathToFileURL(path.join(ROOT, 'dist', 'core', 'locks', 'job-lock.js')).href)) as typeof import('../../src/core/locks/job-lock.js');
    const target = (at: string) => ({ provider: 'sqlite' as const, file: at, url: `sqlite:///${at}`, display: at });
    const held = await acquireJobLock(target(file), 'purge', 0);
    try {
      for (const other of [path.join(dir, 'link.db'), path.relative(process.cwd(), file)]) {
        await expect(acquireJobLock(target(other), 'purge', 0)).rejects.toMatchObject({ code: 'BUSY' });
      }
    } finally {
      await held.release();
    }
    const again = await acquireJobLock(target(path.join(dir, 'link.db')), 'purge', 0);
    await again.release();
    // A file not created yet (init-db), reached through a linked folder and directly.
    fs.symlinkSync(dir, path.join(dir, 'folder-link'));
    const creating = await acquireJobLock(target(path.join(dir, 'folder-link', 'new.db')), 'migrate', 0);
    try {
      await expect(acquireJobLock(target(path.join(dir, 'new.db')), 'migrate', 0)).rejects.toMatchObject({ code: 'BUSY' });
    } finally {
      await creating.release();
    }
    expect(fs.readdirSync(dir).sort()).toEqual(['app.db', 'folder-link', 'link.db']);
  });
});
