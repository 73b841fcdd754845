import { describe, expect, it } from 'vitest';
import { statusFrom, type AppliedMigration, type Migration } from '../../src/core/db/migrations.js';

const migrations: Migration[] = [
  { name: '001_base', script: 'CREATE TABLE a (x INT);', checksum: 'c1' },
  { name: '002_audit', script: 'CREATE TABLE b (y INT);', checksum: 'c2' },
];
const applied = (name: string, more: Partial<AppliedMigration> = {}): AppliedMigration => ({ name, checksum: name === '001_base' ? 'c1' : 'c2', finished: true, rolledBack: false, ...more });
const managed = (...rows: AppliedMigration[]) => ({ kind: 'managed' as const, applied: rows });

describe('statusFrom', () => {
  it('is up to date when every migration is applied, unchanged, and nothing drifted', () => {
    expect(statusFrom(managed(applied('001_base'), applied('002_audit')), migrations)).toEqual({
      state: 'managed', applied: ['001_base', '002_audit'], pending: [], unknown: [], edited: [], failed: [], drift: [], appTables: [], upToDate: true,
    });
  });

  it('lists what is pending, in migration order', () => {
    const s = statusFrom(managed(applied('001_base')), migrations);
    expect(s).toMatchObject({ applied: ['001_base'], pending: ['002_audit'], upToDate: false });
  });

  it('tells a migration it does not have, one edited since, and one that never finished', () => {
    const s = statusFrom(managed(applied('001_base', { checksum: 'changed' }), applied('002_audit', { finished: false }), applied('003_future')), migrations);
    expect(s).toMatchObject({ applied: ['001_base'], pending: ['002_audit'], unknown: ['003_future'], edited: ['001_base'], failed: ['002_audit'], upToDate: false });
  });

  it('ignores rolled-back attempts', () => {
    const s = statusFrom(managed(applied('001_base'), applied('002_audit', { finished: false, rolledBack: true }), applied('002_audit')), migrations);
    expect(s).toMatchObject({ failed: [], pending: [], upToDate: true });
  });

  it('is not up to date while the schema drifted, and reports the app tables it found', () => {
    const s = statusFrom(managed(applied('001_base'), applied('002_audit')), migrations, { drift: ['users: missing index ix_users_email'], appTables: ['conversations'] });
    expect(s).toMatchObject({ drift: ['users: missing index ix_users_email'], appTables: ['conversations'], upToDate: false });
  });

  it('has everything pending on an empty or app-made database, with the app tables of the latter', () => {
    expect(statusFrom({ kind: 'empty' }, migrations)).toMatchObject({ state: 'empty', applied: [], pending: ['001_base', '002_audit'], upToDate: false });
    const app = statusFrom({ kind: 'app-unmanaged', appTables: ['users', 'user_sessions'] }, migrations, { drift: [], appTables: ['ignored'] });
    expect(app).toMatchObject({ state: 'app-unmanaged', pending: ['001_base', '002_audit'], appTables: ['users', 'user_sessions'], upToDate: false });
    expect(statusFrom({ kind: 'unknown', problems: ['no users table'] }, migrations)).toMatchObject({ state: 'unknown', upToDate: false });
  });
});
