import http from 'node:http';
import https from 'node:https';

export interface TransportTimeouts {
  /** How long to wait for the TCP (and TLS) connection. */
  connectMs: number;
  /**
   * How long the whole answer may take once connected: the wait for the
   * status line and the reading of the body together, so a server that
   * sends a byte now and then cannot hold a request open.
   */
  readMs: number;
  /** The largest body read; a longer one is cut off (see {@link ResponseTooLargeError}). */
  maxBytes: number;
}

/** A body longer than the cap: no GPUStack answer is that large, so it is not read further nor asked for again. */
export class ResponseTooLargeError extends Error {
  readonly code = 'E_RESPONSE_TOO_LARGE';
  constructor(readonly maxBytes: number) {
    super(`the answer is larger than ${maxBytes} bytes`);
    this.name = 'ResponseTooLargeError';
  }
}

/** A request that ran out of time in one phase; the client turns it into exit 6. */
export class TransportTimeoutError extends Error {
  readonly code = 'ETIMEDOUT';
  constructor(readonly phase: 'connect' | 'read', readonly ms: number) {
    super(phase === 'connect' ? `no connection within ${ms} ms` : `no complete answer within ${ms} ms`);
    this.name = 'TransportTimeoutError';
  }
}

export interface Transport {
  fetch: typeof globalThis.fetch;
  /** Drops kept-alive connections so the process can exit at once. */
  close(): void;
}

/**
 * A fetch for ofetch built on node:http. The global fetch in Node 20 has no
 * separate connect timeout and only a five-minute read timeout, and cannot be
 * tuned without the undici package; a dead or silent GPUStack must fail fast.
 * Connections are kept alive so paging through 100 pages reuses one socket.
 */
export function createNodeTransport(timeouts: TransportTimeouts): Transport {
  const agents = {
    'http:': new http.Agent({ keepAlive: true, maxSockets: 4 }),
    'https:': new https.Agent({ keepAlive: true, maxSockets: 4 }),
  };
  const fetchImpl = (input: RequestInfo | URL, init: RequestInit = {}): Promise<Response> =>
    new Promise<Response>((resolve, reject) => {
      const url = new URL(typeof input === 'string' || input instanceof URL ? String(input) : input.url);
      const agent = agents[url.protocol as keyof typeof agents];
      if (!agent) {
        reject(new TypeError(`unsupported protocol ${url.protocol}`));
        return;
      }
      const headers: Record<string, string> = {};
      new Headers(init.headers).forEach((value, key) => (headers[key] = value));
      const request = (url.protocol === 'https:' ? https : http).request(url, {
        method: init.method ?? 'GET',
        headers,
        agent,
        signal: init.signal ?? undefined,
      });
      const connectTimer = setTimeout(
        () => fail(new TransportTimeoutError('connect', timeouts.connectMs)),
        timeouts.connectMs,
      );
      // The deadline for the whole answer starts once connected; it is not reset by data arriving.
      let deadline: NodeJS.Timeout | undefined;
      const settle = () => {
        clearTimeout(connectTimer);
        clearTimeout(deadline);
      };
      // Rejects with this error before anything the teardown raises (a reset, "aborted") can.
      const fail = (err: Error) => {
        settle();
        reject(err);
        request.destroy(err);
      };
      request.on('socket', (socket) => {
        const connected = () => {
          clearTimeout(connectTimer);
          deadline ??= setTimeout(() => fail(new TransportTimeoutError('read', timeouts.readMs)), timeouts.readMs);
        };
        if (!socket.connecting) connected();
        else socket.once(url.protocol === 'https:' ? 'secureConnect' : 'connect', connected);
      });
      request.on('error', (err) => {
        settle();
        reject(err);
      });
      request.on('response', (response) => {
        const declared = Number(response.headers['content-length']);
        if (declared > timeouts.maxBytes) {
          fail(new ResponseTooLargeError(timeouts.maxBytes));
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        response.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > timeouts.maxBytes) {
            chunks.length = 0;
            fail(new ResponseTooLargeError(timeouts.maxBytes));
            return;
          }
          chunks.push(chunk);
        });
        response.on('error', (err) => {
          settle();
          reject(err);
        });
        response.on('end', () => {
          settle();
          const status = response.statusCode ?? 500;
          const responseHeaders = new Headers();
          for (const [key, value] of Object.entries(response.headers)) {
            if (Array.isArray(value)) value.forEach((v) => responseHeaders.append(key, v));
            else if (value !== undefined) responseHeaders.set(key, value);
          }
          const body = status === 204 || status === 304 ? null : Buffer.concat(chunks);
          resolve(new Response(body, { status, statusText: response.statusMessage ?? '', headers: responseHeaders }));
        });
      });
      request.end();
    });
  return {
    fetch: fetchImpl as typeof globalThis.fetch,
    close() {
      agents['http:'].destroy();
      agents['https:'].destroy();
    },
  };
}
