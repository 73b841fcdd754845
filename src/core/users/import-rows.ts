import { CsvError, parse } from 'csv-parse/sync';
import { AuthctlError, refused, usageError } from '../errors/errors.js';
import { checkNewPassword } from '../passwords/password.js';
import { decodeUtf8, readSourceFile } from '../passwords/source.js';
import { validateEmail, validateFullName, validateUsername } from './validate.js';

export type ImportFormat = 'csv' | 'json' | 'ndjson';

/** The columns of an import or export file, in export order. */
const USER_FILE_COLUMNS = ['username', 'email', 'full_name', 'is_admin', 'is_active', 'password_hash', 'password'] as const;

/** One record of an import file, before validation: where it starts, and its fields. */
export interface RawRecord {
  /** Line of the file where the record starts (CSV, NDJSON), or its position in a JSON array. */
  line: number;
  fields: Record<string, unknown>;
  /** Why the record cannot be read as a user at all (a wrong number of fields, not an object). */
  problem?: string;
}

/** A record that failed, with every reason. */
export interface RowError {
  line: number;
  problems: string[];
}

/** A valid row. A field left out (or empty) is undefined: a new user gets the default, an updated one keeps its value. */
export interface ImportRow {
  line: number;
  username: string;
  email?: string | null;
  fullName?: string;
  isAdmin?: boolean;
  isActive?: boolean;
  password?: { hash: string } | { plain: string };
}

function rowErrors(errors: RowError[], what: string): AuthctlError {
  return usageError(
    `${errors.length} ${errors.length === 1 ? 'row' : 'rows'} of ${what} cannot be imported; nothing was written:`,
    'Fix these rows and run the import again.',
  ).withDetails(errors.map((e) => `line ${e.line}: ${e.problems.join('; ')}`));
}

/** Reads the records of a CSV file (with a header), a JSON array or NDJSON. Malformed text fails with its line number (exit 2). */
export function readRecords(text: string, format: ImportFormat, what: string): RawRecord[] {
  if (format === 'csv') return readCsv(text, what);
  const body = text.startsWith('\uFEFF') ? text.slice(1) : text;
  if (format === 'json') {
    let data: unknown;
    try {
      data = JSON.parse(body);
    } catch (err) {
      throw usageError(`${what} is not valid JSON${jsonWhere(err, body)}.`, 'Give a JSON array of objects, or use --format ndjson / csv.');
    }
    if (!Array.isArray(data)) throw usageError(`${what} is not a JSON array.`, 'Give a JSON array of objects, one per user.');
    return data.map((item, i) => objectRecord(item, i + 1));
  }
  // As an empty CSV has no header line: a producer that failed upstream must not pass for "nobody to import".
  if (body.trim() === '') throw usageError(`${what} is empty: no JSON lines.`, 'Give one JSON object per line, one per user.');
  const records: RawRecord[] = [];
  body.split(/\r?\n/).forEach((lineText, i) => {
    if (lineText.trim() === '') return;
    try {
      records.push(objectRecord(JSON.parse(lineText), i + 1));
    } catch (err) {
      records.push({ line: i + 1, fields: {}, problem: `not valid JSON${jsonWhere(err, lineText)}` });
    }
  });
  return records;
}

/**
 * Where JSON.parse stopped, as ` at line L, column C`, or nothing. Never its
 * message: V8 quotes the text around the error, which may be a password.
 */
function jsonWhere(err: unknown, text: string): string {
  const position = /at position (\d+)/.exec(err instanceof Error ? err.message : '')?.[1];
  if (position === undefined) return '';
  const before = text.slice(0, Number(position));
  const line = before.split('\n').length;
  return ` at line ${line}, column ${Number(position) - before.lastIndexOf('\n')}`;
}

/** What is wrong with CSV, in authctl's words: csv-parse's messages can quote a field, which may be a password. */
const CSV_PROBLEMS: Record<string, string> = {
  INVALID_OPENING_QUOTE: 'a quote inside a field that does not start with one',
  CSV_INVALID_CLOSING_QUOTE: 'text right after the closing quote of a field',
  CSV_QUOTE_NOT_CLOSED: 'a quoted field that is never closed',
  CSV_RECORD_INCONSISTENT_FIELDS_LENGTH: 'a row with a different number of fields than the header',
  CSV_RECORD_INCONSISTENT_COLUMNS: 'a row with a different number of fields than the header',
};

function objectRecord(item: unknown, line: number): RawRecord {
  if (item === null || typeof item !== 'object' || Array.isArray(item)) return { line, fields: {}, problem: 'not an object with a username' };
  return { line, fields: item as Record<string, unknown> };
}

function readCsv(text: string, what: string): RawRecord[] {
  let parsed: string[][];
  try {
    // No valid value holds a line break, so CRLF can become LF up front and lines are counted on LF alone.
    // Empty lines come back as one empty field each: counting them here is much faster than csv-parse's `info`.
    parsed = parse(text.replaceAll('\r\n', '\n'), { bom: true, relax_column_count: true });
  } catch (err) {
    if (err instanceof CsvError) {
      const line = (err as CsvError & { lines?: number }).lines;
      throw usageError(`${what} is not valid CSV${line ? ` at line ${line}` : ''}: ${CSV_PROBLEMS[err.code] ?? `malformed (${err.code})`}.`, 'Quote fields that hold commas, quotes or line breaks, and double the quotes inside them.');
    }
    throw err;
  }
  const blank = (record: string[]) => record.length === 1 && record[0] === '';
  let line = 1;
  let next = 0;
  const advance = (record: string[]) => {
    let breaks = 0;
    for (const field of record) if (field.includes('\n')) breaks += field.split('\n').length - 1;
    line += 1 + breaks;
  };
  while (next < parsed.length && blank(parsed[next]!)) advance(parsed[next++]!);
  if (next >= parsed.length) throw usageError(`${what} is empty: no header line.`, `Start with a header line such as: ${USER_FILE_COLUMNS.slice(0, 6).join(',')}`);
  // `username, email` is a common way to write a header; the names themselves hold no spaces.
  const header = parsed[next]!.map((h) => h.trim());
  advance(parsed[next++]!);
  const unknown = header.filter((h) => !(USER_FILE_COLUMNS as readonly string[]).includes(h));
  const repeated = header.filter((h, i) => header.indexOf(h) !== i);
  if (unknown.length || repeated.length || !header.includes('username')) {
    const why = [
      ...(unknown.length ? [`unknown column(s) ${unknown.map((h) => JSON.stringify(h)).join(', ')}`] : []),
      ...(repeated.length ? [`repeated column(s) ${repeated.join(', ')}`] : []),
      ...(!header.includes('username') ? ['no username column'] : []),
    ];
    throw usageError(`The header line of ${what} has ${why.join(', ')}.`, `Use the columns ${USER_FILE_COLUMNS.join(', ')} (username required).`);
  }
  const records: RawRecord[] = [];
  for (; next < parsed.length; next++) {
    const record = parsed[next]!;
    const start = line;
    advance(record);
    if (blank(record)) continue;
    if (record.length !== header.length) {
      records.push({ line: start, fields: {}, problem: `${record.length} fields where the header has ${header.length}` });
      continue;
    }
    const fields: Record<string, unknown> = {};
    for (let i = 0; i < header.length; i++) fields[header[i]!] = record[i];
    records.push({ line: start, fields });
  }
  return records;
}

const COLUMN_SET = new Set<string>(USER_FILE_COLUMNS);

/** A subset of what validateUsername accepts. */
const PLAIN_USERNAME = /^[A-Za-z0-9._@+-]+$/;

const TRUE = new Set(['true', '1', 'yes']);
const FALSE = new Set(['false', '0', 'no']);

/** A well-formed bcrypt hash: $2a$, $2b$ or $2y$, a cost of 4 to 31, 22 salt and 31 hash characters. */
const BCRYPT = /^\$2[aby]\$(0[4-9]|[12]\d|3[01])\$[./A-Za-z0-9]{53}$/;

export interface ValidateOptions {
  allowWeakPassword: boolean;
}

function present(value: unknown): boolean {
  return value !== undefined && value !== null && value !== '';
}

function readBoolean(value: unknown, column: string, problems: string[]): boolean | undefined {
  if (!present(value)) return undefined;
  if (typeof value === 'boolean') return value;
  if (typeof value === 'number' && (value === 0 || value === 1)) return value === 1;
  if (typeof value === 'string') {
    const v = value.trim().toLowerCase();
    if (TRUE.has(v)) return true;
    if (FALSE.has(v)) return false;
  }
  problems.push(`${column} must be true/false, 1/0 or yes/no, not ${JSON.stringify(value)}`);
  return undefined;
}

function readText(value: unknown, column: string, problems: string[]): string | undefined {
  if (!present(value)) return undefined;
  if (typeof value !== 'string') {
    // A secret is never echoed, even a malformed one.
    const shown = column.startsWith('password') ? `a ${typeof value}` : JSON.stringify(value);
    problems.push(`${column} must be text, not ${shown}`);
    return undefined;
  }
  return value;
}

/** Runs a validator that throws a usage error; its message becomes a problem of the row. */
function check<T>(problems: string[], fn: () => T): T | undefined {
  try {
    return fn();
  } catch (err) {
    if (err instanceof AuthctlError) {
      // Hints are written for user add and user reset; the import's own options are plural.
      const hint = err.hint?.replace(/\.$/, '').replace(/--generate-password\b/g, '--generate-passwords');
      problems.push(err.message.replace(/\.$/, '') + (hint ? ` (${hint})` : ''));
      return undefined;
    }
    throw err;
  }
}

/**
 * Checks every record against the app's limits, the password policy and
 * the rest of the file (a username or email twice). Returns the valid rows,
 * or fails with every bad row and its line number (exit 2).
 */
export function validateRecords(records: RawRecord[], opts: ValidateOptions, what: string): ImportRow[] {
  const rows: ImportRow[] = [];
  const errors: RowError[] = [];
  const usernames = new Map<string, number>();
  const emails = new Map<string, number>();
  for (const { line, fields, problem } of records) {
    const problems: string[] = [];
    if (problem) {
      errors.push({ line, problems: [problem] });
      continue;
    }
    const unknown = Object.keys(fields).filter((k) => !COLUMN_SET.has(k));
    if (unknown.length) problems.push(`unknown field(s) ${unknown.map((k) => JSON.stringify(k)).join(', ')}`);
    const rawName = readText(fields.username, 'username', problems);
    if (rawName === undefined && !problems.length) problems.push('username is missing');
    // Plain ASCII names, nearly all of them, pass without the full check's Unicode patterns.
    const username = rawName === undefined ? undefined : rawName.length <= 50 && PLAIN_USERNAME.test(rawName) ? rawName : check(problems, () => validateUsername(rawName));
    const rawEmail = readText(fields.email, 'email', problems);
    const email = rawEmail === undefined ? undefined : check(problems, () => validateEmail(rawEmail));
    const rawFull = readText(fields.full_name, 'full_name', problems);
    const fullName = rawFull === undefined ? undefined : check(problems, () => validateFullName(rawFull));
    const isAdmin = readBoolean(fields.is_admin, 'is_admin', problems);
    const isActive = readBoolean(fields.is_active, 'is_active', problems);
    const hash = readText(fields.password_hash, 'password_hash', problems);
    const plain = readText(fields.password, 'password', problems);
    let password: ImportRow['password'];
    if (hash !== undefined && plain !== undefined) problems.push('give password_hash or password, not both');
    else if (hash !== undefined) {
      if (BCRYPT.test(hash)) password = { hash };
      else problems.push('password_hash is not a well-formed bcrypt hash ($2a$, $2b$ or $2y$)');
    } else if (plain !== undefined) {
      const ok = check(problems, () => {
        checkNewPassword({ password: plain, username: username ?? rawName ?? '', isAdmin: Boolean(isAdmin), allowWeak: opts.allowWeakPassword });
        return true;
      });
      if (ok) password = { plain };
    }
    if (username !== undefined) {
      const first = usernames.get(username);
      if (first !== undefined) problems.push(`username "${username}" is also on line ${first}`);
      else usernames.set(username, line);
    }
    if (email !== undefined) {
      const first = emails.get(email);
      if (first !== undefined) problems.push(`email ${email} is also on line ${first}`);
      else emails.set(email, line);
    }
    if (problems.length) {
      errors.push({ line, problems });
      continue;
    }
    // An email column present but empty means "no email" (null); left out means "not given".
    const emailValue = email !== undefined ? email : 'email' in fields ? null : undefined;
    rows.push({ line, username: username!, email: emailValue, fullName, isAdmin, isActive, password });
  }
  if (errors.length) throw rowErrors(errors, what);
  return rows;
}

/** The text of an import file, and whether anyone but its owner could read it. */
export interface ImportSource {
  text: string;
  /** The file's permission bits, or null for standard input. */
  mode: number | null;
}

export function readImportFile(file: string): ImportSource {
  const { bytes, mode } = readSourceFile(file, 'import file', { regularOnly: true });
  return { text: decodeImport(bytes, file), mode };
}

/**
 * The text of an import file or of standard input: UTF-8 only, so a Latin-1
 * password is refused rather than stored as U+FFFD (exit 2); a leading byte
 * order mark is dropped.
 */
export function decodeImport(bytes: Buffer, what: string): string {
  return decodeUtf8(bytes, what, 'Convert the file to UTF-8 (for example with `iconv -f LATIN1 -t UTF-8`) and import it again.', { line: true });
}

/**
 * Plaintext passwords are taken only from standard input or a file no other
 * user can read (no group or other permission bits): anything else has
 * already exposed them (exit 7).
 */
export function assertPasswordsPrivate(records: RawRecord[], source: ImportSource, file: string, format: ImportFormat): void {
  if (source.mode === null || (source.mode & 0o077) === 0) return;
  // A record that could not be read (a wrong number of fields) has no fields to look at: the header tells.
  const passwords = records.some((r) => present(r.fields.password)) || (records.some((r) => r.problem !== undefined) && mentionsPasswords(source.text, format));
  if (passwords) throw readableWithPasswords(source.mode, file);
}

/**
 * Reads the records like {@link readRecords}, but a file others can access
 * that fails to parse while it has a password column (or key) is refused for
 * that first: the refusal must not depend on the rows being well formed.
 */
export function readPrivateRecords(source: ImportSource, format: ImportFormat, what: string, file: string): RawRecord[] {
  try {
    return readRecords(source.text, format, what);
  } catch (err) {
    if (source.mode !== null && (source.mode & 0o077) !== 0 && mentionsPasswords(source.text, format)) throw readableWithPasswords(source.mode, file);
    throw err;
  }
}

/** Whether text that did not parse looks as if it holds plaintext passwords: a `password` CSV header cell, or a "password" key. */
function mentionsPasswords(text: string, format: ImportFormat): boolean {
  if (format !== 'csv') return /"password"\s*:/.test(text);
  const header = text.replace(/^\uFEFF/, '').split(/\r\n|\r|\n/, 1)[0] ?? '';
  return header.split(',').some((cell) => cell.trim().replace(/^"(.*)"$/, '$1').trim() === 'password');
}

function readableWithPasswords(modeBits: number, file: string): AuthctlError {
  const mode = modeBits.toString(8).padStart(4, '0');
  return refused(
    'PASSWORD_FILE_READABLE',
    `${file} holds plaintext passwords and other users can access it (mode ${mode}); nothing was imported.`,
    `Restrict it with \`chmod 600 ${file}\` (and change those passwords if others may have read them), or pipe the file in with \`-\`.`,
  );
}
