import type { Column } from '../../terminal/output.js';
import type { SessionSummary } from '../../core/sessions/summary.js';
import { ago, utcMinute } from '../../terminal/time.js';

/** The browser and OS are what an operator needs to recognise a session. */
function shortUserAgent(ua: string | null): string {
  if (!ua) return '';
  const browser = /(Edg|OPR|Chrome|Firefox|Version)\/(\d+)/.exec(ua);
  const os = /(Windows|Mac OS X|Android|iPhone|iPad|Linux)/.exec(ua);
  const name = browser ? `${browser[1] === 'Version' ? 'Safari' : browser[1] === 'Edg' ? 'Edge' : browser[1] === 'OPR' ? 'Opera' : browser[1]} ${browser[2]}` : null;
  if (name || os) return [name, os?.[1]?.replace('Mac OS X', 'macOS')].filter(Boolean).join(' / ');
  return ua.length > 30 ? `${ua.slice(0, 29)}…` : ua;
}

export function sessionColumns(now = new Date()): Column<SessionSummary>[] {
  return [
    { header: 'id', value: (s) => s.id, align: 'right' },
    { header: 'user', value: (s) => s.username ?? `#${s.userId}`, shrink: true },
    { header: 'type', value: (s) => s.type },
    { header: 'created (UTC)', value: (s) => utcMinute(s.createdAt) },
    { header: 'last seen', value: (s) => ago(s.lastAccessed, now) },
    { header: 'expires', value: (s) => ago(s.expiresAt, now) },
    { header: 'expires (UTC)', value: (s) => utcMinute(s.expiresAt), wideOnly: true },
    { header: 'ip', value: (s) => s.ipAddress, shrink: true },
    // On a terminal the browser and OS; whole with --wide, on a pipe and in TSV or CSV, as the README promises.
    { header: 'user agent', value: (s) => s.userAgent, fitted: (s) => shortUserAgent(s.userAgent), shrink: true },
    { header: 'jti', value: (s) => s.jti, wideOnly: true },
  ];
}
