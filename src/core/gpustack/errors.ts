import { echoServerText } from '../config/secrets.js';
import { AuthctlError, ExitCode } from '../errors/errors.js';
import type { Body } from './payload.js';
import { TransportTimeoutError } from './transport.js';

/**
 * What an error message may say about the request: the server as shown
 * (redacted), the key to scrub from anything the server echoes, and how
 * many attempts were made.
 */
export interface FailureContext {
  display: string;
  token: string;
  attempts: number;
}

/**
 * Server text, safe to print: the key is replaced wherever it appears, however
 * short (the general scrubbing leaves secrets under 8 characters to redaction
 * by shape, and a bare key echoed back has no shape), then the text is made
 * one short line.
 */
export function echoWithoutKey(text: string, token: string, max?: number): string {
  const scrubbed = token ? text.split(token).join('***') : text;
  return echoServerText(scrubbed, [token], max);
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
  return said === undefined ? undefined : echoWithoutKey(said, token);
}

export function describeNetworkError(err: unknown): { code: string; text: string } {
  if (err instanceof TransportTimeoutError) {
    return { code: 'GPUSTACK_TIMEOUT', text: err.phase === 'connect' ? `connecting timed out after ${err.ms} ms` : `no complete answer within ${err.ms} ms` };
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
  // An https:// URL whose port speaks plain HTTP: the TLS handshake reads an HTTP answer.
  if (e.code === 'EPROTO' || /wrong version number|packet length too long/i.test(String(e.message ?? ''))) {
    return { code: 'GPUSTACK_TLS', text: 'TLS handshake failed: the server did not answer in TLS (is it plain http:// on that port?)' };
  }
  return { code: 'GPUSTACK_UNREACHABLE', text: e.code ? echoServerText(`${e.code}`, [], 60) : echoServerText(String(e.message ?? err)) };
}

/** The status line; its reason phrase is the server's text, so it is scrubbed and short. */
export function statusLine(status: number, statusText: string, token: string): string {
  const reason = statusText ? echoWithoutKey(statusText, token, 60) : '';
  return reason ? `${status} ${reason}` : String(status);
}

/** No answer at all once retries are exhausted. */
export function unreachable(ctx: FailureContext, cause: unknown): AuthctlError {
  const { code, text } = describeNetworkError(cause);
  return new AuthctlError(
    code,
    `Cannot reach GPUStack at ${ctx.display}: ${text} (${ctx.attempts} attempts).`,
    ExitCode.gpustack,
    'Check that the server is running and that GPUSTACK_API_BASE (or --url) is right.',
  );
}

/** Turns a non-2xx answer into the documented error; `what` names the request for the operator. */
export function httpFailure(ctx: FailureContext, what: string, status: number, body: Body, statusText = ''): AuthctlError {
  const message = serverMessage(body, ctx.token);
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
      `GPUStack at ${ctx.display} has no route for ${what} (404)${said}.`,
      ExitCode.gpustack,
      'Point GPUSTACK_API_BASE (or --url) at the GPUStack server itself, without /v1 or /v2.',
    );
  }
  if (status === 429) {
    return new AuthctlError(
      'GPUSTACK_RATE_LIMITED',
      `GPUStack at ${ctx.display} is rate limiting requests: it answered ${statusLine(status, statusText, ctx.token)} while ${what} (after ${ctx.attempts} attempts)${said}.`,
      ExitCode.gpustack,
      'GPUStack (or a proxy in front of it) is rate limiting requests; retry later, or raise AUTHCTL_GPUSTACK_RETRY_BASE_MS to wait longer between attempts.',
    );
  }
  if (!body.isJson && body.text.trim().startsWith('<')) {
    return new AuthctlError(
      'GPUSTACK_BAD_GATEWAY',
      `GPUStack at ${ctx.display} answered ${statusLine(status, statusText, ctx.token)} with an HTML page while ${what}, after ${ctx.attempts} attempts; a proxy in front of it could not reach it.`,
      ExitCode.gpustack,
      'Check that the GPUStack server behind the proxy is running, then try again.',
    );
  }
  return new AuthctlError(
    status >= 500 ? 'GPUSTACK_SERVER_ERROR' : 'GPUSTACK_UNEXPECTED',
    `GPUStack answered ${statusLine(status, statusText, ctx.token)} while ${what}${status >= 500 || status === 429 ? ` (after ${ctx.attempts} attempts)` : ''}${said}.`,
    ExitCode.gpustack,
    status >= 500 ? "Check the GPUStack server's logs, then try again." : 'Check that the URL points at a GPUStack server and that authctl supports its version.',
  );
}

/** A 200 whose body is not what GPUStack sends; `detail` may quote the server, so it is scrubbed. */
export function unexpectedAnswer(display: string, what: string, detail: string, token = ''): AuthctlError {
  return new AuthctlError(
    'GPUSTACK_UNEXPECTED',
    `GPUStack at ${display} sent an unexpected answer while ${what}: ${echoWithoutKey(detail, token)}.`,
    ExitCode.gpustack,
    'Check that the URL points at a GPUStack server (not its web UI or a proxy page).',
  );
}

/** A body over the size cap; it is neither read further nor asked for again. */
export function tooLarge(ctx: FailureContext, path: string, maxBytes: number): AuthctlError {
  return new AuthctlError(
    'GPUSTACK_TOO_LARGE',
    `GPUStack at ${ctx.display} sent an answer larger than ${maxBytes / 1024 / 1024} MiB for ${path}; no GPUStack answer is that large, so it was not read.`,
    ExitCode.gpustack,
    'Nothing was changed. Check that the URL points at a GPUStack server (not a proxy or another service).',
  );
}
