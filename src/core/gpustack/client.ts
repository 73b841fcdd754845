import { createFetch, type FetchContext, type FetchError } from 'ofetch';
import { redactUrl } from '../config/config.js';
import { echoServerText, rememberSecret } from '../config/secrets.js';
import { AuthctlError, ExitCode, usageError } from '../errors/errors.js';
import { createNodeTransport, TransportTimeoutError, type Transport } from './transport.js';

/** Where GPUStack is and the key to use; the key is never printed or logged. */
export interface GpustackSettings {
  baseUrl: string;
  token: string;
}

export interface ClientTuning {
  connectTimeoutMs: number;
  readTimeoutMs: number;
  /** Retries after the first attempt, for network errors, 408, 429 and 5xx. */
  retries: number;
  /** The first backoff; each retry doubles it, with full jitter, up to maxDelayMs. */
  retryBaseMs: number;
  maxDelayMs: number;
  /** List pages requested at once during a sync. */
  pageConcurrency: number;
}

/**
 * With these defaults a dead server gives up after at most four attempts:
 * about 20 s when connections hang, 40 s when the server accepts but never
 * answers, and a few seconds when the connection is refused.
 */
export const DEFAULT_TUNING: ClientTuning = {
  connectTimeoutMs: 5000,
  readTimeoutMs: 10_000,
  retries: 3,
  retryBaseMs: 500,
  maxDelayMs: 4000,
  pageConcurrency: 4,
};

/** Each tuning variable, the range it may take, and where it goes. */
const TUNING_VARIABLES: Array<{ name: string; key: Exclude<keyof ClientTuning, 'maxDelayMs'>; min: number; max: number }> = [
  { name: 'AUTHCTL_GPUSTACK_CONNECT_TIMEOUT_MS', key: 'connectTimeoutMs', min: 1, max: 600_000 },
  { name: 'AUTHCTL_GPUSTACK_TIMEOUT_MS', key: 'readTimeoutMs', min: 1, max: 600_000 },
  { name: 'AUTHCTL_GPUSTACK_RETRIES', key: 'retries', min: 0, max: 10 },
  { name: 'AUTHCTL_GPUSTACK_RETRY_BASE_MS', key: 'retryBaseMs', min: 0, max: 60_000 },
  { name: 'AUTHCTL_GPUSTACK_CONCURRENCY', key: 'pageConcurrency', min: 1, max: 16 },
];

/**
 * Operators (and tests) can tune timeouts and retries through the
 * environment. A value that is not a whole number in range is a usage error
 * rather than quietly replaced, so a typo cannot turn into a different policy.
 */
export function tuningFromEnv(env: NodeJS.ProcessEnv): ClientTuning {
  const tuning: ClientTuning = { ...DEFAULT_TUNING };
  for (const { name, key, min, max } of TUNING_VARIABLES) {
    const raw = env[name]?.trim();
    if (raw === undefined || raw === '') continue;
    const value = /^\d+$/.test(raw) ? Number(raw) : NaN;
    if (!(value >= min && value <= max)) {
      throw usageError(
        `${name} must be a whole number from ${min} to ${max}, not "${echoServerText(raw, [], 40)}".`,
        `Fix or unset ${name} (default ${DEFAULT_TUNING[key]}).`,
      );
    }
    tuning[key] = value;
  }
  return tuning;
}

export type ApiVersion = 'v2' | 'v1';

export interface RetryNotice {
  path: string;
  /** 1-based number of the attempt that failed. */
  attempt: number;
  attempts: number;
  reason: string;
  delayMs: number;
}

/** A GPUStack user as the list and `me` routes return it (only the fields sync uses). */
export interface GpustackUser {
  id: number;
  username: string;
  full_name: string | null;
  is_admin: boolean;
  /** 0.x servers have no such field: every user counts as active there. */
  is_active: boolean;
  source: string | null;
}

export interface UsersPage {
  items: GpustackUser[];
  page: number;
  perPage: number;
  total: number;
  totalPage: number;
}

export interface ServerVersion {
  version: string;
  gitCommit: string | null;
}

const RETRY_STATUSES = [408, 429, ...Array.from({ length: 100 }, (_, i) => 500 + i)];

/** The body of a response, as text and (when it is JSON) as a value. */
interface Body {
  text: string;
  json: unknown;
  isJson: boolean;
}

function readBody(text: string | undefined): Body {
  const raw = text ?? '';
  try {
    return { text: raw, json: JSON.parse(raw), isJson: true };
  } catch {
    return { text: raw, json: undefined, isJson: false };
  }
}

/** FastAPI's answer for a path that has no route: how a v2 client recognises a 0.x server. */
export function isNoRoute(status: number, body: Body): boolean {
  return (
    status === 404 &&
    body.isJson &&
    typeof body.json === 'object' &&
    body.json !== null &&
    (body.json as { detail?: unknown }).detail === 'Not Found'
  );
}

/**
 * The server's own explanation, safe to print: a server or a proxy may echo
 * the request's Authorization header, so the key is scrubbed from it, and it
 * is cut short so a huge body cannot flood the terminal or a log.
 */
function serverMessage(body: Body, token: string): string | undefined {
  if (!body.isJson || typeof body.json !== 'object' || body.json === null) return undefined;
  const { message, detail } = body.json as { message?: unknown; detail?: unknown };
  const said = typeof message === 'string' && message ? message : typeof detail === 'string' && detail ? detail : undefined;
  return said === undefined ? undefined : echoServerText(said, [token]);
}

function describeNetworkError(err: unknown): { code: string; text: string } {
  if (err instanceof TransportTimeoutError) {
    return { code: 'GPUSTACK_TIMEOUT', text: err.phase === 'connect' ? `connecting timed out after ${err.ms} ms` : `no answer within ${err.ms} ms` };
  }
  const e = (err ?? {}) as { code?: string; message?: string };
  const known: Record<string, string> = {
    ECONNREFUSED: 'connection refused',
    ECONNRESET: 'connection reset by the server',
    ENOTFOUND: 'host name not found',
    EAI_AGAIN: 'host name lookup failed',
    EHOSTUNREACH: 'host unreachable',
    ENETUNREACH: 'network unreachable',
    EPIPE: 'connection closed by the server',
  };
  if (e.code && known[e.code]) return { code: 'GPUSTACK_UNREACHABLE', text: known[e.code]! };
  if (e.code && /CERT|SSL|TLS/i.test(e.code)) return { code: 'GPUSTACK_TLS', text: `TLS error (${e.code})` };
  return { code: 'GPUSTACK_UNREACHABLE', text: e.code ? echoServerText(`${e.code}`, [], 60) : echoServerText(String(e.message ?? err)) };
}

/** The status line; its reason phrase is the server's text, so it is scrubbed and short. */
function statusLine(status: number, statusText: string, token: string): string {
  const reason = statusText ? echoServerText(statusText, [token], 60) : '';
  return reason ? `${status} ${reason}` : String(status);
}

/**
 * Talks to one GPUStack server. Every failure leaves as an AuthctlError with
 * exit 6 and the server's own message where it sent one.
 */
export class GpustackClient {
  readonly baseUrl: string;
  readonly display: string;
  private readonly transport: Transport;
  private readonly $fetch: ReturnType<typeof createFetch>;
  private readonly token: string;

  constructor(
    settings: GpustackSettings,
    private readonly tuning: ClientTuning = DEFAULT_TUNING,
    private readonly onRetry?: (notice: RetryNotice) => void,
  ) {
    this.baseUrl = normaliseBaseUrl(settings.baseUrl);
    this.display = redactUrl(this.baseUrl);
    this.token = settings.token;
    rememberSecret(settings.token);
    this.transport = createNodeTransport({ connectMs: tuning.connectTimeoutMs, readMs: tuning.readTimeoutMs });
    const attempts = tuning.retries + 1;
    this.$fetch = createFetch({ fetch: this.transport.fetch, Headers, AbortController }).create({
      baseURL: this.baseUrl,
      headers: { Authorization: `Bearer ${settings.token}`, Accept: 'application/json' },
      responseType: 'text',
      retry: tuning.retries,
      retryStatusCodes: RETRY_STATUSES,
      retryDelay: (ctx: FetchContext) => {
        const remaining = typeof ctx.options.retry === 'number' ? ctx.options.retry : 0;
        const attempt = tuning.retries - remaining + 1;
        const delayMs = this.backoff(attempt, ctx.response?.headers.get('retry-after') ?? null);
        this.onRetry?.({
          path: pathOf(ctx.request),
          attempt,
          attempts,
          reason: ctx.response ? statusLine(ctx.response.status, ctx.response.statusText, settings.token) : describeNetworkError(ctx.error).text,
          delayMs,
        });
        return delayMs;
      },
    });
  }

  /** Exponential backoff with full jitter; a server's Retry-After is honoured up to the cap. */
  private backoff(attempt: number, retryAfter: string | null): number {
    const ceiling = Math.min(this.tuning.maxDelayMs, this.tuning.retryBaseMs * 2 ** (attempt - 1));
    const jittered = Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
    const seconds = retryAfter !== null && /^\d+$/.test(retryAfter.trim()) ? Number(retryAfter) * 1000 : 0;
    return Math.max(jittered, Math.min(seconds, this.tuning.maxDelayMs));
  }

  close(): void {
    this.transport.close();
  }

  /** One GET; returns status and body, or throws exit 6 once retries are exhausted. */
  async request(path: string, query?: Record<string, string | number>): Promise<{ status: number; statusText: string; body: Body }> {
    try {
      const response = await this.$fetch.raw<string, 'text'>(path, { query });
      return { status: response.status, statusText: response.statusText, body: readBody(response._data) };
    } catch (err) {
      const fetchError = err as FetchError<string>;
      if (fetchError?.name !== 'FetchError') throw err;
      if (!fetchError.response) {
        const cause = describeNetworkError(fetchError.cause);
        throw new AuthctlError(
          cause.code,
          `Cannot reach GPUStack at ${this.display}: ${cause.text} (${this.tuning.retries + 1} attempts).`,
          ExitCode.gpustack,
          'Check that the server is running and that GPUSTACK_API_BASE (or --url) is right.',
        );
      }
      return { status: fetchError.response.status, statusText: fetchError.response.statusText, body: readBody(fetchError.data) };
    }
  }

  /** Turns a non-2xx answer into the documented error; `what` names the request for the operator. */
  failure(what: string, status: number, body: Body, statusText = ''): AuthctlError {
    const message = serverMessage(body, this.token);
    const said = message ? `: ${message}` : '';
    if (status === 401) {
      return new AuthctlError(
        'GPUSTACK_UNAUTHORIZED',
        `GPUStack rejected the API key while ${what} (401)${said}.`,
        ExitCode.gpustack,
        'Check GPUSTACK_API_TOKEN (or GPUSTACK_API_KEY, --token-file); create a new key in GPUStack if it was deleted or expired.',
      );
    }
    if (status === 403 && message && /api key/i.test(message) && /management/i.test(message)) {
      return new AuthctlError(
        'GPUSTACK_SCOPE',
        `The API key may not use GPUStack's user routes (403)${said}.`,
        ExitCode.gpustack,
        'Create an API key with the `management` scope (or `*`) for a GPUStack admin and configure that one.',
      );
    }
    if (status === 403) {
      return new AuthctlError(
        'GPUSTACK_FORBIDDEN',
        `GPUStack refused ${what} (403)${said}.`,
        ExitCode.gpustack,
        'Use an API key of a GPUStack admin; from GPUStack v2.2 it also needs the `management` scope.',
      );
    }
    if (status === 404) {
      return new AuthctlError(
        'GPUSTACK_NOT_FOUND',
        `GPUStack at ${this.display} has no route for ${what} (404)${said}.`,
        ExitCode.gpustack,
        'Point GPUSTACK_API_BASE (or --url) at the GPUStack server itself, without /v1 or /v2.',
      );
    }
    if (!body.isJson && body.text.trim().startsWith('<')) {
      return new AuthctlError(
        'GPUSTACK_BAD_GATEWAY',
        `GPUStack at ${this.display} answered ${statusLine(status, statusText, this.token)} with an HTML page while ${what}, after ${this.tuning.retries + 1} attempts; a proxy in front of it could not reach it.`,
        ExitCode.gpustack,
        'Check that the GPUStack server behind the proxy is running, then try again.',
      );
    }
    return new AuthctlError(
      status >= 500 ? 'GPUSTACK_SERVER_ERROR' : 'GPUSTACK_UNEXPECTED',
      `GPUStack answered ${statusLine(status, statusText, this.token)} while ${what}${status >= 500 || status === 429 ? ` (after ${this.tuning.retries + 1} attempts)` : ''}${said}.`,
      ExitCode.gpustack,
      status >= 500 ? "Check the GPUStack server's logs, then try again." : 'Check that the URL points at a GPUStack server and that authctl supports its version.',
    );
  }

  unexpected(what: string, detail: string): AuthctlError {
    return new AuthctlError(
      'GPUSTACK_UNEXPECTED',
      `GPUStack at ${this.display} sent an unexpected answer while ${what}: ${detail}.`,
      ExitCode.gpustack,
      'Check that the URL points at a GPUStack server (not its web UI or a proxy page).',
    );
  }

  async healthz(): Promise<void> {
    const { status, statusText, body } = await this.request('/healthz');
    if (status !== 200) throw this.failure('checking /healthz', status, body, statusText);
  }

  /** `/version`, or null when the server has no such route. */
  async version(): Promise<ServerVersion | null> {
    const { status, statusText, body } = await this.request('/version');
    if (status === 404) return null;
    if (status !== 200) throw this.failure('reading /version', status, body, statusText);
    const v = body.json as { version?: unknown; git_commit?: unknown } | undefined;
    if (!body.isJson || typeof v?.version !== 'string') throw this.unexpected('reading /version', 'no version field');
    return { version: v.version, gitCommit: typeof v.git_commit === 'string' ? v.git_commit : null };
  }

  /**
   * Finds which user API the server has, and who the key belongs to. A 0.x
   * server answers FastAPI's `{"detail":"Not Found"}` for /v2 paths, and the
   * reverse is true of a server without /v1; /version only decides which to
   * try first.
   */
  async detectApi(version: ServerVersion | null): Promise<{ api: ApiVersion; me: GpustackUser }> {
    const order: ApiVersion[] = versionMajor(version) === 0 ? ['v1', 'v2'] : ['v2', 'v1'];
    for (const api of order) {
      const { status, statusText, body } = await this.request(`/${api}/users/me`);
      if (isNoRoute(status, body)) continue;
      if (status !== 200) throw this.failure(`reading /${api}/users/me`, status, body, statusText);
      return { api, me: toUser(body, this, `/${api}/users/me`) };
    }
    throw this.unexpected('looking for the user API', 'neither /v2/users/me nor /v1/users/me exists');
  }

  async listUsersPage(api: ApiVersion, page: number, perPage: number): Promise<UsersPage> {
    // Sorting by a unique key keeps pages stable while the list is read; 0.x
    // servers predate sort_by on every field, so they keep their default order.
    const query: Record<string, string | number> = { page, perPage };
    if (api === 'v2') query.sort_by = 'created_at,username';
    const path = `/${api}/users`;
    const { status, statusText, body } = await this.request(path, query);
    if (status !== 200) throw this.failure(`listing users (${path}, page ${page})`, status, body, statusText);
    const data = body.json as { items?: unknown; pagination?: Record<string, unknown> } | undefined;
    if (!body.isJson || !Array.isArray(data?.items) || typeof data?.pagination !== 'object' || data.pagination === null) {
      throw this.unexpected(`listing users (page ${page})`, body.isJson ? 'no items or pagination' : 'the body is not JSON');
    }
    const p = data.pagination;
    const total = Number(p.total);
    if (!Number.isInteger(total) || total < 0) throw this.unexpected(`listing users (page ${page})`, 'pagination.total is missing');
    return {
      items: data.items.map((item) => normaliseUser(item, this, path)),
      page: Number(p.page ?? page),
      perPage: Number(p.perPage ?? perPage),
      total,
      totalPage: Number.isInteger(Number(p.totalPage)) ? Number(p.totalPage) : Math.ceil(total / perPage),
    };
  }
}

function pathOf(request: unknown): string {
  const raw = typeof request === 'string' ? request : (request as { url?: string })?.url ?? '';
  try {
    return new URL(raw, 'http://x').pathname;
  } catch {
    return raw;
  }
}

export function versionMajor(version: ServerVersion | null): number | null {
  const m = version ? /^v?(\d+)\./.exec(version.version.trim()) : null;
  return m ? Number(m[1]) : null;
}

function normaliseBaseUrl(raw: string): string {
  return raw.trim().replace(/\/+$/, '');
}

/** Refuses anything but an http(s) URL before a single request is made. */
export function validateBaseUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    throw new AuthctlError('USAGE', `"${redactUrl(raw)}" is not a URL.`, ExitCode.usage, 'Use the GPUStack server URL, for example http://gpustack.internal:80.');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new AuthctlError('USAGE', `"${redactUrl(raw)}" is not an http(s) URL.`, ExitCode.usage, 'Use the GPUStack server URL, for example https://gpustack.internal.');
  }
  return normaliseBaseUrl(raw);
}

function toUser(body: Body, client: GpustackClient, path: string): GpustackUser {
  if (!body.isJson) throw client.unexpected(`reading ${path}`, 'the body is not JSON');
  return normaliseUser(body.json, client, path);
}

function normaliseUser(raw: unknown, client: GpustackClient, path: string): GpustackUser {
  const u = (raw ?? {}) as Record<string, unknown>;
  if (!Number.isInteger(u.id) || typeof u.username !== 'string' || u.username === '') {
    throw client.unexpected(`reading ${path}`, 'a user without an integer id or a username');
  }
  return {
    id: u.id as number,
    username: u.username,
    full_name: typeof u.full_name === 'string' ? u.full_name : null,
    is_admin: u.is_admin === true,
    is_active: u.is_active === undefined || u.is_active === null ? true : u.is_active === true,
    source: typeof u.source === 'string' ? u.source : null,
  };
}
