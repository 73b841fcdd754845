import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { AuthctlError } from '../../src/core/errors/errors.js';
import { validateEmail, validateFullName } from '../../src/core/users/validate.js';
import { checkNewPassword } from '../../src/core/passwords/password.js';
import { jsonSafe, Output, terminalSafe } from '../../src/terminal/output.js';

/** A stream that keeps what was written, and says whether it is a terminal. */
class Capture extends Writable {
  text = '';
  constructor(readonly isTTY: boolean) {
    super();
  }
  override _write(chunk: Buffer, _enc: string, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

const RAW_CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

function output(opts: { tty: boolean; json?: boolean }) {
  const stdout = new Capture(opts.tty);
  const stderr = new Capture(opts.tty);
  const saved = process.env.NO_COLOR;
  delete process.env.NO_COLOR;
  try {
    return { out: new Output({ json: opts.json }, stdout as never, stderr as never), stdout, stderr };
  } finally {
    if (saved !== undefined) process.env.NO_COLOR = saved;
  }
}

describe('terminalSafe', () => {
  it('shows C0, DEL and C1 controls as visible escapes', () => {
    expect(terminalSafe('\x1b[2J\x1b[H Mozilla/5.0')).toBe('\\x1b[2J\\x1b[H Mozilla/5.0');
    expect(terminalSafe('a\x00b\x07c\x7fd')).toBe('a\\x00b\\x07c\\x7fd');
    expect(terminalSafe('csi\u009b31m')).toBe('csi\\x9b31m');
    expect(terminalSafe('tab\there\nnew\rline')).toBe('tab\\there\\nnew\\rline');
  });

  it('shows bidirectional overrides and isolates, and the Unicode line separators', () => {
    expect(terminalSafe('abc\u202edef\u202c')).toBe('abc\\u202edef\\u202c');
    expect(terminalSafe('\u2066x\u2069')).toBe('\\u2066x\\u2069');
    expect(terminalSafe('a\u2028b\u2029c')).toBe('a\\u2028b\\u2029c');
  });

  it('shows invisible characters, so a name cannot pass for another', () => {
    // Zero-width space, non-joiner, joiner, word joiner, byte-order mark and the left-to-right and Arabic letter marks.
    expect(terminalSafe('admin\u200b')).toBe('admin\\u200b');
    expect(terminalSafe('ad\u200c\u200dmin\u2060\ufeff')).toBe('ad\\u200c\\u200dmin\\u2060\\ufeff');
    expect(terminalSafe('a\u200eb\u200fc\u061c')).toBe('a\\u200eb\\u200fc\\u061c');
    // The soft hyphen, a tag character (outside the BMP) and a Hangul filler, which draw as nothing or as a blank.
    expect(terminalSafe('ad\u00admin')).toBe('ad\\xadmin');
    expect(terminalSafe('admin\u{e0041}')).toBe('admin\\u{e0041}');
    expect(terminalSafe('admin\u3164')).toBe('admin\\u3164');
  });

  it('leaves printable text of every script alone', () => {
    for (const text of ['Zoë Åström', '陈小明', 'محمد', 'emoji 🎉 ok', 'C:\\path\\x1b literal', 'a\u00a0b']) {
      expect(terminalSafe(text)).toBe(text);
    }
  });
});

describe('jsonSafe', () => {
  it('writes what a terminal would act on or hide as escapes, and parses back to the same value', () => {
    const value = { ua: 'a\x1b[2J\x7f\u009b31m\u202eb\u2028c\u200bd\u00ade\u{e0041}f\u3164', n: 1, list: ['\t', null] };
    for (const indent of [undefined, 2]) {
      const text = jsonSafe(value, indent);
      expect(text).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\p{Cf}\u2028\u2029\u3164]/u);
      expect(JSON.parse(text)).toEqual(value);
    }
    expect(jsonSafe('x\u009by\u202e')).toBe('"x\\u009by\\u202e"');
    expect(jsonSafe('\u{e0041}')).toBe('"\\udb40\\udc41"');
  });

  it('leaves printable text of every script as JSON.stringify writes it', () => {
    const value = { names: ['Zoë Åström', '陈小明', 'محمد', 'emoji 🎉 ok', 'a\u00a0b'] };
    expect(jsonSafe(value, 2)).toBe(JSON.stringify(value, null, 2));
  });
});

describe('Output', () => {
  it('escapes hostile values in every human path without colour', () => {
    const { out, stdout, stderr } = output({ tty: false });
    const evil = 'x\x1b[2Jy\u202e';
    out.banner(`sqlite ${evil}`);
    out.line(evil);
    out.success(evil);
    out.info(evil);
    out.warn(evil);
    out.secret(evil, evil);
    out.details([[evil, evil]]);
    out.table([{ v: evil }], [{ header: evil, value: (r) => r.v }, { header: 'lines', value: (r) => [r.v, r.v] }]);
    out.error(new AuthctlError('X', evil, 2, evil));
    expect(stdout.text + stderr.text).not.toMatch(RAW_CONTROL);
    expect(stdout.text).toContain('x\\x1b[2Jy\\u202e');
    expect(stderr.text).toContain('error: x\\x1b[2Jy\\u202e\nhint: x\\x1b[2Jy\\u202e\n');
  });

  it('keeps its own colours on a terminal and escapes everything else', () => {
    const { out, stdout, stderr } = output({ tty: true });
    expect(out.c.level).toBeGreaterThan(0);
    const evil = 'x\x1b[8mhidden\x1b[0m';
    out.line(`${out.c.green('applied')}  ${evil}`);
    out.line(out.c.dim(evil));
    out.details([['name', evil]]);
    out.table([{ v: evil }], [{ header: 'status', value: () => out.c.red('fail') }, { header: 'v', value: (r) => r.v }]);
    out.error(new AuthctlError('X', evil, 2));
    const all = stdout.text + stderr.text;
    expect(all).toContain('\x1b[32mapplied\x1b[39m');
    expect(all).toContain('\x1b[31mfail\x1b[39m');
    expect(all).toContain('\x1b[2mx\\x1b[8mhidden\\x1b[0m\x1b[22m');
    expect(all).not.toContain('\x1b[8m');
    expect(all).not.toContain('\x1b[0m');
    // Only SGR colour codes remain raw.
    expect(all.replace(/\x1b\[\d+m/g, '')).not.toMatch(RAW_CONTROL);
  });

  it('a stored value cannot forge the stand-in for its colour codes', () => {
    const { out, stdout } = output({ tty: true });
    out.line(`\uf8ff[2J \uf8ff${'0'.repeat(16)}[2J \uf8ffdeadbeefdeadbeef[2J`);
    expect(stdout.text.replace(/\x1b\[\d+m/g, '')).not.toMatch(RAW_CONTROL);
    expect(stdout.text).not.toContain('\x1b[2J');
  });

  it('leaves --json exact', () => {
    const { out, stdout } = output({ tty: false, json: true });
    out.emitJson({ ua: '\x1b[2J' });
    expect(JSON.parse(stdout.text)).toEqual({ ua: '\x1b[2J' });
  });
});

describe('control characters in stored text and passwords', () => {
  it('refuses them in full names and emails', () => {
    for (const bad of ['x\x1b[31my', 'a\nb', 'a\tb', 'a\u009bb', 'a\u202eb', 'a\u2066b', 'a\x7fb']) {
      expect(() => validateFullName(bad)).toThrow(expect.objectContaining({ exitCode: 2 }));
      expect(() => validateEmail(`${bad}@example.com`)).toThrow(expect.objectContaining({ exitCode: 2 }));
    }
    expect(validateFullName('Zoë Åström-陈')).toBe('Zoë Åström-陈');
  });

  it('refuses them in new passwords, even with --allow-weak-password, without quoting the password', () => {
    for (const bad of ['a long password\n', 'a long\npassword', 'a long\tpassword', 'a long\x1bpassword', 'a long\u0085password']) {
      for (const allowWeak of [false, true]) {
        let caught: AuthctlError | undefined;
        try {
          checkNewPassword({ password: bad, username: 'u', isAdmin: false, allowWeak });
        } catch (err) {
          caught = err as AuthctlError;
        }
        expect(caught?.exitCode).toBe(2);
        expect(caught?.message).toMatch(/control character/);
        expect(`${caught?.message} ${caught?.hint}`).not.toContain('long');
      }
    }
  });
});
