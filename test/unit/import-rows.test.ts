import { describe, expect, it } from 'vitest';
import { AuthctlError } from '../../src/core/errors/errors.js';
import { readRecords, validateRecords } from '../../src/core/users/import-rows.js';

const HASH = '$2b$12$' + 'a'.repeat(53);

/** The details of the usage error a step fails with. */
function failure(fn: () => unknown): { exitCode: number; message: string; details: string[] } {
  try {
    fn();
  } catch (err) {
    if (err instanceof AuthctlError) return { exitCode: err.exitCode, message: err.message, details: err.details ?? [] };
    throw err;
  }
  throw new Error('did not fail');
}

const rows = (csv: string, allowWeakPassword = false) => validateRecords(readRecords(csv, 'csv', 'f.csv'), { allowWeakPassword }, 'f.csv');

describe('import rows: reading', () => {
  it('reads a BOM, CRLF, quoted commas, quotes and line breaks, with the line each record starts on', () => {
    const text = '\uFEFFusername,full_name,email\r\nalice,"Chen, ""Al""",\r\nbob,"two\r\nlines",b@example.com\r\n\r\ncarol,C,\r\n';
    const records = readRecords(text, 'csv', 'f.csv');
    expect(records.map((r) => r.line)).toEqual([2, 3, 6]);
    expect(records[0]!.fields).toEqual({ username: 'alice', full_name: 'Chen, "Al"', email: '' });
    expect(records[1]!.fields.full_name).toBe('two\nlines');
  });

  it('refuses an empty NDJSON text as an empty CSV is refused (exit 2), but takes an explicit empty JSON array', () => {
    for (const text of ['', '\n\n', '\uFEFF']) {
      expect(failure(() => readRecords(text, 'ndjson', 'stdin')).message).toBe('stdin is empty: no JSON lines.');
    }
    expect(failure(() => readRecords('', 'csv', 'stdin')).exitCode).toBe(2);
    expect(readRecords('[]', 'json', 'stdin')).toEqual([]);
  });

  it('reports an unclosed quote with its line, and an unknown header column', () => {
    expect(failure(() => readRecords('username\nalice\n"bob\n', 'csv', 'f.csv')).message).toMatch(/not valid CSV at line 3/);
    expect(failure(() => readRecords('username,role\nalice,x\n', 'csv', 'f.csv')).message).toMatch(/unknown column\(s\) "role"/);
    expect(failure(() => readRecords('email\na@example.com\n', 'csv', 'f.csv')).message).toMatch(/no username column/);
  });

  it('says where a file is malformed without quoting it: the text around the error may be a password', () => {
    const secret = 'SuperSecretPw1';
    const problems = [
      failure(() => readRecords(`username,password\nzed,Sup"er${secret}\n`, 'csv', 'f.csv')).message,
      failure(() => readRecords(`username,password\nzed,"${secret}"x\n`, 'csv', 'f.csv')).message,
      failure(() => readRecords(`[{"username":"zed","password":"${secret}"},]`, 'json', 'f.json')).message,
      failure(() => readRecords(`[{"username":"zed","password":"${secret}" x}]`, 'json', 'f.json')).message,
      readRecords(`{"username":"zed","password":"${secret}" x}\n`, 'ndjson', 'f.ndjson')[0]!.problem!,
    ];
    expect(problems[0]).toMatch(/not valid CSV at line 2: a quote inside a field/);
    expect(problems[1]).toMatch(/not valid CSV at line 2: text right after the closing quote/);
    expect(problems[3]).toMatch(/not valid JSON at line 1, column \d+/);
    expect(problems[4]).toMatch(/^not valid JSON at line 1, column \d+$/);
    for (const problem of problems) {
      expect(problem).not.toMatch(/Secret|cretPw|Pw1|"x"|Sup"/);
    }
  });

  it('reads JSON arrays and NDJSON, numbering NDJSON by line', () => {
    expect(readRecords('[{"username":"a"},{"username":"b"}]', 'json', 'f').map((r) => r.line)).toEqual([1, 2]);
    expect(readRecords('{"username":"a"}\n\n{"username":"b"}\n', 'ndjson', 'f').map((r) => r.line)).toEqual([1, 3]);
    expect(failure(() => readRecords('{"username":"a"}', 'json', 'f')).message).toMatch(/not a JSON array/);
  });
});

describe('import rows: validation', () => {
  it('takes booleans as true/false, 1/0, yes/no, and leaves empty fields out', () => {
    const [a, b, c] = rows(`username,is_admin,is_active,email,password_hash\na,yes,0,,${HASH}\nb,FALSE,1,b@example.com,\nc,,,,\n`);
    expect(a).toEqual({ line: 2, username: 'a', email: null, fullName: undefined, isAdmin: true, isActive: false, password: { hash: HASH } });
    expect(b).toMatchObject({ isAdmin: false, isActive: true, email: 'b@example.com', password: undefined });
    expect(c).toMatchObject({ isAdmin: undefined, isActive: undefined });
  });

  it('reports every bad row with its line number, and each problem of a row', () => {
    const csv = [
      'username,email,full_name,is_admin,password_hash,password',
      'good,g@example.com,Good,no,,',
      'bad name,not-an-email,,maybe,,',
      'x' .repeat(51) + ',,,,,',
      `two,,,,${HASH},also a password`,
      'hash,,,,$2b$12$tooshort,',
      'weak,,,,,weak',
      'good,g@example.com,,,,',
      'ctl,,"a\u001bb",,,',
      `${'y'},"a,b",,,,`,
    ].join('\n');
    const f = failure(() => rows(csv));
    expect(f.exitCode).toBe(2);
    expect(f.message).toMatch(/^8 rows of f.csv cannot be imported; nothing was written/);
    const byLine = Object.fromEntries(f.details.map((d) => [Number(/^line (\d+)/.exec(d)![1]), d]));
    expect(Object.keys(byLine).map(Number)).toEqual([3, 4, 5, 6, 7, 8, 9, 10]);
    expect(byLine[3]).toMatch(/"bad name" has a space character \(U\+0020\).*not an email.*is_admin must be/);
    expect(byLine[4]).toMatch(/51 characters long/);
    expect(byLine[5]).toMatch(/not both/);
    expect(byLine[6]).toMatch(/not a well-formed bcrypt hash/);
    expect(byLine[7]).toMatch(/refused/);
    expect(byLine[8]).toMatch(/username "good" is also on line 2.*email g@example.com is also on line 2/);
    expect(byLine[9]).toMatch(/control characters/);
    expect(byLine[10]).toMatch(/not an email/);
  });

  it('accepts a weak plaintext password with --allow-weak-password, and never echoes a password', () => {
    expect(rows('username,password\nweak,weak\n', true)[0]!.password).toEqual({ plain: 'weak' });
    const f = failure(() => validateRecords([{ line: 1, fields: { username: 'a', password: 123456789 } }], { allowWeakPassword: false }, 'f'));
    expect(f.details.join('\n')).not.toContain('123456789');
  });

  it('takes $2a$, $2b$ and $2y$ hashes as they are', () => {
    for (const prefix of ['$2a$', '$2b$', '$2y$']) {
      const hash = `${prefix}10$${'./A9'.repeat(13)}z`;
      expect(rows(`username,password_hash\nu,${hash}\n`)[0]!.password).toEqual({ hash });
    }
    expect(failure(() => rows(`username,password_hash\nu,$2x$10$${'a'.repeat(53)}\n`)).details[0]).toMatch(/bcrypt/);
  });
});
