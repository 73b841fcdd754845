import { randomBytes } from 'node:crypto';
import { Chalk } from 'chalk';
import Table from 'cli-table3';
import stringWidth from 'string-width';
import { AuthctlError } from '../core/errors/errors.js';

/**
 * Characters a terminal acts on instead of showing: C0 controls (tab and
 * newline included), DEL, C1 controls (U+009B is a one-byte CSI), the
 * bidirectional embeddings, overrides and isolates (U+202A-U+202E,
 * U+2066-U+2069) and the Unicode line and paragraph separators.
 */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
const SHORT: Record<string, string> = { '\t': '\\t', '\n': '\\n', '\r': '\\r' };

/**
 * Text as it may reach a terminal: every unsafe character is replaced by a
 * visible escape (ESC becomes `\x1b`, U+202E becomes `\u202e`), so content a
 * stored value tried to hide or rearrange shows up instead of acting.
 */
export function terminalSafe(text: string): string {
  return text.replace(UNSAFE, (ch) => {
    const code = ch.charCodeAt(0);
    return SHORT[ch] ?? (code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`);
  });
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

export interface OutputOptions {
  json?: boolean;
  quiet?: boolean;
  color?: boolean;
}

export interface Column<T> {
  header: string;
  /** A cell; an array is a cell of several lines. */
  value: (row: T) => string | number | boolean | null | undefined | string[];
}

/** The streaming table writes about this many characters at a time. */
const CHUNK_CHARS = 256 * 1024;
const EMPTY_ROW: string[] = [];
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

/** Terminal columns a cell takes: its widest line, counting wide characters as two. */
function cellWidth(text: string): number {
  if (PRINTABLE_ASCII.test(text)) return text.length;
  let widest = 0;
  for (const line of text.split(/\r?\n/)) widest = Math.max(widest, stringWidth(line));
  return widest;
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
  private bannerShown = false;
  /**
   * Stands in for ESC in this Output's own colour codes until the text is
   * written. It holds a random part, so no stored value can forge it.
   */
  private readonly escMark = `\u{F8FF}${randomBytes(8).toString('hex')}`;

  constructor(opts: OutputOptions, private readonly stdout = process.stdout, private readonly stderr = process.stderr) {
    this.json = Boolean(opts.json);
    this.quiet = Boolean(opts.quiet);
    const colour =
      opts.color !== false && !('NO_COLOR' in process.env && process.env.NO_COLOR !== '') && Boolean(stdout.isTTY);
    const chalk = new Chalk({ level: colour ? 1 : 0 });
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
    this.stdout.write(JSON.stringify(value, null, 2) + '\n');
  }

  table<T>(rows: T[], columns: Column<T>[], empty = 'Nothing to show.'): void {
    if (this.json || this.quiet) return;
    if (rows.length === 0) {
      this.line(this.c.dim(empty));
      return;
    }
    const table = new Table({
      head: columns.map((col) => this.safe(col.header)),
      style: { head: this.c.level > 0 ? ['cyan'] : [], border: this.c.level > 0 ? ['grey'] : [] },
    });
    for (const row of rows) {
      table.push(columns.map((col) => {
        const v = col.value(row);
        if (Array.isArray(v)) return v.map((part) => this.safe(part)).join('\n');
        return v === null || v === undefined ? '' : this.safe(String(v));
      }));
    }
    this.stdout.write(table.toString() + '\n');
  }

  /**
   * The same table as {@link table}, drawn in time linear in its size, for
   * listings that may run to many thousands of rows (cli-table3's layout
   * is quadratic in the number of rows). Rows may come from an async source
   * such as a database cursor; each is turned into its cell strings at once
   * (the row objects are not kept, the strings are: column widths need them
   * all), and the table is written in chunks.
   * Returns how many rows there were (they are read with --json and --quiet
   * too, but nothing is drawn).
   */
  async streamTable<T>(rows: AsyncIterable<T> | Iterable<T>, columns: Column<T>[], empty = 'Nothing to show.'): Promise<number> {
    const draw = !this.json && !this.quiet;
    const headers = columns.map((col) => this.safe(col.header));
    const widths = headers.map(cellWidth);
    const cells: string[][] = [];
    let count = 0;
    for await (const row of rows) {
      count++;
      if (!draw) continue;
      const line = columns.map((col, i) => {
        const v = col.value(row);
        const text = Array.isArray(v) ? v.map((part) => this.safe(part)).join('\n') : v === null || v === undefined ? '' : this.safe(String(v));
        const w = cellWidth(text);
        if (w > widths[i]!) widths[i] = w;
        return text;
      });
      cells.push(line);
    }
    if (!draw) return count;
    if (count === 0) {
      this.line(this.c.dim(empty));
      return 0;
    }
    // Cells are already safe; the colours are this Output's own codes.
    const border = (left: string, mid: string, right: string) =>
      this.safe(this.c.grey(left + widths.map((w) => '─'.repeat(w + 2)).join(mid) + right)) + '\n';
    const bar = this.safe(this.c.grey('│'));
    const head = (text: string) => this.safe(this.c.cyan(text));
    const rowText = (texts: string[], colour?: (s: string) => string) => {
      const split = texts.map((t) => (t.includes('\n') ? t.split(/\r?\n/) : [t]));
      const height = Math.max(...split.map((l) => l.length));
      let out = '';
      for (let k = 0; k < height; k++) {
        out += bar;
        for (let i = 0; i < split.length; i++) {
          const text = split[i]![k] ?? '';
          const pad = ' '.repeat(widths[i]! - cellWidth(text));
          out += ` ${colour && text ? colour(text) : text}${pad} ${bar}`;
        }
        out += '\n';
      }
      return out;
    };
    const separator = border('├', '┼', '┤');
    let chunk = border('┌', '┬', '┐') + rowText(headers, this.c.level > 0 ? head : undefined);
    for (let r = 0; r < cells.length; r++) {
      chunk += separator + rowText(cells[r]!);
      cells[r] = EMPTY_ROW;
      if (chunk.length >= CHUNK_CHARS) {
        await this.write(chunk);
        chunk = '';
      }
    }
    await this.write(chunk + border('└', '┴', '┘'));
    return count;
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

  /** Writes to stdout, waiting when the pipe is full rather than buffering without bound. */
  private write(text: string): Promise<void> {
    return new Promise((resolve) => {
      if (this.stdout.write(text)) resolve();
      else this.stdout.once('drain', () => resolve());
    });
  }

  /** Key/value pairs, for `show`-style commands. */
  details(pairs: Array<[string, string | number | boolean | null | undefined]>): void {
    if (this.json || this.quiet) return;
    const width = Math.max(...pairs.map(([k]) => k.length));
    for (const [k, v] of pairs) this.line(`${this.c.bold(k.padEnd(width))}  ${v === null || v === undefined ? '-' : String(v)}`);
  }

  error(err: AuthctlError): void {
    if (this.json) {
      this.stderr.write(JSON.stringify({ error: err.toJSON() }) + '\n');
      return;
    }
    this.stderr.write(this.safe(`${this.c.red('error:')} ${err.message}`) + '\n');
    for (const line of err.details ?? []) this.stderr.write(this.safe(`  ${line}`) + '\n');
    if (err.hint) this.stderr.write(this.safe(`${this.c.dim('hint:')} ${err.hint}`) + '\n');
  }
}
