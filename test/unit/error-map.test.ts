import { describe, expect, it } from 'vitest';
import { AuthctlError } from '../../src/core/errors/errors.js';
import { toAuthctlError } from '../../src/core/errors/map.js';
import { MigrationEngineError } from '../../src/core/db/engine.js';

// The database-state codes (read-only, corrupt, full, ...) are covered in hardening-config.test.ts.
describe('toAuthctlError', () => {
  it('passes an AuthctlError through as it is', () => {
    const err = new AuthctlError('USER_NOT_FOUND', 'No user "x".', 3, 'List users.');
    expect(toAuthctlError(err)).toBe(err);
  });

  it('maps a prompt closed with Ctrl+C to cancelled, exit 130', () => {
    for (const name of ['ExitPromptError', 'AbortPromptError']) {
      expect(toAuthctlError(Object.assign(new Error('User force closed the prompt'), { name })), name).toMatchObject({ code: 'CANCELLED', exitCode: 130 });
    }
  });

  it('maps a unique-constraint failure to ALREADY_EXISTS, exit 4', () => {
    expect(toAuthctlError(Object.assign(new Error('Unique constraint failed on the fields: (`username`)'), { code: 'P2002' }))).toMatchObject({ code: 'ALREADY_EXISTS', exitCode: 4 });
    expect(toAuthctlError(new Error('UNIQUE constraint failed: users.email'))).toMatchObject({ code: 'ALREADY_EXISTS', exitCode: 4 });
  });

  it('maps a busy database or a pool timeout to DATABASE_LOCKED, exit 5', () => {
    for (const err of [
      Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' }),
      new Error('Invalid `prisma.user.update()` invocation:\n\nSQLITE_BUSY: database is locked'),
      Object.assign(new Error('Timed out fetching a new connection from the connection pool.'), { code: 'P2024' }),
      Object.assign(new Error('The database server did not answer in time.'), { code: 'P1008' }),
    ]) {
      expect(toAuthctlError(err), err.message).toMatchObject({ code: 'DATABASE_LOCKED', exitCode: 5 });
    }
  });

  it('maps a PostgreSQL connection failure to DATABASE_UNREACHABLE and a resource shortage to DATABASE_RESOURCES', () => {
    expect(toAuthctlError(Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01', severity: 'FATAL' }))).toMatchObject({ code: 'DATABASE_UNREACHABLE', exitCode: 5 });
    expect(toAuthctlError(Object.assign(new Error('connection failure'), { code: '08006', severity: 'FATAL' }))).toMatchObject({ code: 'DATABASE_UNREACHABLE', exitCode: 5 });
    expect(toAuthctlError(Object.assign(new Error('sorry, too many clients already'), { code: '53300', severity: 'FATAL' }))).toMatchObject({ code: 'DATABASE_RESOURCES', exitCode: 5 });
    // A five-character code that no driver set is not a SQLSTATE.
    expect(toAuthctlError(Object.assign(new Error('odd'), { code: '08006' }))).toMatchObject({ code: 'INTERNAL', exitCode: 1 });
  });

  it('maps missing tables to NOT_INITIALISED and other driver errors to DATABASE_ERROR, on one line', () => {
    expect(toAuthctlError(new Error('no such table: users'))).toMatchObject({ code: 'NOT_INITIALISED', exitCode: 5, hint: expect.stringContaining('authctl migrate') });
    expect(toAuthctlError(new Error('relation "users" does not exist'))).toMatchObject({ code: 'NOT_INITIALISED', exitCode: 5 });
    const mapped = toAuthctlError(Object.assign(new Error('Invalid `prisma.user.findMany()` invocation:\n\n  something odd\n  happened'), { code: 'SQLITE_MISMATCH' }));
    expect(mapped).toMatchObject({ code: 'DATABASE_ERROR', exitCode: 5 });
    expect(mapped.message).toBe('Database error: something odd happened');
  });

  it('maps anything else to INTERNAL, exit 1, and keeps passwords out of the message', () => {
    const mapped = toAuthctlError(new TypeError('cannot read postgresql://authctl:s3cret-pass@db.internal:5432/app'));
    expect(mapped).toMatchObject({ code: 'INTERNAL', exitCode: 1 });
    expect(mapped.message).toMatch(/^Unexpected error: /);
    expect(mapped.message).not.toContain('s3cret-pass');
    expect(toAuthctlError('a thrown string')).toMatchObject({ code: 'INTERNAL', message: 'Unexpected error: a thrown string' });
  });

  describe('a failure inside Prisma\'s schema engine', () => {
    // What the engine's wasm build says when the SQLite adapter reports a busy database.
    const decodeFailure =
      'Error in the underlying connector (WASM_ERROR): Error: unknown variant `SocketTimeout`, expected one of `GenericJs`, `sqlite`\\n    at __wbg_Error_e83987f665cf5504 (file:///srv/authctl/node_modules/@prisma/schema-engine-wasm/schema_engine_bg.js:430:17)\\n    at wasm://wasm/0149f3a6:wasm-function[7042]:0x476fcf\n   0: sql_schema_connector::sql_migration_persistence::initialize';
    const busy = Object.assign(new Error('SocketTimeout'), { name: 'DriverAdapterError', cause: { kind: 'SocketTimeout', originalCode: 'SQLITE_BUSY', originalMessage: 'database is locked' } });

    it('is mapped by the driver error that caused it, naming the backup only when this run made one', () => {
      const withoutBackup = toAuthctlError(new MigrationEngineError(decodeFailure, 'sqlite', busy));
      expect(withoutBackup).toMatchObject({ code: 'DATABASE_LOCKED', exitCode: 5, message: 'The database stayed locked by another writer for too long.' });
      expect(withoutBackup.hint).not.toMatch(/bak|backed up/);
      const failure = new MigrationEngineError(decodeFailure, 'sqlite', busy);
      failure.backup = '/srv/gpustack_ui.db.bak-20261201-120000';
      expect(toAuthctlError(failure).hint).toMatch(/backed up to \/srv\/gpustack_ui\.db\.bak-20261201-120000 before this run/);
    });

    it('without a driver error says what the engine said, without its stack frames or file paths', () => {
      const mapped = toAuthctlError(new MigrationEngineError(decodeFailure, 'sqlite', undefined));
      expect(mapped).toMatchObject({ code: 'MIGRATION_FAILED', exitCode: 5 });
      expect(mapped.message).toBe('Applying migrations failed: Error in the underlying connector (WASM_ERROR): Error: unknown variant `SocketTimeout`, expected one of `GenericJs`, `sqlite`');
      expect(mapped.hint).toBe('Migrations applied before the failed one stay applied. Fix the cause, then run `authctl migrate` again.');
      const script = new MigrationEngineError('Migration failed', 'postgresql', Object.assign(new Error('syntax error at or near "TABLEX"'), { name: 'DriverAdapterError', cause: { kind: 'postgres', code: '42601', message: 'syntax error at or near "TABLEX"' } }));
      expect(toAuthctlError(script)).toMatchObject({ code: 'MIGRATION_FAILED', message: 'Applying migrations failed: syntax error at or near "TABLEX"' });
    });
  });
});
