import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseDatabaseUrl, redactUrl, resolveConfig } from '../../src/core/config/config.js';
import { tempDir } from '../support/cli.js';

describe('parseDatabaseUrl', () => {
  const cwd = '/srv/app';
  it.each([
    ['sqlite:///./gpustack_ui.db', '/srv/app/gpustack_ui.db'],
    ['sqlite+aiosqlite:///./data/ui.db', '/srv/app/data/ui.db'],
    ['sqlite:///ui.db', '/srv/app/ui.db'],
    ['sqlite:////var/lib/ui.db', '/var/lib/ui.db'],
    ['file:./x.db', '/srv/app/x.db'],
    ['file:/abs/x.db', '/abs/x.db'],
  ])('%s is the SQLite file %s', (url, file) => {
    const t = parseDatabaseUrl(url, cwd);
    expect(t).toMatchObject({ provider: 'sqlite', file });
  });

  it.each(['postgresql://u:secret@db:5432/ui', 'postgres://u:secret@db/ui', 'postgresql+asyncpg://u:secret@db/ui'])(
    '%s is PostgreSQL and its password never shows',
    (url) => {
      const t = parseDatabaseUrl(url, cwd);
      expect(t.provider).toBe('postgresql');
      expect(t.display).not.toContain('secret');
      if (t.provider === 'postgresql') expect(t.url.startsWith('postgresql://')).toBe(true);
    },
  );

  it.each(['mysql://x/y', 'gpustack_ui.db', 'sqlite://', 'sqlite:///:memory:', 'sqlite+aiosqlite:////var/lib/ui.db?timeout=5'])('refuses %s as a usage error', (url) => {
    expect(() => parseDatabaseUrl(url, cwd)).toThrow(expect.objectContaining({ exitCode: 2 }));
  });

  it('redacts passwords', () => {
    expect(redactUrl('postgresql://admin:hunter2@db/ui')).toBe('postgresql://admin:***@db/ui');
  });
});

describe('resolveConfig precedence', () => {
  it('flag beats environment beats .env beats the default', () => {
    const cwd = tempDir();
    fs.writeFileSync(path.join(cwd, '.env'), 'DATABASE_URL=sqlite:///./from-dotenv.db\n');
    expect(resolveConfig({}, {}, cwd).database).toMatchObject({ file: path.join(cwd, 'from-dotenv.db') });
    expect(resolveConfig({}, { DATABASE_URL: 'sqlite:///./from-env.db' }, cwd).database).toMatchObject({ file: path.join(cwd, 'from-env.db') });
    expect(resolveConfig({ databaseUrl: 'file:./from-flag.db' }, { DATABASE_URL: 'sqlite:///./from-env.db' }, cwd).database).toMatchObject({
      file: path.join(cwd, 'from-flag.db'),
    });
    fs.rmSync(path.join(cwd, '.env'));
    expect(resolveConfig({}, {}, cwd).database).toMatchObject({ file: path.join(cwd, 'gpustack_ui.db') });
  });
});
