import { createFetch, type FetchContext, type FetchError } from 'ofetch';
import { redactUrl } from '../config/config.js';
import { rememberSecret } from '../config/secrets.js';
import type { AuthctlError } from '../errors/errors.js';
import { normaliseBaseUrl } from './base-url.js';
import { describeNetworkError, httpFailure, statusLine, tooLarge, unexpectedAnswer, unreachable, type FailureContext } from './errors.js';
import {
  isNoRoute,
  PayloadError,
  readBody,
  toServerVersion,
  toUser,
  toUsersPage,
  versionMajor,
  type Body,
  type GpustackUser,
  type ServerVersion,
  type UsersPage,
} from './payload.js';
import type { GpustackSettings } from './settings.js';
import { createNodeTransport, ResponseTooLargeError, type Transport } from './transport.js';
import { DEFAULT_TUNING, type ClientTuning } from './tuning.js';

export type ApiVersion = 'v2' | 'v1';

export interface RetryNotice {
  path: string;
  /** 1-based number of the attempt that failed. */
  attempt: number;
  attempts: number;
  reason: string;
  delayMs: number;
}

/**
 * The largest answer read: a page of 100 users is some 30 kB, so 8 MiB is far
 * beyond any GPUStack answer, yet keeps a runaway one from filling memory.
 */
const MAX_RESPONSE_BYTES = 8 * 1024 * 1024;

const RETRY_STATUSES = [408, 429, ...Array.from({ length: 100 }, (_, i) => 500 + i)];

function pathOf(request: unknown): string {
  const raw = typeof request === 'string' ? request : (request as { url?: string })?.url ?? '';
  try {
    return new URL(raw, 'http://x').pathname;
  } catch {
    return raw;
  }
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
  private readonly failures: FailureContext;

  constructor(
    settings: GpustackSettings,
    private readonly tuning: ClientTuning = DEFAULT_TUNING,
    private readonly onRetry?: (notice: RetryNotice) => void,
  ) {
    this.baseUrl = normaliseBaseUrl(settings.baseUrl);
    this.display = redactUrl(this.baseUrl);
    rememberSecret(settings.token);
    const attempts = tuning.retries + 1;
    this.failures = { display: this.display, token: settings.token, attempts };
    this.transport = createNodeTransport({ connectMs: tuning.connectTimeoutMs, readMs: tuning.readTimeoutMs, maxBytes: MAX_RESPONSE_BYTES });
    this.$fetch = createFetch({ fetch: this.transport.fetch, Headers, AbortController }).create({
      baseURL: this.baseUrl,
      headers: { Authorization: `Bearer ${settings.token}`, Accept: 'application/json' },
      responseType: 'text',
      retry: tuning.retries,
      retryStatusCodes: RETRY_STATUSES,
      retryDelay: (ctx: FetchContext) => {
        // Asking again would only fetch the same oversized answer: give up at once.
        if (ctx.error instanceof ResponseTooLargeError) throw ctx.error;
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
  private async request(path: string, query?: Record<string, string | number>): Promise<{ status: number; statusText: string; body: Body }> {
    try {
      const response = await this.$fetch.raw<string, 'text'>(path, { query });
      return { status: response.status, statusText: response.statusText, body: readBody(response._data) };
    } catch (err) {
      const fetchError = err as FetchError<string>;
      if (err instanceof ResponseTooLargeError || fetchError?.cause instanceof ResponseTooLargeError) {
        throw tooLarge(this.failures, pathOf(path), MAX_RESPONSE_BYTES);
      }
      if (fetchError?.name !== 'FetchError') throw err;
      if (!fetchError.response) throw unreachable(this.failures, fetchError.cause);
      return { status: fetchError.response.status, statusText: fetchError.response.statusText, body: readBody(fetchError.data) };
    }
  }

  private failure(what: string, status: number, body: Body, statusText: string): AuthctlError {
    return httpFailure(this.failures, what, status, body, statusText);
  }

  /** Reads a 200's body, naming this server when it is not what GPUStack sends. */
  private parse<T>(read: () => T): T {
    try {
      return read();
    } catch (err) {
      if (err instanceof PayloadError) throw unexpectedAnswer(this.display, err.what, err.detail, this.failures.token);
      throw err;
    }
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
    return this.parse(() => toServerVersion(body));
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
      const path = `/${api}/users/me`;
      const { status, statusText, body } = await this.request(path);
      if (isNoRoute(status, body)) continue;
      if (status !== 200) throw this.failure(`reading ${path}`, status, body, statusText);
      return { api, me: this.parse(() => toUser(body, path)) };
    }
    throw unexpectedAnswer(this.display, 'looking for the user API', 'neither /v2/users/me nor /v1/users/me exists', this.failures.token);
  }

  /**
   * Whether GPUStack still has the user with this id (GET /{api}/users/{id}:
   * 200, or 404 when it is gone). Any other answer is exit 6.
   */
  async userExists(api: ApiVersion, id: number): Promise<boolean> {
    const path = `/${api}/users/${id}`;
    const { status, statusText, body } = await this.request(path);
    if (status === 404) return false;
    if (status !== 200) throw this.failure(`reading ${path}`, status, body, statusText);
    return true;
  }

  async listUsersPage(api: ApiVersion, page: number, perPage: number): Promise<UsersPage> {
    // Sorting by a unique key keeps pages stable while the list is read; 0.x
    // servers predate sort_by on every field, so they keep their default order.
    const query: Record<string, string | number> = { page, perPage };
    if (api === 'v2') query.sort_by = 'created_at,username';
    const path = `/${api}/users`;
    const { status, statusText, body } = await this.request(path, query);
    if (status !== 200) throw this.failure(`listing users (${path}, page ${page})`, status, body, statusText);
    return this.parse(() => toUsersPage(body, path, page, perPage));
  }
}
