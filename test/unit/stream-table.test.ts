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

describe('Output.streamTable', () => {
  it('draws the same table as Output.table (cli-table3), byte for byte', async () => {
    const a = capture();
    new Output({ color: false }, a.stream, sink()).table(rows, columns);
    const b = capture();
    const n = await new Output({ color: false }, b.stream, sink()).streamTable(rows, columns);
    expect(n).toBe(rows.length);
    expect(b.text()).toBe(a.text());
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
