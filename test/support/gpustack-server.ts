import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TestDb } from './db.js';

/**
 * A stand-in GPUStack server: a real HTTP server on 127.0.0.1 that follows the
 * user API as GPUStack's own code defines it (see gpustack-api.md), quirks
 * included, with switches to inject the faults a sync must survive or refuse.
 */

export interface StandInUser {
  id: number;
  username: string;
  full_name: string | null;
  is_admin: boolean;
  is_active: boolean;
  source: string;
  created_at: string;
  updated_at: string;
}

export type KeyScope = '*' | 'management' | 'inference';

export interface StandInKey {
  key: string;
  userId: number;
  /** From v2.2 a key has a scope; earlier servers ignore it. */
  scope: KeyScope;
}

export interface Faults {
  /** The next N requests (any route) answer 500 with GPUStack's error model. */
  transient500: number;
  /** Every request answers 500. */
  always500: boolean;
  /** Every request answers a reverse proxy's HTML 502 page. */
  proxy502: boolean;
  /** Every connection is dropped without an answer. */
  down: boolean;
  /** Delay before each answer, in milliseconds. */
  slowMs: number;
  /** The user list is empty (users/me still works). */
  emptyList: boolean;
  /**
   * Every request answers this status with the request's Authorization header
   * quoted back in the reason phrase and the JSON message, followed by a long
   * run of text, as a careless server or proxy might.
   */
  echoAuthorization: 401 | 500 | null;
  /** Like echoAuthorization, but the key is quoted bare (no `Bearer`), so only its exact value can scrub it. */
  echoBareKey: boolean;
  /** Every request answers this status with GPUStack's error model. */
  status: number | null;
  /** Fields laid over the list's `pagination` (a lying totalPage, total, ...). */
  pagination: Record<string, unknown> | null;
  /** Adds a field of this many bytes to each list page, so its body grows without changing the users. */
  listPaddingBytes: number;
  /** Sends each list page one byte at a time, this many ms apart. */
  listDripMs: number;
}

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  authorization: string | null;
}

export interface StandInOptions {
  /** `v2.2.3`, `v2.0.1`, `v0.6.2`, ...; decides the paths (/v2 or /v1) and the user object. */
  version?: string;
  /** Whether GET /version exists. */
  versionRoute?: boolean;
  users?: StandInUser[];
  keys?: StandInKey[];
}

export const ADMIN_KEY = 'gpustack_0a1b2c3d4e5f6a7b_00112233445566778899aabbccddeeff';
export const INFERENCE_KEY = 'gpustack_f0e1d2c3b4a59687_ffeeddccbbaa99887766554433221100';

const SORTABLE = new Set(['username', 'is_admin', 'full_name', 'source', 'is_active', 'created_at', 'updated_at']);
const PROXY_502 = '<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx/1.25.3</center>\r\n</body>\r\n</html>\r\n';

let clock = Date.UTC(2025, 2, 4, 8, 15, 22);
function nextTimestamp(): string {
  clock += 1000;
  return new Date(clock).toISOString().replace(/\.(\d{3})Z$/, '.$1512Z');
}

export function makeUser(id: number, username: string, extra: Partial<StandInUser> = {}): StandInUser {
  const at = nextTimestamp();
  return {
    id,
    username,
    full_name: `${username[0]!.toUpperCase()}${username.slice(1)} User`,
    is_admin: false,
    is_active: true,
    source: 'Local',
    created_at: at,
    updated_at: at,
    ...extra,
  };
}

/** `count` ordinary users with ids from `firstId`, plus nothing else. */
export function makeUsers(count: number, firstId = 1, prefix = 'user'): StandInUser[] {
  return Array.from({ length: count }, (_, i) => makeUser(firstId + i, `${prefix}${String(firstId + i).padStart(5, '0')}`));
}

function errorBody(code: number, reason: string, message: string): string {
  return JSON.stringify({ code, reason, message });
}

export class GpustackStandIn {
  readonly version: string;
  versionRoute: boolean;
  users: StandInUser[];
  keys: StandInKey[];
  readonly faults: Faults = { transient500: 0, always500: false, proxy502: false, down: false, slowMs: 0, emptyList: false, echoAuthorization: null, echoBareKey: false, status: null, pagination: null, listPaddingBytes: 0, listDripMs: 0 };
  readonly requests: RecordedRequest[] = [];
  /** Fields sent on the wire instead of the user's own, by GPUStack id: values of any JSON type. */
  readonly wire = new Map<number, Record<string, unknown>>();
  /** Raw items appended to the first list page (a duplicate id, a malformed user, ...). */
  extraItems: Array<Record<string, unknown>> = [];
  /** How many readings of the first page carry extraItems: a list that changes while it is read, then settles. */
  extraItemsReadings = Number.POSITIVE_INFINITY;
  /** Runs once a list page is sent (before the next request is read): users created or deleted in GPUStack meanwhile. */
  afterListPage: ((page: number) => void) | null = null;
  private server!: http.Server;
  url = '';

  constructor(opts: StandInOptions = {}) {
    this.version = opts.version ?? 'v2.2.3';
    this.versionRoute = opts.versionRoute ?? true;
    // GPUStack always has its bootstrap admin; the default key belongs to it.
    this.users = opts.users ?? [makeUser(1, 'admin', { is_admin: true, full_name: 'Default System Admin' })];
    this.keys = opts.keys ?? [
      { key: ADMIN_KEY, userId: this.users.find((u) => u.is_admin)?.id ?? 1, scope: '*' },
      { key: INFERENCE_KEY, userId: this.users.find((u) => u.is_admin)?.id ?? 1, scope: 'inference' },
    ];
  }

  private get major(): number {
    return Number(/^v?(\d+)/.exec(this.version)?.[1] ?? 2);
  }

  private get minor(): number {
    return Number(/^v?\d+\.(\d+)/.exec(this.version)?.[1] ?? 0);
  }

  /** The API prefix this version serves: /v2 from v2.0, /v1 before. */
  get prefix(): string {
    return this.major >= 2 ? '/v2' : '/v1';
  }

  async start(): Promise<this> {
    this.server = http.createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  resetFaults(): void {
    Object.assign(this.faults, { transient500: 0, always500: false, proxy502: false, down: false, slowMs: 0, emptyList: false, echoAuthorization: null, echoBareKey: false, status: null, pagination: null, listPaddingBytes: 0, listDripMs: 0 });
  }

  // Upstream changes a sync must mirror.
  vanish(ids: number[]): void {
    this.users = this.users.filter((u) => !ids.includes(u.id));
  }

  deactivate(id: number): void {
    this.edit(id, { is_active: false });
  }

  rename(id: number, username: string): void {
    this.edit(id, { username });
  }

  edit(id: number, patch: Partial<StandInUser>): void {
    const user = this.users.find((u) => u.id === id);
    if (!user) throw new Error(`no stand-in user ${id}`);
    Object.assign(user, patch, { updated_at: nextTimestamp() });
  }

  add(...users: StandInUser[]): void {
    this.users.push(...users);
  }

  /** List requests seen so far (what a client actually asked for). */
  listRequests(): RecordedRequest[] {
    return this.requests.filter((r) => r.path === `${this.prefix}/users`);
  }

  private send(res: http.ServerResponse, status: number, body: string, type = 'application/json'): void {
    res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
    res.end(body);
  }

  private userObject(u: StandInUser): Record<string, unknown> {
    const base: Record<string, unknown> = {
      username: u.username,
      is_admin: u.is_admin,
      full_name: u.full_name,
      require_password_change: false,
      id: u.id,
      created_at: u.created_at,
      updated_at: u.updated_at,
    };
    if (this.major >= 2) {
      Object.assign(base, { is_active: u.is_active, avatar_url: null, source: u.source });
      if (this.minor < 2) Object.assign(base, { is_system: false, role: u.is_admin ? 'admin' : 'user', cluster_id: null, worker_id: null });
    } else if (this.minor >= 7) {
      base.source = u.source;
    }
    return { ...base, ...this.wire.get(u.id) };
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://stand-in');
    this.requests.push({
      method: req.method ?? 'GET',
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      authorization: req.headers.authorization ?? null,
    });
    if (this.faults.down) {
      req.socket.destroy();
      return;
    }
    if (this.faults.slowMs > 0) await new Promise((r) => setTimeout(r, this.faults.slowMs));
    if (res.destroyed) return;
    if (this.faults.proxy502) return this.send(res, 502, PROXY_502, 'text/html');
    if (this.faults.echoAuthorization) {
      const status = this.faults.echoAuthorization;
      const auth = req.headers.authorization ?? '';
      const body = errorBody(status, 'Echo', `bad key ${auth} (Authorization: ${auth}) ${'padding '.repeat(2000)}`);
      res.writeHead(status, `Rejected ${auth}`, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
      return;
    }
    if (this.faults.echoBareKey) {
      const key = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '')?.[1] ?? '';
      return this.send(res, 401, errorBody(401, 'Unauthorized', `the key ${key} is not known here`));
    }
    if (this.faults.status !== null) {
      return this.send(res, this.faults.status, errorBody(this.faults.status, 'Fault', `answered ${this.faults.status} on purpose`));
    }
    if (this.faults.always500 || this.faults.transient500 > 0) {
      if (this.faults.transient500 > 0) this.faults.transient500--;
      return this.send(res, 500, errorBody(500, 'InternalServerError', 'Internal server error'));
    }

    const path = url.pathname;
    if (path === '/healthz' || path === '/readyz') return this.send(res, 200, '"ok"');
    if (path === '/version' && this.versionRoute) {
      return this.send(res, 200, JSON.stringify({ version: this.version, git_commit: '5f8e2a1' }));
    }
    const p = this.prefix;
    if (req.method !== 'GET' || !(path === `${p}/users` || path.startsWith(`${p}/users/`))) {
      return this.send(res, 404, JSON.stringify({ detail: 'Not Found' }));
    }

    // Authentication: Bearer, or X-API-Key from v2.1.1.
    const bearer = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '')?.[1];
    const headerKey = this.major > 2 || (this.major === 2 && this.minor >= 1) ? (req.headers['x-api-key'] as string | undefined) : undefined;
    const key = this.keys.find((k) => k.key === (bearer ?? headerKey));
    if (!key) return this.send(res, 401, errorBody(401, 'Unauthorized', 'Invalid authentication credentials'));
    const caller = this.users.find((u) => u.id === key.userId);
    if (!caller || !caller.is_active) return this.send(res, 401, errorBody(401, 'Unauthorized', 'Invalid authentication credentials'));

    if (path === `${p}/users/me`) return this.send(res, 200, JSON.stringify(this.userObject(caller)));

    // Admin routes: the management scope (v2.2+) first, then the admin role.
    const scoped = this.major > 2 || (this.major === 2 && this.minor >= 2);
    if (scoped && key.scope !== '*' && key.scope !== 'management') {
      return this.send(res, 403, errorBody(403, 'Forbidden', 'API key does not have permission to access management features'));
    }
    if (!caller.is_admin) return this.send(res, 403, errorBody(403, 'Forbidden', 'No permission to access'));

    const idMatch = new RegExp(`^${p}/users/(\\d+)$`).exec(path);
    if (idMatch) {
      const user = this.users.find((u) => u.id === Number(idMatch[1]));
      return user ? this.send(res, 200, JSON.stringify(this.userObject(user))) : this.send(res, 404, errorBody(404, 'NotFound', 'User not found'));
    }
    if (path !== `${p}/users`) return this.send(res, 404, JSON.stringify({ detail: 'Not Found' }));
    return this.list(url.searchParams, res);
  }

  private list(q: URLSearchParams, res: http.ServerResponse): void {
    if (q.get('watch') === 'true') {
      // GPUStack streams change events forever; a client that asks is stuck.
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write(JSON.stringify({ type: 1, data: null }) + '\n');
      return;
    }
    const page = Number(q.get('page') ?? '1');
    const perPage = Number(q.get('perPage') ?? '100'); // per_page is silently ignored, as upstream.
    if (!Number.isInteger(page) || !Number.isInteger(perPage)) {
      return this.send(res, 422, errorBody(422, 'Invalid', 'page and perPage must be integers'));
    }
    if (this.major < 2 && (perPage < 1 || perPage > 100)) {
      return this.send(res, 422, errorBody(422, 'Invalid', 'perPage: Input should be less than or equal to 100'));
    }
    if (this.major >= 2 && perPage === 0) {
      return this.send(res, 500, 'Internal Server Error', 'text/plain; charset=utf-8');
    }
    let items = this.faults.emptyList ? [] : [...this.users];
    const search = q.get('search');
    if (search) items = items.filter((u) => u.username.includes(search) || (u.full_name ?? '').includes(search));
    const sortBy = q.get('sort_by');
    const keys = sortBy ? sortBy.split(',').map((s) => s.trim()).filter(Boolean) : ['-created_at'];
    for (const k of keys) {
      if (!SORTABLE.has(k.replace(/^-/, ''))) return this.send(res, 422, errorBody(422, 'Invalid', `Invalid sort field: ${k.replace(/^-/, '')}`));
    }
    items.sort((a, b) => {
      for (const k of keys) {
        const desc = k.startsWith('-');
        const f = k.replace(/^-/, '') as keyof StandInUser;
        const av = String(a[f] ?? '');
        const bv = String(b[f] ?? '');
        if (av !== bv) return (av < bv ? -1 : 1) * (desc ? -1 : 1);
      }
      return 0;
    });
    const total = items.length;
    if (page <= 0) {
      return this.send(res, 200, JSON.stringify({ items: items.map((u) => this.userObject(u)), pagination: { page: 1, perPage: total, total, totalPage: 1 } }));
    }
    const slice: Array<Record<string, unknown>> = items.slice((page - 1) * perPage, page * perPage).map((u) => this.userObject(u));
    if (page === 1 && this.extraItemsReadings > 0) {
      slice.push(...this.extraItems);
      this.extraItemsReadings--;
    }
    const doc: Record<string, unknown> = {
      items: slice,
      pagination: { page, perPage, total, totalPage: Math.ceil(total / perPage), ...this.faults.pagination },
    };
    if (this.faults.listPaddingBytes > 0) doc.padding = 'x'.repeat(this.faults.listPaddingBytes);
    const body = JSON.stringify(doc);
    if (this.faults.listDripMs > 0) return this.drip(res, body, this.faults.listDripMs);
    this.send(res, 200, body);
    this.afterListPage?.(page);
  }

  /** A complete, valid answer that arrives one byte at a time: never silent long enough for an idle timeout. */
  private drip(res: http.ServerResponse, body: string, everyMs: number): void {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    const bytes = Buffer.from(body);
    let at = 0;
    const timer = setInterval(() => {
      if (res.destroyed || at >= bytes.length) {
        clearInterval(timer);
        if (!res.destroyed) res.end();
        return;
      }
      res.write(bytes.subarray(at, at + 1));
      at++;
    }, everyMs);
    res.on('close', () => clearInterval(timer));
  }
}

export async function startGpustackStandIn(opts: StandInOptions = {}): Promise<GpustackStandIn> {
  return new GpustackStandIn(opts).start();
}

/** Fast retries and timeouts, so fault tests do not sleep through production backoff. */
export const GPUSTACK_FAST_ENV = {
  AUTHCTL_BCRYPT_ROUNDS: '10',
  AUTHCTL_GPUSTACK_RETRY_BASE_MS: '5',
  AUTHCTL_GPUSTACK_TIMEOUT_MS: '2000',
  AUTHCTL_GPUSTACK_CONNECT_TIMEOUT_MS: '2000',
};

/** Everything sync could touch, to prove that a refused or failed run changed nothing. */
export async function syncSnapshot(db: TestDb): Promise<string> {
  const tables = [];
  for (const t of ['users', 'user_sessions', 'authctl_audit']) tables.push(await db.query(`SELECT * FROM ${t} ORDER BY id`));
  return JSON.stringify(tables);
}
