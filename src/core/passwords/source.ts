import fs from 'node:fs';
import { isUtf8 } from 'node:buffer';
import { usageError } from '../errors/errors.js';

/**
 * Text from bytes that hold a password or an import file. The app's login
 * form sends UTF-8, so that is the only encoding taken: bytes that are not
 * valid UTF-8 are refused (exit 2) rather than turned into U+FFFD, which
 * would store a password nobody can type. A leading UTF-8 byte order mark,
 * which some editors add, is dropped. The text is never quoted.
 */
export function decodeUtf8(bytes: Buffer, what: string, hint: string, opts: { line: boolean }): string {
  try {
    // ignoreBOM: false drops one leading byte order mark.
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    throw usageError(`${what} is not valid UTF-8 text${opts.line ? lineOfFirstBadByte(bytes) : ''}.`, hint);
  }
}

/** ` (line N)` for the first line that is not valid UTF-8; only worked out once the whole text failed. */
function lineOfFirstBadByte(bytes: Buffer): string {
  let line = 1;
  let start = 0;
  for (;;) {
    const end = bytes.indexOf(0x0a, start);
    const piece = bytes.subarray(start, end === -1 ? bytes.length : end);
    if (!isUtf8(piece)) return line === 1 && end === -1 ? '' : ` (line ${line})`;
    if (end === -1) return '';
    start = end + 1;
    line++;
  }
}

const NOT_UTF8_PASSWORD = 'Save or send the password as UTF-8 (for example through `iconv -t UTF-8`): the app\'s login form sends UTF-8, so no other encoding could ever log in.';

/** A password read from standard input or a file, as text (see {@link decodeUtf8}). */
export function decodePassword(bytes: Buffer, source: string): string {
  return decodeUtf8(bytes, `The password from ${source}`, NOT_UTF8_PASSWORD, { line: false });
}

/** What a failed open or read of `file` means, in words, with what to do. */
function fileReadError(err: unknown, file: string, what: string): Error {
  const code = (err as NodeJS.ErrnoException).code;
  switch (code) {
    case 'ENOENT':
      return usageError(`The ${what} ${file} does not exist.`, 'Check the path (it is relative to the current folder unless it starts with /).');
    case 'ENOTDIR':
      return usageError(`The ${what} ${file} does not exist: part of its path is not a folder.`, 'Check the path.');
    case 'EISDIR':
      return usageError(`The ${what} ${file} is a folder, not a file.`, 'Give the path of the file inside it.');
    case 'EACCES':
    case 'EPERM':
      return usageError(`The ${what} ${file} cannot be read: permission denied.`, 'Run authctl as a user who may read it, or change its permissions (chmod 600 and chown to that user).');
    case 'ELOOP':
      return usageError(`The ${what} ${file} is a loop of symbolic links.`, 'Give the path of the real file.');
    default:
      return usageError(`Cannot read the ${what} ${file} (${code ?? (err as Error).message}).`, 'Check the path and its permissions.');
  }
}

/** The most a secret's file or standard input may hold: a password is at most 72 bytes, a GPUStack key a few dozen. */
export const SECRET_MAX_BYTES = 64 * 1024;

/**
 * How long a named FIFO may keep authctl waiting for a writer to open it.
 * The reads never block, so a FIFO nobody opens cannot hang a cron job.
 */
const FIFO_WAIT_MS = 30_000;
const PIPE_POLL_MS = 10;

function pauseSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** How a source is read: a regular file; a named FIFO, whose writer may come later; anything else, a stream with its writer there. */
type SourceKind = 'file' | 'fifo' | 'stream';

function kindOf(fd: number, stat: fs.Stats): SourceKind {
  if (stat.isFile()) return 'file';
  if (!stat.isFIFO()) return 'stream';
  // `<(...)` gives an anonymous pipe, whose writer exists from the start: an end of file there is the end.
  try {
    return fs.readlinkSync(`/proc/self/fd/${fd}`).startsWith('pipe:') ? 'stream' : 'fifo';
  } catch {
    return 'fifo';
  }
}

/**
 * Everything `fd` holds, up to `maxBytes`, as a blocking read would give it.
 * Nothing is opened or read in a way that blocks: while a writer is there
 * but has not written (EAGAIN), it is waited for, as long as it takes (a
 * password manager may be asking for a passphrase); a named FIFO whose
 * writer has not opened it yet reads as an end of file before any byte, and
 * is waited for up to FIFO_WAIT_MS.
 */
function readAll(fd: number, kind: SourceKind, maxBytes: number | undefined, tooLarge: () => Error, file: string, what: string): Buffer {
  const chunks: Buffer[] = [];
  let total = 0;
  let writerSeen = false;
  const buffer = Buffer.alloc(64 * 1024);
  const deadline = Date.now() + FIFO_WAIT_MS;
  for (;;) {
    let n: number;
    try {
      n = fs.readSync(fd, buffer, 0, buffer.length, null);
    } catch (err) {
      if (kind === 'file' || (err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
      writerSeen = true;
      pauseSync(PIPE_POLL_MS);
      continue;
    }
    if (n > 0) {
      writerSeen = true;
      total += n;
      if (maxBytes !== undefined && total > maxBytes) throw tooLarge();
      chunks.push(Buffer.from(buffer.subarray(0, n)));
      continue;
    }
    if (kind === 'fifo' && !writerSeen) {
      if (Date.now() >= deadline) {
        throw usageError(
          `Nobody wrote into the ${what} ${file} (a FIFO) within ${FIFO_WAIT_MS / 1000} s.`,
          'Start whatever writes the secret into that FIFO, or give a regular file.',
        );
      }
      pauseSync(PIPE_POLL_MS);
      continue;
    }
    break;
  }
  return Buffer.concat(chunks);
}

/**
 * The bytes of a file and its permission bits; a folder, a missing or
 * unreadable file fail in words (exit 2), and so does anything but a regular
 * file with `regularOnly` (a password file may be a pipe, as `<(...)` gives).
 * The file is opened without blocking, so a FIFO nobody opens cannot hang
 * the command (see readAll); more than `maxBytes` is refused.
 */
export function readSourceFile(
  file: string,
  what: string,
  opts: { regularOnly: boolean; maxBytes?: number },
): { bytes: Buffer; mode: number; isFile: boolean } {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  } catch (err) {
    throw fileReadError(err, file, what);
  }
  try {
    const stat = fs.fstatSync(fd);
    if (stat.isDirectory()) throw fileReadError(Object.assign(new Error('EISDIR'), { code: 'EISDIR' }), file, what);
    if (opts.regularOnly && !stat.isFile()) throw usageError(`The ${what} ${file} is not a regular file.`, 'Give the path of a file, or - to read standard input.');
    const tooLarge = () =>
      usageError(`The ${what} ${file} holds more than ${(opts.maxBytes ?? 0) / 1024} KiB, far more than a secret.`, `Check the path: it must name the ${what} itself.`);
    if (opts.maxBytes !== undefined && stat.isFile() && stat.size > opts.maxBytes) throw tooLarge();
    return { bytes: readAll(fd, kindOf(fd, stat), opts.maxBytes, tooLarge, file, what), mode: stat.mode & 0o777, isFile: stat.isFile() };
  } catch (err) {
    if (err instanceof Error && 'exitCode' in err) throw err;
    throw fileReadError(err, file, what);
  } finally {
    fs.closeSync(fd);
  }
}

/** The warning for a secret's file that others may read (group or world), or undefined. */
export function readableByOthersWarning(what: string, file: string, source: { mode: number; isFile: boolean }): string | undefined {
  if (!source.isFile || (source.mode & 0o044) === 0) return undefined;
  return `The ${what} ${file} is readable by other users (mode ${source.mode.toString(8).padStart(4, '0')}); restrict it with chmod 600.`;
}
