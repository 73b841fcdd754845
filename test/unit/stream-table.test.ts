import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { Output, type Column } from '../../src/terminal/output.js';

function capture<S = typeof process.stdout>(): { stream: S; text: () => string } {
  let text = '';
  const stream = new Writable({
    write(chunk, _enc, done) {
      text += String(chunk);
      done();
    },
  }) as unknown as S;
  return { stream, text: () => text };
}

/** A stderr whose text no test reads. */
const sink = () => capture<typeof process.stderr>().stream;

type Row = { id: number; name: string | null; note: string; lines?: string[] };
const columns: Column<Row>[] = [
  { header: 'id', value: (r) => r.id },
  { header: 'name', value: (r) => r.name },
  { header: 'a longer header', value: (r) => r.note },
  { header: 'several', value: (r) => r.lines ?? '' },
];
const rows: Row[] = [
  { id: 1, name: 'admin', note: 'plain' },
  { id: 22, name: null, note: '' },
  { id: 333, name: 'ユーザー', note: 'two\nlines \x1b[2J', lines: ['first', 'second \u202e'] },
  { id: 4, name: 'é', note: 'Chrome 120 / Linux and a long tail of text' },
];

/** A stdout that says it is a terminal of `columns` columns. */
function terminal(columns: number) {
  const out = capture();
  Object.assign(out.stream as object, { isTTY: true, columns });
  return out;
}

describe('the table renderer', () => {
  it('draws aligned columns under one header, with no borders or rules, and escapes stored control characters', async () => {
    const out = capture();
    const n = await new Output({ color: false }, out.stream, sink()).streamTable(rows, columns);
    expect(n).toBe(rows.length);
    expect(out.text()).toBe([
      'id   name      a longer header                             several',
      '1    admin     plain',
      '22',
      // A stored line break is shown as an escape, not followed.
      '333  ユーザー  two\\nlines \\x1b[2J                          first',
      '                                                           second \\u202e',
      '4    é         Chrome 120 / Linux and a long tail of text',
      '',
    ].join('\n'));
  });

  it('fits a terminal: free text is cut with … by display width; numbers and short columns stay whole', () => {
    type U = { id: number; user: string; note: string };
    const cols: Column<U>[] = [
      { header: 'id', value: (r) => r.id, align: 'right' },
      { header: 'user', value: (r) => r.user, shrink: true },
      { header: 'note', value: (r) => r.note, shrink: true },
    ];
    const out = terminal(30);
    new Output({ color: false }, out.stream, sink()).table(
      [{ id: 7, user: 'ユーザーユーザー', note: 'a note far too long for the terminal' }, { id: 12, user: 'bob', note: 'short' }],
      cols,
    );
    const lines = out.text().trimEnd().split('\n');
    // The two free-text columns give up width in turn; a wide character is never split.
    expect(lines).toEqual([
      'id  user          note',
      ' 7  ユーザーユ…   a note far …',
      '12  bob           short',
    ]);
    const wide = capture();
    Object.assign(wide.stream as object, { isTTY: true, columns: 30 });
    new Output({ color: false, wide: true }, wide.stream, sink()).table([{ id: 7, user: 'u', note: 'a note far too long for the terminal' }], cols);
    expect(wide.text()).toContain('a note far too long for the terminal');
  });

  it('wraps advice columns instead of cutting them', () => {
    const out = terminal(24);
    new Output({ color: false }, out.stream, sink()).table(
      [{ name: 'file mode', detail: 'Run `chmod 600 /srv/app.db` now' }],
      [{ header: 'check', value: (r) => r.name }, { header: 'detail', value: (r) => r.detail, wrap: true }],
    );
    expect(out.text()).toBe('check      detail\nfile mode  Run `chmod\n           600\n           /srv/app.db`\n           now\n');
  });

  it('TSV and CSV carry whole values, one row a line, with or without the header', async () => {
    const tsv = capture();
    await new Output({ color: false, format: 'tsv' }, tsv.stream, sink()).streamTable(rows, columns);
    expect(tsv.text().split('\n')[0]).toBe('id\tname\ta longer header\tseveral');
    expect(tsv.text().split('\n')[3]).toBe('333\tユーザー\ttwo\\nlines \\x1b[2J\tfirst second \\u202e');
    const csv = capture();
    const o = new Output({ color: false, format: 'csv', headers: false }, csv.stream, sink());
    await o.ready();
    await o.streamTable([{ id: 1, name: 'a, "b"', note: 'x' }], columns);
    expect(csv.text()).toBe('1,"a, ""b""",x,\n');
  });

  it('reads an async source and says when it is empty', async () => {
    async function* none(): AsyncGenerator<Row> {}
    const out = capture();
    expect(await new Output({ color: false }, out.stream, sink()).streamTable(none(), columns, 'Nothing here.')).toBe(0);
    expect(out.text()).toBe('Nothing here.\n');
  });

  it('counts the rows but draws nothing with --json or --quiet', async () => {
    for (const opts of [{ json: true }, { quiet: true }]) {
      const out = capture();
      expect(await new Output(opts, out.stream, sink()).streamTable(rows, columns)).toBe(rows.length);
      expect(out.text()).toBe('');
    }
  });

  it('takes time linear in the rows', async () => {
    const many = (n: number) => Array.from({ length: n }, (_, i) => ({ id: i, name: `user${i % 97}`, note: 'x'.repeat(i % 40) }));
    const time = async (n: number) => {
      const out = new Output({ color: false }, capture().stream, sink());
      const t = performance.now();
      await out.streamTable(many(n), columns);
      return performance.now() - t;
    };
    await time(5000);
    const small = await time(20_000);
    const large = await time(80_000);
    // Four times the rows: well under the sixteen times a quadratic layout takes.
    expect(large / small).toBeLessThan(8);
  });
});
