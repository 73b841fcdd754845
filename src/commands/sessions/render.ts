import type { Column } from '../../terminal/output.js';
import type { SessionSummary } from '../../core/sessions/summary.js';
import { relativeTime } from '../../core/time/timestamps.js';

/** "2026-11-26 20:18Z": minutes are enough in a table, and the Z says it is UTC. */
export function shortUtc(iso: string): string {
  return unreadable(iso) ?? `${iso.slice(0, 10)} ${iso.slice(11, 16)}Z`;
}

/** The browser and OS are what an operator needs to recognise a session. */
function shortUserAgent(ua: string | null): string {
  if (!ua) return '';
  const browser = /(Edg|OPR|Chrome|Firefox|Version)\/(\d+)/.exec(ua);
  const os = /(Windows|Mac OS X|Android|iPhone|iPad|Linux)/.exec(ua);
  const name = browser ? `${browser[1] === 'Version' ? 'Safari' : browser[1] === 'Edg' ? 'Edge' : browser[1] === 'OPR' ? 'Opera' : browser[1]} ${browser[2]}` : null;
  if (name || os) return [name, os?.[1]?.replace('Mac OS X', 'macOS')].filter(Boolean).join(' / ');
  return ua.length > 30 ? `${ua.slice(0, 29)}…` : ua;
}

const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** A summary's timestamp is an instant (ISO UTC), not the stored text of an unreadable value. */
export function isInstant(value: string): boolean {
  return ISO_UTC.test(value);
}

/** A stored value in no form authctl can read is shown as it is, and said to be unknown. */
function unreadable(value: string): string | null {
  return isInstant(value) ? null : `${value} (unknown form)`;
}

export function sessionColumns(now = new Date()): Column<SessionSummary>[] {
  return [
    { header: 'id', value: (s) => s.id },
    { header: 'user', value: (s) => s.username ?? `#${s.userId}` },
    { header: 'type', value: (s) => s.type },
    { header: 'created', value: (s) => shortUtc(s.createdAt) },
    { header: 'last accessed', value: (s) => unreadable(s.lastAccessed) ?? relativeTime(new Date(s.lastAccessed), now) },
    { header: 'expires', value: (s) => unreadable(s.expiresAt) ?? `${relativeTime(new Date(s.expiresAt), now)} (${shortUtc(s.expiresAt)})` },
    { header: 'ip', value: (s) => s.ipAddress },
    { header: 'user agent', value: (s) => shortUserAgent(s.userAgent) },
    { header: 'jti', value: (s) => s.jti },
  ];
}
