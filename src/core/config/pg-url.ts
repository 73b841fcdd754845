import { usageError } from '../errors/errors.js';
import { redactUrl, redactWholeUrl, rememberSecret } from './secrets.js';

/** A PostgreSQL URL taken apart, every part percent-decoded. */
export interface PgUrlParts {
  user?: string;
  password?: string;
  /** A host name, an IP address, or (starting with "/") the folder of a Unix socket. */
  host?: string;
  port?: number;
  database?: string;
  /** The query parameters, in order; `host`, `port`, `user`, `password` and `dbname` among them win over the URL's own. */
  params: Array<[string, string]>;
}

/** The sslmode values libpq knows, and the `ssl=` values asyncpg takes for them. */
export const SSL_MODES = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'] as const;
export type SslMode = (typeof SSL_MODES)[number];

/** Maps an `sslmode=` or asyncpg `ssl=` value to libpq's mode, or undefined when it is none of them. */
export function sslModeOf(value: string): SslMode | undefined {
  const v = value.trim().toLowerCase();
  if ((SSL_MODES as readonly string[]).includes(v)) return v as SslMode;
  // asyncpg's ssl=True builds a default SSL context, which verifies the certificate and the host name.
  if (v === 'true' || v === 'on' || v === '1') return 'verify-full';
  if (v === 'false' || v === 'off' || v === '0') return 'disable';
  // node-postgres's own spelling of "encrypt, do not verify".
  if (v === 'no-verify') return 'require';
  return undefined;
}

const HINT =
  'Use postgresql://<user>:<password>@<host>:5432/<dbname>, or postgresql://<user>:<password>@/<dbname>?host=/run/postgresql for a Unix socket; percent-encode @ : / ? # % in the user name and password (%40 %3A %2F %3F %23 %25).';

/**
 * What follows the credentials: a host (or an IPv6 address in brackets), a
 * port, a database and the query, none but the query holding "@". The loose
 * form lets the database hold "/" and "@" (but takes only a numeric port), to
 * find every other place the URL could be split.
 */
const TAIL = /^(\[[^\]/?#@]*\]|[^/?#@:[\]]*)(?::([^/?#@]*))?(\/[^?#@]*)?(?:\?([^#]*))?$/;
const LOOSE_TAIL = /^(\[[^\]/?#@]*\]|[^/?#@:[\]]*)(?::(\d*))?(\/[^?#]*)?(?:\?([^#]*))?$/;

/** A query is `name=value` pairs joined by "&", each name a word, as every libpq and asyncpg parameter is. */
const wellFormedQuery = (q: string | undefined) => q === undefined || q.split('&').every((pair) => pair === '' || /^[\w.%-]+=/.test(pair));

function decode(text: string, what: string, fail: (why: string) => Error, plus = false): string {
  try {
    return decodeURIComponent(plus ? text.replace(/\+/g, ' ') : text);
  } catch {
    throw fail(`${what} holds a "%" that is not followed by two hex digits`);
  }
}

/**
 * Takes a PostgreSQL URL apart the way libpq and SQLAlchemy do, including
 * what the WHATWG URL parser refuses or splits differently: a Unix socket
 * given as `?host=/dir` after credentials (`postgresql://u:pw@/db?host=/dir`),
 * and a raw "?", "#" or "/" in the password, which both the app and libpq
 * take as part of it. The credentials end at the "@" after which a host,
 * port, database and well-formed query follow; when more than one "@" could
 * end them, the URL is refused rather than guessed, since a wrong guess would
 * connect elsewhere and could print part of the password.
 */
export function parsePgUrl(url: string, scheme = url.slice(0, url.indexOf(':'))): PgUrlParts {
  const fail = (why: string) => usageError(`PostgreSQL URL "${redactWholeUrl(url)}" is malformed: ${why}.`, HINT);
  const afterScheme = url.slice(scheme.length + 1);
  if (!afterScheme.startsWith('//')) throw fail(`"${scheme}:" must be followed by "//"`);
  const rest = afterScheme.slice(2);

  const ats = [...rest.matchAll(/@/g)].map((m) => m.index!);
  // Until it is known where they end, everything between the first ":" and the last "@" may be password.
  if (ats.length) {
    const creds = rest.slice(0, ats.at(-1));
    if (creds.includes(':')) rememberSecret(creds.slice(creds.indexOf(':') + 1));
  }
  const splits = (tail: RegExp) =>
    [-1, ...ats]
      .map((at) => ({ at, m: tail.exec(rest.slice(at + 1)) }))
      .filter(({ at, m }) => m && wellFormedQuery(m[4]) && !(at >= 0 && /[/?#]/.test(rest.slice(0, at).split(':')[0]!)));
  const candidates = splits(TAIL);
  const possible = splits(LOOSE_TAIL);
  if (candidates.length > 1 || possible.length > 1) throw fail('more than one "@" in it could end the user name and password');
  if (candidates.length === 0) {
    if (possible.length === 1) {
      const database = possible[0]!.m![3]!.slice(1);
      throw fail(`the database name "${redactUrl(database)}" holds "/" or "@"`);
    }
    if (rest.slice((ats.at(-1) ?? -1) + 1).includes('#')) throw fail('it has a "#" fragment (percent-encode a "#" in the password as %23)');
    throw fail('it cannot be parsed as a URL');
  }
  const { at, m } = candidates[0]!;
  const parts: PgUrlParts = { params: [] };
  if (at >= 0) {
    const creds = rest.slice(0, at);
    const colon = creds.indexOf(':');
    parts.user = decode(colon >= 0 ? creds.slice(0, colon) : creds, 'the user name', fail);
    if (colon >= 0) {
      const raw = creds.slice(colon + 1);
      rememberSecret(raw);
      parts.password = decode(raw, 'the password', fail);
      rememberSecret(parts.password);
    }
    if (parts.user === '') parts.user = undefined;
  }
  const [, hostRaw, portRaw, pathRaw, query] = m!;
  const host = decode(hostRaw!.replace(/^\[(.*)\]$/, '$1'), 'the host', fail);
  if (host) parts.host = host;
  const port = (raw: string, where: string) => {
    if (!/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > 65535) {
      throw fail(`the port${where} "${raw}" is not a number from 1 to 65535`);
    }
    return Number(raw);
  };
  // libpq and asyncpg take `h1:p1,h2:p2` and fail over between the servers,
  // to whichever accepts first: a standby among them would take authctl's
  // connection and refuse its writes. authctl needs the primary, named alone.
  const several = (where: string) =>
    usageError(
      `PostgreSQL URL "${redactWholeUrl(url)}" names several servers (${where}); authctl connects to one.`,
      "Give the primary server's host alone (authctl writes, which a standby refuses), for example postgresql://<user>:<password>@db1:5432/gpustack_ui.",
    );
  if (`${hostRaw}:${portRaw ?? ''}`.includes(',')) throw several(`${hostRaw}${portRaw === undefined ? '' : `:${portRaw}`}`);
  if (portRaw) parts.port = port(portRaw, '');
  if (pathRaw && pathRaw !== '/') {
    const database = pathRaw.slice(1);
    // A raw "/" in the database name means the URL was split in the wrong place; %2F is deliberate.
    if (/\//.test(database)) throw fail(`the database name "${redactUrl(database)}" holds "/" or "@"`);
    parts.database = decode(database, 'the database name', fail);
  }
  for (const pair of (query ?? '').split('&')) {
    if (!pair) continue;
    const eq = pair.indexOf('=');
    const key = decode(pair.slice(0, eq), 'a parameter name', fail, true);
    const value = decode(pair.slice(eq + 1), `the parameter ${key}`, fail, true);
    if (/pass/i.test(key)) {
      rememberSecret(pair.slice(eq + 1));
      rememberSecret(value);
    }
    parts.params.push([key, value]);
  }
  const hostParams = parts.params.filter(([key, value]) => (key === 'host' || key === 'port') && value.includes(','));
  if (hostParams.length > 0 || parts.params.filter(([key]) => key === 'host').length > 1) {
    throw several(parts.params.filter(([key]) => key === 'host' || key === 'port').map(([k, v]) => `${k}=${v}`).join('&'));
  }
  for (const [key, value] of parts.params) {
    if (key === 'host' && value) parts.host = value;
    else if (key === 'port' && value) parts.port = port(value, ' parameter');
    else if (key === 'user' && value) parts.user = value;
    else if (key === 'password') parts.password = value;
    else if (key === 'dbname' && value) parts.database = value;
    else if (key === 'sslmode' || key === 'ssl') {
      if (!sslModeOf(value)) {
        throw usageError(
          `PostgreSQL URL "${redactWholeUrl(url)}" has ${key}=${value}, which is not an SSL mode.`,
          `Use ${key}= one of ${SSL_MODES.join(', ')}${key === 'ssl' ? ' (or true, false)' : ''}.`,
        );
      }
    }
  }
  return parts;
}

/** The last value of a query parameter, as libpq takes it. */
export function param(parts: PgUrlParts, name: string): string | undefined {
  let value: string | undefined;
  for (const [k, v] of parts.params) if (k === name) value = v;
  return value;
}

/**
 * The same target as a well-formed URL that parsePgUrl reads back exactly:
 * every part percent-encoded, a Unix socket folder as `?host=`.
 */
export function formatPgUrl(parts: PgUrlParts, opts: { redact?: boolean; params?: boolean } = {}): string {
  const enc = encodeURIComponent;
  let creds = '';
  if (parts.user !== undefined || parts.password !== undefined) {
    creds = `${enc(parts.user ?? '')}${parts.password !== undefined ? `:${opts.redact ? '***' : enc(parts.password)}` : ''}@`;
  }
  const socket = parts.host?.startsWith('/');
  const host = !parts.host || socket ? '' : parts.host.includes(':') ? `[${parts.host}]` : enc(parts.host);
  const port = parts.port !== undefined ? `:${parts.port}` : '';
  const database = parts.database !== undefined ? enc(parts.database) : '';
  const query: string[] = [];
  if (socket) query.push(`host=${opts.redact ? parts.host : enc(parts.host!)}`);
  if (opts.params !== false) {
    for (const [k, v] of parts.params) {
      if (['host', 'port', 'user', 'password', 'dbname'].includes(k)) continue;
      query.push(`${enc(k)}=${enc(v)}`);
    }
  }
  return `postgresql://${creds}${host}${port}/${database}${query.length ? `?${query.join('&')}` : ''}`;
}
