import type { ChalkInstance } from 'chalk';
import { Chalk } from 'chalk';
import Table from 'cli-table3';
import { AuthctlError } from './core/errors.js';

export interface OutputOptions {
  json?: boolean;
  quiet?: boolean;
  color?: boolean;
}

export interface Column<T> {
  header: string;
  value: (row: T) => string | number | boolean | null | undefined;
}

/**
 * The one place that decides colour, TTY, --json and --quiet. Results go to
 * stdout; the database banner, progress, warnings and errors go to stderr.
 */
export class Output {
  readonly json: boolean;
  readonly quiet: boolean;
  readonly c: ChalkInstance;
  readonly stderrIsTTY: boolean;
  private bannerShown = false;

  constructor(opts: OutputOptions, private readonly stdout = process.stdout, private readonly stderr = process.stderr) {
    this.json = Boolean(opts.json);
    this.quiet = Boolean(opts.quiet);
    const colour =
      opts.color !== false && !('NO_COLOR' in process.env && process.env.NO_COLOR !== '') && Boolean(stdout.isTTY);
    this.c = new Chalk({ level: colour ? 1 : 0 });
    this.stderrIsTTY = Boolean(stderr.isTTY);
  }

  /** Human output starts by naming the database, so nobody wonders which file changed. */
  banner(display: string): void {
    if (this.bannerShown || this.json || this.quiet) return;
    this.bannerShown = true;
    this.stderr.write(this.c.dim(`database: ${display}`) + '\n');
  }

  /** A line of the human result on stdout. */
  line(text = ''): void {
    if (this.json || this.quiet) return;
    this.stdout.write(text + '\n');
  }

  success(text: string): void {
    this.line(this.c.green('✔ ') + text);
  }

  /** Shown even with --quiet: a secret that exists nowhere else. */
  secret(label: string, value: string): void {
    if (this.json) return;
    this.stdout.write(`${label}: ${value}\n`);
  }

  info(text: string): void {
    if (this.json || this.quiet) return;
    this.stderr.write(text + '\n');
  }

  warn(text: string): void {
    if (this.json || this.quiet) return;
    this.stderr.write(this.c.yellow('warning: ') + text + '\n');
  }

  /** Progress is for people: only on a TTY, never in JSON or quiet mode. */
  progress(text: string): void {
    if (this.json || this.quiet || !this.stderrIsTTY) return;
    this.stderr.write(`\r\x1b[2K${text}`);
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
      head: columns.map((col) => col.header),
      style: { head: this.c.level > 0 ? ['cyan'] : [], border: this.c.level > 0 ? ['grey'] : [] },
    });
    for (const row of rows) {
      table.push(columns.map((col) => {
        const v = col.value(row);
        return v === null || v === undefined ? '' : String(v);
      }));
    }
    this.stdout.write(table.toString() + '\n');
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
    this.stderr.write(`${this.c.red('error:')} ${err.message}\n`);
    if (err.hint) this.stderr.write(`${this.c.dim('hint:')} ${err.hint}\n`);
  }
}
