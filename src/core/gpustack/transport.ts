import http from 'node:http';
import https from 'node:https';

export interface TransportTimeouts {
  /** How long to wait for the TCP (and TLS) connection. */
  connectMs: number;
  /** How long the connection may stay silent while waiting for, or reading, the response. */
  readMs: number;
}

/** A request that ran out of time in one phase; the client turns it into exit 6. */
export class TransportTimeoutError extends Error {
  readonly code = 'ETIMEDOUT';
  constructor(readonly phase: 'connect' | 'read', readonly ms: number) {
    super(phase === 'connect' ? `no connection within ${ms} ms` : `no response data within ${ms} ms`);
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
        () => request.destroy(new TransportTimeoutError('connect', timeouts.connectMs)),
        timeouts.connectMs,
      );
      request.on('socket', (socket) => {
        const connected = () => clearTimeout(connectTimer);
        if (!socket.connecting) connected();
        else socket.once(url.protocol === 'https:' ? 'secureConnect' : 'connect', connected);
      });
      // Idle timeout: it covers the wait for the status line and every pause while reading the body.
      request.setTimeout(timeouts.readMs, () => request.destroy(new TransportTimeoutError('read', timeouts.readMs)));
      request.on('error', (err) => {
        clearTimeout(connectTimer);
        reject(err);
      });
      request.on('response', (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('error', reject);
        response.on('end', () => {
          clearTimeout(connectTimer);
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
