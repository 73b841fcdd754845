import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import stringWidth from 'string-width';
import { beforeAll, describe, expect, it } from 'vitest';
import { appTimestamp, cli, describeProviders, insertSession, isoTimestamp, newSqliteDb, type TestDb } from '../support/db.js';
import { ptyMissing, runOnPty } from '../support/pty.js';
import { BIN, hasStackTrace } from '../support/cli.js';

const FAST = { AUTHCTL_BCRYPT_ROUNDS: '10' };
const ANSI = /\x1b\[[0-9;]*[mK]/g;
const HOUR = 3_600_000;
const LONG_AGENT = `Mozilla/5.0 (X11; Linux x86_64) ${'SomeVeryLongToolkitName/1.0 '.repeat(8)}`;

/** Lines as a terminal shows them: colours removed, and of a line redrawn after CR (progress) only its last state. */
function lines(output: string): string[] {
  return output.replace(ANSI, '').split(/\r?\n/).map((l) => l.split('\r').at(-1)!).filter((l) => l.length > 0);
}

/** A rule line: nothing but box-drawing characters, dashes and spaces. */
const RULE = /^[\s─━┄┈│┃┼├┤┌┐└┘┬┴+|=-]+$/;

async function withUsersAndSessions(db: TestDb): Promise<void> {
  const r = await cli(db, ['init-db', '--password-stdin'], { input: 'an admin passphrase', env: FAST });
  expect(r.code, r.stderr).toBe(0);
  const names = ['alice', 'bob', 'chen-李小龍-wide', 'dora'];
  for (const name of names) {
    const add = await cli(db, ['user', 'add', name, '--email', `${name.slice(0, 5)}@a-long-mail-domain.example.com`, '--full-name',
      `${name} with a full name long enough to overflow any eighty column terminal`, '--generate-password', '-q'], { env: FAST });
    expect(add.code, add.stderr).toBe(0);
  }
  const now = Date.now();
  for (let i = 0; i < 12; i++) {
    await insertSession(db, {
      userId: 2 + (i % 4),
      tokenType: i % 3 === 0 ? 'refresh' : 'access',
      createdAt: appTimestamp(new Date(now - i * 20 * HOUR)),
      expiresAt: appTimestamp(new Date(now + (i % 2 === 0 ? 1 : -1) * HOUR)),
      userAgent: i === 0 ? `${LONG_AGENT}\x1b[31mred` : LONG_AGENT,
      ipAddress: `2001:db8:85a3:8d3:1319:8a2e:370:${7000 + i}`,
    });
  }
}

const noPty = ptyMissing();

describe('output on a terminal', () => {
  let db: TestDb;
  beforeAll(async () => {
    db = await newSqliteDb();
    await withUsersAndSessions(db);
  }, 120_000);
  const onPty = (args: string[], cols = 80, env: Record<string, string> = {}) =>
    runOnPty(args, { cwd: db.cwd, env: { ...db.env, NO_COLOR: '1', ...env }, steps: [], cols });

  describe.skipIf(noPty !== null)('at 80 columns', () => {
    it.each([
      [['user', 'list', '--all']],
      [['user', 'show', 'alice']],
      [['sessions', 'list', '--all']],
      [['sessions', 'stats']],
      [['sessions', 'purge', '--dry-run']],
      [['audit']],
      [['doctor']],
    ])('%j fits the terminal and draws no rule between rows', async (args) => {
      const r = await onPty(args);
      expect(r.timedOut, r.output).toBeNull();
      expect([0, 8]).toContain(r.code);
      const shown = lines(r.output);
      expect(shown.length).toBeGreaterThan(1);
      for (const line of shown) {
        expect(stringWidth(line), `${args.join(' ')}: ${line}`).toBeLessThanOrEqual(80);
        expect(line, args.join(' ')).not.toMatch(RULE);
      }
      // A stored escape sequence shows up as text, never acts.
      expect(r.output).not.toContain('\x1b[31mred');
    });

    it('cuts free text with … to fit, and --wide shows whole values', async () => {
      const fitted = await onPty(['sessions', 'list', '--all']);
      expect(fitted.output).toContain('…');
      expect(fitted.output).not.toContain('SomeVeryLongToolkitName/1.0 SomeVeryLongToolkitName/1.0');
      // On a terminal a user agent is its browser and OS; --wide shows it whole.
      expect(fitted.output).toMatch(/ Linux\r?\n/);
      const wideSessions = await onPty(['sessions', 'list', '--all', '--wide']);
      expect(wideSessions.output).toContain(LONG_AGENT.trimEnd());
      const wide = await onPty(['user', 'list', '--all', '--wide']);
      expect(wide.output).toContain('with a full name long enough to overflow any eighty column terminal');
      expect(Math.max(...lines(wide.output).map((l) => stringWidth(l)))).toBeGreaterThan(80);
    });

    it('doctor wraps its advice onto more lines instead of cutting it', async () => {
      const file = db.url.replace(/^sqlite:\/\/\//, '');
      fs.chmodSync(file, 0o644);
      try {
        const r = await onPty(['doctor']);
        const shown = lines(r.output);
        for (const line of shown) expect(stringWidth(line), line).toBeLessThanOrEqual(80);
        expect(r.output).not.toContain('…');
        const text = shown.join(' ').replace(/\s+/g, ' ');
        expect(text).toMatch(/warn +mode 0644: the file is world-readable/);
        expect(text).toContain('Run `chmod 600');
      } finally {
        fs.chmodSync(file, 0o600);
      }
    });

    it('follows the width the terminal reports', async () => {
      const r = await onPty(['user', 'list', '--all'], 60);
      for (const line of lines(r.output)) expect(stringWidth(line), line).toBeLessThanOrEqual(60);
    });

    it('sessions stats draws its trend and its top users as pictures', async () => {
      const r = await onPty(['sessions', 'stats']);
      expect(r.code, r.output).toBe(0);
      // The sparkline and the bars use block characters.
      expect(r.output).toMatch(/[▁▂▃▄▅▆▇█]{3,}/);
      const shown = lines(r.output);
      const perDay = shown.filter((l) => /^ {2}\d{2}-\d{2} {2}[█▏▎▍▌▋▊▉ ]* {2}\d+$/.test(l));
      expect(perDay, shown.join('\n')).toHaveLength(14);
      expect(perDay.some((l) => /█/.test(l))).toBe(true);
      expect(shown.some((l) => /^ {2}alice +[█▏▎▍▌▋▊▉]+ +\d+$/.test(l))).toBe(true);
    });

    it('one time style: UTC to the minute with a relative hint, the zone said once', async () => {
      const show = await onPty(['user', 'show', 'alice']);
      expect(show.output).toMatch(/created +\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC \(\d+[smhd] ago\)/);
      const list = await onPty(['sessions', 'list', '--all', '--wide']);
      expect(list.output).toMatch(/created \(UTC\)/);
      expect(list.output).toMatch(/\d{4}-\d{2}-\d{2} \d{2}:\d{2} +\d+[smhd] ago +in \d+[smh] +\d{4}-\d{2}-\d{2} \d{2}:\d{2} /);
      expect(list.output).not.toMatch(/\d{2}:\d{2}(:\d{2})?Z|T\d{2}:\d{2}/);
    });

    it('FORCE_COLOR is not needed on a terminal, and NO_COLOR still turns colour off', async () => {
      const coloured = await runOnPty(['user', 'list'], { cwd: db.cwd, env: { ...db.env }, steps: [] });
      expect(coloured.output).toMatch(/\x1b\[/);
      const plain = await onPty(['user', 'list']);
      expect(plain.output).not.toMatch(/\x1b\[/);
    });
  });

  describe('on a pipe', () => {
    it('tables keep whole values (scripts read them) and sessions stats prints plain numbers', async () => {
      const list = await cli(db, ['sessions', 'list', '--all']);
      expect(list.code, list.stderr).toBe(0);
      expect(list.stdout).toMatch(/^id +user +type +created \(UTC\) +last seen +expires +expires \(UTC\) +ip +user agent +jti$/m);
      expect(list.stdout).toContain('2001:db8:85a3:8d3:1319:8a2e:370:7000');
      // The jti whole, as the app writes it: str(uuid4()).
      expect(list.stdout).toMatch(/ [0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/m);
      expect(list.stdout).not.toContain('…');
      // The user agent as stored, not the browser and OS a terminal shows.
      expect(list.stdout).toContain(LONG_AGENT.trimEnd());
      const tsv = await cli(db, ['sessions', 'list', '--all', '--format', 'tsv']);
      expect(tsv.stdout.split('\n').some((line) => line.split('\t').includes(LONG_AGENT))).toBe(true);
      const stats = await cli(db, ['sessions', 'stats']);
      expect(stats.stdout).not.toMatch(/[▁▂▃▄▅▆▇█]/);
      expect(stats.stdout).toMatch(/^day +access +refresh +total$/m);
    });

    it('--format tsv and csv give whole values, one row a line, and --no-headers drops the header', async () => {
      const tsv = await cli(db, ['user', 'list', '--all', '--format', 'tsv']);
      expect(tsv.code, tsv.stderr).toBe(0);
      const rows = tsv.stdout.trimEnd().split('\n').map((l) => l.split('\t'));
      expect(rows[0]).toEqual(['id', 'username', 'email', 'full name', 'admin', 'active', 'login', 'sessions']);
      expect(rows).toHaveLength(6);
      expect(rows.find((r) => r[1] === 'alice')?.[3]).toBe('alice with a full name long enough to overflow any eighty column terminal');
      const csv = await cli(db, ['sessions', 'list', '--all', '--format', 'csv', '--no-headers', '--limit', '3']);
      expect(csv.code, csv.stderr).toBe(0);
      const csvLines = csv.stdout.trimEnd().split('\n');
      expect(csvLines).toHaveLength(3);
      expect(csvLines[0]).toMatch(/^\d+,/);
      // The "Showing 3 of 12" note goes to stderr, so stdout stays data.
      expect(csv.stderr).toMatch(/Showing 3 of 12/);
      // A stored escape is written as visible text, in CSV too.
      const all = await cli(db, ['sessions', 'list', '--all', '--format', 'csv']);
      expect(all.stdout).not.toContain('\x1b');
    });

    it.each([
      [['user', 'list', '--search', 'nobody-matches'], 'id\tusername\temail\tfull name\tadmin\tactive\tlogin\tsessions\n', /No users match\./],
      [['sessions', 'list', '--ip', '203.0.113.99'], 'id\tuser\ttype\tcreated (UTC)\tlast seen\texpires\texpires (UTC)\tip\tuser agent\tjti\n', /No active sessions match\./],
      [['audit', '--command', 'nope'], 'when (UTC)\twho\tcommand\ttarget\tsummary\n', /No audit entries match\./],
    ])('an empty listing in TSV or CSV keeps stdout data (the header alone) and says so on stderr: %j', async (args, header, note) => {
      const tsv = await cli(db, [...args, '--format', 'tsv']);
      expect(tsv.code, tsv.stderr).toBe(0);
      expect(tsv.stdout).toBe(header);
      expect(tsv.stderr).toMatch(note);
      const bare = await cli(db, [...args, '--format', 'csv', '--no-headers']);
      expect(bare.stdout).toBe('');
      expect(bare.stderr).toMatch(note);
      // People still read the note in place of the table.
      expect((await cli(db, args)).stdout).toMatch(note);
    });

    it('refuses an unknown format with exit 2', async () => {
      const r = await cli(db, ['audit', '--format', 'xml']);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/Allowed choices are table, tsv, csv/);
    });

    it('FORCE_COLOR forces colour on a pipe; --no-color and NO_COLOR win over it; FORCE_COLOR=0 turns it off', async () => {
      const forced = await cli(db, ['user', 'list'], { env: { FORCE_COLOR: '1', NO_COLOR: undefined } });
      expect(forced.stdout).toMatch(/\x1b\[1m/);
      expect((await cli(db, ['user', 'list'])).stdout).not.toMatch(/\x1b\[/);
      expect((await cli(db, ['user', 'list', '--no-color'], { env: { FORCE_COLOR: '1', NO_COLOR: undefined } })).stdout).not.toMatch(/\x1b\[/);
      expect((await cli(db, ['user', 'list'], { env: { FORCE_COLOR: '1', NO_COLOR: '1' } })).stdout).not.toMatch(/\x1b\[/);
      expect((await cli(db, ['user', 'list'], { env: { FORCE_COLOR: '0', NO_COLOR: undefined } })).stdout).not.toMatch(/\x1b\[/);
    });
  });
});

describeProviders('sessions stats', ({ newDb }) => {
  it('names the oldest active session by created_at, not by the lowest id, whatever the stored form', async () => {
    const db = await newDb();
    const r = await cli(db, ['init-db', '--password-stdin'], { input: 'an admin passphrase', env: FAST });
    expect(r.code, r.stderr).toBe(0);
    const now = Date.now();
    const later = new Date(now + 2 * HOUR);
    // Lowest id, created an hour ago; then one created two days ago.
    await insertSession(db, { userId: 1, createdAt: appTimestamp(new Date(now - HOUR)), expiresAt: appTimestamp(later) });
    await insertSession(db, { userId: 1, jti: 'oldest', createdAt: appTimestamp(new Date(now - 48 * HOUR)), expiresAt: appTimestamp(later) });
    if (db.provider === 'sqlite') {
      // Same day in the other form: text order would put it first.
      await insertSession(db, { userId: 1, createdAt: isoTimestamp(new Date(now - 47 * HOUR)), expiresAt: appTimestamp(later) });
    }
    // An expired session created earlier still does not count.
    await insertSession(db, { userId: 1, createdAt: appTimestamp(new Date(now - 96 * HOUR)), expiresAt: appTimestamp(new Date(now - HOUR)) });
    const stats = await cli(db, ['sessions', 'stats', '--json']);
    expect(stats.code, stats.stderr).toBe(0);
    const parsed = JSON.parse(stats.stdout) as { oldestActive: { jti: string }; perDay: Array<{ total: number }> };
    expect(parsed.oldestActive.jti).toBe('oldest');
    expect(parsed.perDay).toHaveLength(14);
    expect(parsed.perDay.reduce((a, d) => a + d.total, 0)).toBe(db.provider === 'sqlite' ? 4 : 3);
  });
});

describe('output that has nowhere to go', () => {
  /** Runs authctl through bash, for its redirections; the exit code is authctl's, not the pipe's. */
  function viaShell(db: TestDb, line: string): { code: number; stderr: string } {
    const r = spawnSync('bash', ['-c', `${line}; exit \${PIPESTATUS[0]}`], {
      cwd: db.cwd,
      env: { ...process.env, ...db.env, AUTHCTL: `${process.execPath} ${BIN}`, AUTHCTL_BCRYPT_ROUNDS: '10', NO_COLOR: '1' },
      encoding: 'utf8',
      timeout: 60_000,
    });
    return { code: r.status ?? -1, stderr: r.stderr };
  }
  /** A reader that has already gone when authctl first writes: every write is EPIPE. */
  const GONE = '| { exec 0<&-; }';

  it('a reader that went away keeps the command running to its end, with its own exit code', async () => {
    const db = await newSqliteDb();
    expect((await cli(db, ['init-db', '--generate-password', '-q'], { env: { AUTHCTL_BCRYPT_ROUNDS: '10' } })).code).toBe(0);
    for (let i = 0; i < 5; i++) await insertSession(db, { userId: 1, expiresAt: appTimestamp(new Date(Date.now() - 3_600_000)) });
    expect(viaShell(db, `$AUTHCTL user show nobody 2>&1 ${GONE}`).code).toBe(3);
    // The purge's first line goes to the closed pipe; the purge still runs.
    expect(viaShell(db, `$AUTHCTL sessions purge 2>&1 ${GONE}`).code).toBe(0);
    expect((await db.query<{ n: number }>('SELECT count(*) AS n FROM user_sessions'))[0]!.n).toBe(0);
    expect(viaShell(db, `$AUTHCTL user list ${GONE}`).code).toBe(0);
  });

  it('a command whose stdout cannot be written (a full disk) exits 1 saying so, without a stack trace', async () => {
    const db = await newSqliteDb();
    expect((await cli(db, ['init-db', '--generate-password', '-q'], { env: { AUTHCTL_BCRYPT_ROUNDS: '10' } })).code).toBe(0);
    const added = viaShell(db, '$AUTHCTL user add lost --generate-password --json > /dev/full');
    expect(added.code, added.stderr).toBe(1);
    const error = JSON.parse(added.stderr.trim().split('\n').at(-1)!).error;
    expect(error).toMatchObject({ code: 'OUTPUT_LOST', exitCode: 1 });
    expect(error.message).toMatch(/Writing to standard output failed \(ENOSPC\)/);
    expect(error.hint).toMatch(/authctl user reset <name> --generate-password/);
    // The user was made: only its password is lost, and the message says what to do.
    expect(await db.query("SELECT username FROM users WHERE username = 'lost'")).toHaveLength(1);
    const exported = viaShell(db, '$AUTHCTL user export --all --include-hashes > /dev/full');
    expect(exported.code, exported.stderr).toBe(1);
    expect(exported.stderr).toMatch(/error: Writing to standard output failed/);
    expect(hasStackTrace(exported.stderr)).toBe(false);
    // A command that failed anyway keeps its own code.
    expect(viaShell(db, '$AUTHCTL user show nobody > /dev/full').code).toBe(3);
  });
});
