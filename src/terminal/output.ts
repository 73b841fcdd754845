import { randomBytes } from 'node:crypto';
import { Chalk } from 'chalk';
import { AuthctlError } from '../core/errors/errors.js';
import { COLUMN_GAP, displayWidth, fitWidths, truncate, wrap } from './table.js';

/**
 * Characters a terminal acts on instead of showing, or draws as nothing:
 * C0 controls (tab and newline included), DEL, C1 controls (U+009B is a
 * one-byte CSI), the Unicode line and paragraph separators, and every
 * format character (Cf): the bidirectional embeddings, overrides, isolates
 * and marks, zero-width spaces and joiners, the soft hyphen, the byte-order
 * mark and the invisible tag characters. Also the Hangul fillers, letters
 * that draw as blank space. A name such as `admin` followed by a zero-width
 * space then shows as `admin\u200b`, never as `admin`.
 */
const UNSAFE = /[\p{Cc}\p{Cf}\u2028\u2029\u115f\u1160\u3164\uffa0]/gu;
const SHORT: Record<string, string> = { '\t': '\\t', '\n': '\\n', '\r': '\\r' };

/**
 * Text as it may reach a terminal: every unsafe character is replaced by a
 * visible escape (ESC becomes `\x1b`, U+202E becomes `\u202e`, U+E0041
 * becomes `\u{e0041}`), so content a stored value tried to hide or
 * rearrange shows up instead of acting.
 */
export function terminalSafe(text: string): string {
  return text.replace(UNSAFE, (ch) => {
    const code = ch.codePointAt(0)!;
    if (SHORT[ch]) return SHORT[ch];
    if (code <= 0xff) return `\\x${code.toString(16).padStart(2, '0')}`;
    return code > 0xffff ? `\\u{${code.toString(16)}}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

/**
 * The characters of {@link UNSAFE} that JSON.stringify leaves raw (it
 * escapes only C0 controls, quotes and backslashes): DEL, C1 controls, the
 * line and paragraph separators, format characters and the Hangul fillers.
 */
const JSON_UNSAFE = /[\u007f-\u009f\p{Cf}\u2028\u2029\u115f\u1160\u3164\uffa0]/gu;

/**
 * JSON text that parses to exactly what JSON.stringify's would, with every
 * character a terminal would act on or hide written as a \u escape, so that
 * `--json` piped to a pager or a terminal cannot be made to rearrange or
 * clear it. Such characters only ever occur inside JSON strings, where an
 * escape stands for the same character (astral ones as a surrogate pair).
 */
export function jsonSafe(value: unknown, indent?: number): string {
  return (JSON.stringify(value, null, indent) ?? 'null').replace(JSON_UNSAFE, (ch) =>
    Array.from({ length: ch.length }, (_, i) => `\\u${ch.charCodeAt(i).toString(16).padStart(4, '0')}`).join(''),
  );
}

type Style = (text: string) => string;

/** The styles commands may use; each returns text safe to pass to any Output method. */
export interface Styles {
  readonly level: number;
  readonly bold: Style;
  readonly dim: Style;
  readonly red: Style;
  readonly green: Style;
  readonly yellow: Style;
  readonly cyan: Style;
  readonly grey: Style;
}

/** How tables are printed: aligned columns for people, or whole values for scripts. */
export type TableFormat = 'table' | 'tsv' | 'csv';

export interface OutputOptions {
  json?: boolean;
  quiet?: boolean;
  color?: boolean;
  /** Tables show whole values, whatever the terminal's width. */
  wide?: boolean;
  /** false: tables without their header line. */
  headers?: boolean;
  format?: TableFormat;
}

export interface Column<T> {
  header: string;
  /** A cell; an array is a cell of several lines. */
  value: (row: T) => string | number | boolean | null | undefined | string[];
  /** Free text that may be cut with `…` to fit the terminal (ids, counts and times never are). */
  shrink?: boolean;
  /** Free text that is wrapped onto more lines, not cut, to fit the terminal: advice that must be read whole. */
  wrap?: boolean;
  /** Shown only where whole values are (--wide, a pipe, TSV, CSV): too wide for a terminal and not needed there. */
  wideOnly?: boolean;
  /** A shorter form of the cell for a table fitted to a terminal; `value` is shown wherever values are whole. */
  fitted?: (row: T) => string;
  /** Numbers read best aligned to the right. */
  align?: 'right';
  /** Colours a cell's (possibly cut) text for people. */
  style?: (text: string, c: Styles) => string;
}

/** The streaming table writes about this many characters at a time. */
const CHUNK_CHARS = 256 * 1024;
const EMPTY_ROW: string[] = [];
/** A detail's value keeps at least this many columns, however narrow the terminal. */
const MIN_DETAIL = 20;
/**
 * Colour, as chalk users expect: --no-color and NO_COLOR turn it off;
 * FORCE_COLOR turns it on even on a pipe (1, 2 or 3 pick the palette;
 * 0 or false turn it off); otherwise a terminal gets basic colours.
 */
function colourLevel(flag: boolean | undefined, tty: boolean): 0 | 1 | 2 | 3 {
  if (flag === false) return 0;
  if ('NO_COLOR' in process.env && process.env.NO_COLOR !== '') return 0;
  const force = process.env.FORCE_COLOR;
  if (force !== undefined) {
    if (force === '0' || force.toLowerCase() === 'false') return 0;
    return force === '2' ? 2 : force === '3' ? 3 : 1;
  }
  return tty ? 1 : 0;
}

/**
 * The one place that decides colour, TTY, --json and --quiet. Results go to
 * stdout; the database banner, progress, warnings and errors go to stderr.
 */
export class Output {
  readonly json: boolean;
  readonly quiet: boolean;
  /** Colours for text passed to this Output; the escapes they add are the only ones it lets through. */
  readonly c: Styles;
  readonly stderrIsTTY: boolean;
  readonly format: TableFormat;
  /** stdout is a terminal: pictures (bars, sparklines) instead of plain numbers. */
  readonly pictures: boolean;
  /** The terminal's width, for pictures (80 when it does not say). */
  readonly width: number;
  private readonly headers: boolean;
  /** Tables fit this many columns: the terminal's width (80 when it does not say), unbounded on a pipe or with --wide. */
  private readonly maxWidth: number;
  private csvLine?: (cells: string[]) => string;
  private bannerShown = false;
  /**
   * Stands in for ESC in this Output's own colour codes until the text is
   * written. It holds a random part, so no stored value can forge it.
   */
  private readonly escMark = `\u{F8FF}${randomBytes(8).toString('hex')}`;

  constructor(opts: OutputOptions, private readonly stdout = process.stdout, private readonly stderr = process.stderr) {
    this.json = Boolean(opts.json);
    this.quiet = Boolean(opts.quiet);
    this.format = opts.format ?? 'table';
    this.headers = opts.headers !== false;
    this.maxWidth = opts.wide || !stdout.isTTY ? Infinity : stdout.columns || 80;
    this.pictures = Boolean(stdout.isTTY) && this.format === 'table';
    this.width = stdout.columns || 80;
    const chalk = new Chalk({ level: colourLevel(opts.color, Boolean(stdout.isTTY)) });
    const style = (fn: Style): Style => (text) => fn(terminalSafe(String(text))).replaceAll('\x1b', this.escMark);
    this.c = {
      level: chalk.level,
      bold: style(chalk.bold),
      dim: style(chalk.dim),
      red: style(chalk.red),
      green: style(chalk.green),
      yellow: style(chalk.yellow),
      cyan: style(chalk.cyan),
      grey: style(chalk.grey),
    };
    this.stderrIsTTY = Boolean(stderr.isTTY);
  }

  /**
   * The one gate for human output: control characters from data become
   * visible escapes, and only this Output's own colour codes stay codes.
   */
  safe(text: string): string {
    return terminalSafe(text).replaceAll(this.escMark, '\x1b');
  }

  /** Human output starts by naming the database, so nobody wonders which file changed. */
  banner(display: string): void {
    if (this.bannerShown || this.json || this.quiet) return;
    this.bannerShown = true;
    this.stderr.write(this.safe(this.c.dim(`database: ${display}`)) + '\n');
  }

  /** A line of the human result on stdout. */
  line(text = ''): void {
    if (this.json || this.quiet) return;
    this.stdout.write(this.safe(text) + '\n');
  }

  success(text: string): void {
    this.line(this.c.green('✔ ') + text);
  }

  /** A line of the result shown even with --quiet (a problem to act on); never with --json. */
  alert(text: string): void {
    if (this.json) return;
    this.stdout.write(this.safe(text) + '\n');
  }

  /** Shown even with --quiet: a secret that exists nowhere else. */
  secret(label: string, value: string): void {
    if (this.json) return;
    this.stdout.write(`${this.safe(label)}: ${this.safe(value)}\n`);
  }

  info(text: string): void {
    if (this.json || this.quiet) return;
    this.stderr.write(this.safe(text) + '\n');
  }

  warn(text: string): void {
    if (this.json || this.quiet) return;
    this.stderr.write(this.safe(this.c.yellow('warning: ') + text) + '\n');
  }

  /** Feedback to someone answering a prompt: shown whatever the output mode, since they are at the terminal. */
  prompt(text: string): void {
    this.stderr.write(this.safe(text) + '\n');
  }

  /** Progress is for people: only on a TTY, never in JSON or quiet mode. */
  progress(text: string): void {
    if (this.json || this.quiet || !this.stderrIsTTY) return;
    this.stderr.write(`\r\x1b[2K${this.safe(text)}`);
  }

  progressDone(): void {
    if (this.json || this.quiet || !this.stderrIsTTY) return;
    this.stderr.write('\r\x1b[2K');
  }

  /** With --json, stdout is exactly this one document. */
  emitJson(value: unknown): void {
    if (!this.json) return;
    this.stdout.write(jsonSafe(value, 2) + '\n');
  }

  /** A table, drawn as {@link streamTable} draws it. */
  table<T>(rows: T[], allColumns: Column<T>[], empty = 'Nothing to show.'): void {
    if (this.json || this.quiet) return;
    const columns = this.shownColumns(allColumns);
    const cells = rows.map((row) => this.cellsOf(row, columns));
    if (cells.length === 0) {
      this.emptyListing(empty, columns);
      return;
    }
    for (const chunk of this.layout(cells, columns)) this.stdout.write(chunk);
  }

  /**
   * No rows: people read `empty` in place of the table; TSV and CSV keep
   * stdout data (the header line alone, unless --no-headers) and say it on
   * stderr, as note() does.
   */
  private emptyListing<T>(empty: string, columns: Column<T>[]): void {
    if (this.format === 'table') {
      this.line(this.c.dim(empty));
      return;
    }
    for (const chunk of this.layout([], columns)) this.stdout.write(chunk);
    this.info(empty);
  }

  /**
   * The one table renderer, for listings of any size: time linear in the
   * rows, written in chunks as the pipe takes them. Rows may come from an
   * async source such as a database cursor; each becomes its cell strings at
   * once (column widths need them all). Returns how many rows there were
   * (they are counted with --json and --quiet too, but nothing is drawn).
   */
  async streamTable<T>(rows: AsyncIterable<T> | Iterable<T>, allColumns: Column<T>[], empty = 'Nothing to show.'): Promise<number> {
    const draw = !this.json && !this.quiet;
    const columns = this.shownColumns(allColumns);
    const cells: string[][] = [];
    let count = 0;
    for await (const row of rows) {
      count++;
      if (draw) cells.push(this.cellsOf(row, columns));
    }
    if (!draw) return count;
    if (count === 0) {
      this.emptyListing(empty, columns);
      return 0;
    }
    for (const chunk of this.layout(cells, columns)) await this.write(chunk);
    return count;
  }

  /** A line about a listing ("Showing 50 of 200"): beside the table for people, on stderr when stdout is TSV or CSV. */
  note(text: string): void {
    if (this.format === 'table') this.line(this.c.dim(text));
    else this.info(text);
  }

  /** Loads what the chosen format needs, before anything is drawn. */
  async ready(): Promise<void> {
    if (this.format === 'csv' && !this.csvLine) {
      const { stringify } = await import('csv-stringify/sync');
      this.csvLine = (cells) => stringify([cells], { eof: true, record_delimiter: 'unix' });
    }
  }

  /** The columns to draw: all of them, unless the table is fitted to a terminal. */
  private shownColumns<T>(columns: Column<T>[]): Column<T>[] {
    return this.fitting ? columns.filter((col) => !col.wideOnly) : columns;
  }

  /** Whether tables are fitted to a terminal's width rather than showing whole values. */
  private get fitting(): boolean {
    return this.format === 'table' && Number.isFinite(this.maxWidth);
  }

  /** A row's cells as safe text (no control characters); a several-line cell keeps its lines. */
  private cellsOf<T>(row: T, columns: Column<T>[]): string[] {
    const fitting = this.fitting;
    return columns.map((col) => {
      const v = fitting && col.fitted ? col.fitted(row) : col.value(row);
      if (Array.isArray(v)) return v.map((part) => terminalSafe(part)).join('\n');
      return v === null || v === undefined ? '' : terminalSafe(String(v));
    });
  }

  /**
   * The rows in the chosen format, in chunks. Tables fit the terminal's
   * width (free text is cut with `…`; --wide or a pipe shows whole values),
   * with no rule between rows. Each row's cells are released once drawn.
   */
  private *layout<T>(cells: string[][], columns: Column<T>[]): Generator<string> {
    const headers = columns.map((col) => terminalSafe(col.header));
    if (this.format !== 'table') {
      const line = this.format === 'csv'
        ? this.csvLine!
        : (texts: string[]) => `${texts.join('\t')}\n`;
      // Whole values; a several-line cell becomes one line. Cells are terminal-safe, so a stored tab is already the text \t.
      const flat = (texts: string[]) => line(texts.map((t) => t.replaceAll('\n', ' ')));
      let chunk = this.headers ? flat(headers) : '';
      for (let r = 0; r < cells.length; r++) {
        chunk += flat(cells[r]!);
        cells[r] = EMPTY_ROW;
        if (chunk.length >= CHUNK_CHARS) {
          yield chunk;
          chunk = '';
        }
      }
      yield chunk;
      return;
    }
    const natural = headers.map((h) => (this.headers ? displayWidth(h) : 0));
    for (const row of cells) {
      for (let i = 0; i < row.length; i++) {
        const text = row[i]!;
        const w = text.includes('\n') ? Math.max(...text.split('\n').map(displayWidth)) : displayWidth(text);
        if (w > natural[i]!) natural[i] = w;
      }
    }
    const widths = fitWidths(natural, columns.map((col) => Boolean(col.shrink || col.wrap)), this.maxWidth);
    const gap = ' '.repeat(COLUMN_GAP);
    const last = columns.length - 1;
    const rowText = (texts: string[], head: boolean) => {
      const split = texts.map((t, i) => {
        const parts = t.includes('\n') ? t.split('\n') : [t];
        return !head && columns[i]!.wrap ? parts.flatMap((part) => wrap(part, widths[i]!)) : parts;
      });
      const height = Math.max(...split.map((l) => l.length));
      let out = '';
      for (let k = 0; k < height; k++) {
        let line = '';
        for (let i = 0; i <= last; i++) {
          const text = truncate(split[i]![k] ?? '', widths[i]!);
          const shown = head ? this.c.bold(text) : (text && columns[i]!.style?.(text, this.c)) || text;
          const fill = ' '.repeat(widths[i]! - displayWidth(text));
          line += columns[i]!.align === 'right' ? fill + shown : shown + (i < last ? fill : '');
          if (i < last) line += gap;
        }
        out += `${this.safe(line.trimEnd())}\n`;
      }
      return out;
    };
    let chunk = this.headers ? rowText(headers, true) : '';
    for (let r = 0; r < cells.length; r++) {
      chunk += rowText(cells[r]!, false);
      cells[r] = EMPTY_ROW;
      if (chunk.length >= CHUNK_CHARS) {
        yield chunk;
        chunk = '';
      }
    }
    yield chunk;
  }

  /**
   * A command's data (an export file's text) on stdout, shown even with
   * --quiet: as is into a pipe or file, so it can be read back exactly; on a
   * terminal every control character but the line breaks is made visible.
   */
  async data(text: string): Promise<void> {
    if (this.json) return;
    await this.write(this.stdout.isTTY ? text.split('\n').map(terminalSafe).join('\n') : text);
  }

  /**
   * Writes to stdout, waiting when the pipe is full rather than buffering
   * without bound. Output with nowhere to go (the reader left, the disk is
   * full: the stream is destroyed and never drains) is dropped, so that the
   * command still finishes; cli.ts reports the loss.
   */
  private write(text: string): Promise<void> {
    return new Promise((resolve) => {
      if (this.stdout.destroyed || this.stdout.write(text)) {
        resolve();
        return;
      }
      const done = () => {
        this.stdout.off('drain', done);
        this.stdout.off('close', done);
        resolve();
      };
      this.stdout.once('drain', done);
      this.stdout.once('close', done);
    });
  }

  /** Key/value pairs, for `show`-style commands; on a terminal each value is cut to fit its line. */
  details(pairs: Array<[string, string | number | boolean | null | undefined]>): void {
    if (this.json || this.quiet) return;
    const width = Math.max(...pairs.map(([k]) => k.length));
    const room = Math.max(MIN_DETAIL, this.maxWidth - width - 2);
    for (const [k, v] of pairs) {
      const text = v === null || v === undefined ? '-' : terminalSafe(String(v));
      this.line(`${this.c.bold(k.padEnd(width))}  ${truncate(text, room)}`);
    }
  }

  error(err: AuthctlError): void {
    if (this.json) {
      this.stderr.write(jsonSafe({ error: err.toJSON() }) + '\n');
      return;
    }
    this.stderr.write(this.safe(`${this.c.red('error:')} ${err.message}`) + '\n');
    for (const line of err.details ?? []) this.stderr.write(this.safe(`  ${line}`) + '\n');
    if (err.hint) this.stderr.write(this.safe(`${this.c.dim('hint:')} ${err.hint}`) + '\n');
  }
}
