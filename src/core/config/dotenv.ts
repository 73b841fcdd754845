/**
 * Reads `.env` text the way the app does: it loads the file with
 * python-dotenv (`load_dotenv(".env")`), so authctl follows that parser's
 * grammar rather than Node's or the npm `dotenv` package's, which differ where
 * it matters: a line with a bare key (`DEBUG`) is a key without a value, not
 * the start of a value that swallows the next line; `#` starts a comment only
 * at the start of a value or after whitespace, so `a#b` stays `a#b`; a leading
 * UTF-8 BOM is not part of the first key; `${NAME}` and `${NAME:-default}` are
 * expanded from the environment, then from earlier lines.
 */

const HSPACE = '[^\\S\\r\\n]';
const MULTILINE_SPACE = /\s*/y;
const EXPORT = new RegExp(`(?:export${HSPACE}+)?`, 'y');
const SINGLE_QUOTED_KEY = /'([^']+)'/y;
const UNQUOTED_KEY = /([^=#\s]+)/y;
const WHITESPACE = new RegExp(`${HSPACE}*`, 'y');
const EQUAL_SIGN = new RegExp(`(=${HSPACE}*)`, 'y');
const SINGLE_QUOTED_VALUE = /'((?:\\'|[^'])*)'/y;
const DOUBLE_QUOTED_VALUE = /"((?:\\"|[^"])*)"/y;
const UNQUOTED_VALUE = /([^\r\n]*)/y;
const COMMENT = new RegExp(`(?:${HSPACE}*#[^\\r\\n]*)?`, 'y');
const END_OF_LINE = new RegExp(`${HSPACE}*(?:\\r\\n|\\n|\\r|$)`, 'y');
const REST_OF_LINE = /[^\r\n]*(?:\r\n|\r|\n)?/y;
const VARIABLE = /\$\{([^}:]*)(?::-([^}]*))?\}/g;

const DOUBLE_QUOTE_ESCAPES: Record<string, string> = { '\\': '\\', "'": "'", '"': '"', a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v' };

class ParseError extends Error {}

class Reader {
  pos = 0;
  constructor(readonly text: string) {}
  hasNext(): boolean {
    return this.pos < this.text.length;
  }
  peek(): string {
    return this.text.charAt(this.pos);
  }
  read(regex: RegExp): string[] {
    regex.lastIndex = this.pos;
    const m = regex.exec(this.text);
    if (!m) throw new ParseError();
    this.pos = regex.lastIndex;
    return m.slice(1).map((g) => g ?? '');
  }
}

function parseValue(reader: Reader, precededByWhitespace: boolean): string {
  const c = reader.peek();
  if (c === "'") return reader.read(SINGLE_QUOTED_VALUE)[0]!.replace(/\\([\\'])/g, '$1');
  if (c === '"') return reader.read(DOUBLE_QUOTED_VALUE)[0]!.replace(/\\([\\'"abfnrtv])/g, (_m, e: string) => DOUBLE_QUOTE_ESCAPES[e]!);
  if (c === '' || c === '\n' || c === '\r') return '';
  const part = reader.read(UNQUOTED_VALUE)[0]!;
  // `KEY=  # note` is empty, while `KEY=#value` is the value `#value`.
  if (precededByWhitespace && part.startsWith('#')) return '';
  return part.replace(/\s+#.*/s, '').trimEnd();
}

/** One binding: a key with a value, a key alone (value undefined), or nothing (blank, comment, unparseable line). */
function parseBinding(reader: Reader): { key?: string; value?: string } {
  const start = reader.pos;
  try {
    reader.read(MULTILINE_SPACE);
    if (!reader.hasNext()) return {};
    reader.read(EXPORT);
    if (reader.peek() === '#') {
      reader.read(COMMENT);
      reader.read(END_OF_LINE);
      return {};
    }
    const [key] = reader.peek() === "'" ? reader.read(SINGLE_QUOTED_KEY) : reader.read(UNQUOTED_KEY);
    reader.read(WHITESPACE);
    let value: string | undefined;
    if (reader.peek() === '=') {
      const [equal] = reader.read(EQUAL_SIGN);
      value = parseValue(reader, equal!.length > 1);
    }
    reader.read(COMMENT);
    reader.read(END_OF_LINE);
    return { key, value };
  } catch (err) {
    if (!(err instanceof ParseError)) throw err;
    // Like python-dotenv: skip the rest of a line it cannot parse, and go on.
    reader.pos = Math.max(reader.pos, start);
    reader.read(REST_OF_LINE);
    return {};
  }
}

/**
 * The settings a `.env` text defines, as the app would load them into its
 * environment: keys without a value are left out, and `${NAME}` references
 * resolve against `env` first (load_dotenv does not override the
 * environment), then against earlier lines.
 */
export function parseDotEnv(text: string, env: NodeJS.ProcessEnv = {}): Record<string, string> {
  const reader = new Reader(text.replace(/^\uFEFF/, ''));
  const values: Record<string, string | undefined> = {};
  while (reader.hasNext()) {
    const { key, value } = parseBinding(reader);
    if (key === undefined) continue;
    values[key] =
      value === undefined
        ? undefined
        : value.replace(VARIABLE, (_m, name: string, fallback: string | undefined) => {
            if (env[name] !== undefined) return env[name]!;
            if (name in values) return values[name] ?? '';
            return fallback ?? '';
          });
  }
  const result: Record<string, string> = {};
  for (const [key, value] of Object.entries(values)) if (value !== undefined) result[key] = value;
  return result;
}
