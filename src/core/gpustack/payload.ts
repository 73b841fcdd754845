import { scrubSecrets } from '../config/secrets.js';

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

/** The body of a response, as text and (when it is JSON) as a value. */
export interface Body {
  text: string;
  json: unknown;
  isJson: boolean;
}

/** An answer that is not the shape GPUStack sends; the client names the server and turns it into exit 6. */
export class PayloadError extends Error {
  constructor(readonly what: string, readonly detail: string) {
    super(`${what}: ${detail}`);
    this.name = 'PayloadError';
  }
}

export function readBody(text: string | undefined): Body {
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

export function versionMajor(version: ServerVersion | null): number | null {
  const m = version ? /^v?(\d+)\./.exec(version.version.trim()) : null;
  return m ? Number(m[1]) : null;
}

/** The body of a 200 from `/version`. */
export function toServerVersion(body: Body): ServerVersion {
  const v = body.json as { version?: unknown; git_commit?: unknown } | undefined;
  if (!body.isJson || typeof v?.version !== 'string') throw new PayloadError('reading /version', 'no version field');
  return { version: v.version, gitCommit: typeof v.git_commit === 'string' ? v.git_commit : null };
}

/** The body of a 200 from `users/me`. */
export function toUser(body: Body, path: string): GpustackUser {
  if (!body.isJson) throw new PayloadError(`reading ${path}`, 'the body is not JSON');
  return normaliseUser(body.json, path);
}

/** The body of a 200 from the user list; `page` and `perPage` stand in for what the server leaves out. */
export function toUsersPage(body: Body, path: string, page: number, perPage: number): UsersPage {
  const data = body.json as { items?: unknown; pagination?: Record<string, unknown> } | undefined;
  if (!body.isJson || !Array.isArray(data?.items) || typeof data?.pagination !== 'object' || data.pagination === null) {
    throw new PayloadError(`listing users (page ${page})`, body.isJson ? 'no items or pagination' : 'the body is not JSON');
  }
  const p = data.pagination;
  const total = Number(p.total);
  if (!Number.isInteger(total) || total < 0) throw new PayloadError(`listing users (page ${page})`, 'pagination.total is missing');
  return {
    items: data.items.map((item) => normaliseUser(item, path)),
    page: Number(p.page ?? page),
    perPage: Number(p.perPage ?? perPage),
    total,
    totalPage: Number.isInteger(Number(p.totalPage)) ? Number(p.totalPage) : Math.ceil(total / perPage),
  };
}

/** The GPUStack user object's types, as its schema declares them; anything else is not GPUStack's answer. */
function normaliseUser(raw: unknown, path: string): GpustackUser {
  const what = `reading ${path}`;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new PayloadError(what, 'a user that is not an object');
  const u = raw as Record<string, unknown>;
  if (typeof u.id !== 'number' || !Number.isSafeInteger(u.id) || u.id <= 0) {
    throw new PayloadError(what, `a user whose id is not a positive integer (${describeValue(u.id)})`);
  }
  const bad = (field: string, expected: string) => new PayloadError(what, `user ${u.id} has ${field} ${describeValue(u[field])}, not ${expected}`);
  if (typeof u.username !== 'string' || u.username === '') throw bad('username', 'a non-empty string');
  if (typeof u.is_admin !== 'boolean') throw bad('is_admin', 'true or false');
  // GPUStack 0.x has no is_active: every user counts as active there.
  if (u.is_active !== undefined && typeof u.is_active !== 'boolean') throw bad('is_active', 'true or false');
  if (u.full_name !== undefined && u.full_name !== null && typeof u.full_name !== 'string') throw bad('full_name', 'a string');
  return {
    id: u.id,
    username: u.username,
    full_name: typeof u.full_name === 'string' ? u.full_name : null,
    is_admin: u.is_admin,
    is_active: u.is_active === undefined ? true : u.is_active,
    source: typeof u.source === 'string' ? u.source : null,
  };
}

/** A value's JSON type (and a short form of it), never the whole of a long one. */
function describeValue(v: unknown): string {
  if (v === undefined) return 'missing';
  if (v === null) return 'null';
  // Scrubbed before it is cut: a key cut short would no longer match when the message is scrubbed.
  const text = scrubSecrets(JSON.stringify(v) ?? String(v));
  const short = text.length > 30 ? `${text.slice(0, 30)}…` : text;
  return `${Array.isArray(v) ? 'array' : typeof v} ${short}`;
}

/** Two answers about the same GPUStack user that disagree. */
export function sameUser(a: GpustackUser, b: GpustackUser): boolean {
  return (
    a.id === b.id &&
    a.username === b.username &&
    a.full_name === b.full_name &&
    a.is_admin === b.is_admin &&
    a.is_active === b.is_active &&
    a.source === b.source
  );
}
