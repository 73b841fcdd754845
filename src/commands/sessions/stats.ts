import type { SessionStats } from '../../core/sessions/stats.js';
import { relativeTime } from '../../core/time/timestamps.js';
import { bar, sparkline } from '../../terminal/bars.js';
import { terminalSafe, type Output } from '../../terminal/output.js';
import { displayWidth, truncate } from '../../terminal/table.js';
import { when } from '../../terminal/time.js';
import { defineCommand } from '../define.js';

export const statsCommand = () =>
  defineCommand<Record<string, never>, SessionStats>({
    name: 'stats',
    description: 'active and expired counts, expired backlog, logins per day, top users, oldest active session',
    examples: [
      'authctl sessions stats',
      'authctl sessions stats --json | jq \'.perDay[] | [.day, .total]\'',
    ],
    parse: () => ({}),
    needs: 'ready',
    run: async ({ db }) => {
      const { sessionStats } = await import('../../core/sessions/stats.js');
      return sessionStats(db);
    },
    render: (stats, out) => {
      const now = new Date();
      out.table(
        [...stats.byType, { type: 'total', ...stats.totals }],
        [
          { header: 'type', value: (r) => r.type },
          { header: 'active', value: (r) => r.active, align: 'right' },
          { header: 'expired', value: (r) => r.expired, align: 'right' },
        ],
      );
      out.line();
      const oldest = stats.oldestActive;
      out.details([
        ['expired backlog', stats.backlog.expired === 0 ? 'none' : `${stats.backlog.expired} row(s), oldest expired ${relativeTime(new Date(stats.backlog.oldestExpiredAt!), now)}; run \`authctl sessions purge\``],
        ['oldest active', oldest ? `#${oldest.id} ${oldest.username ?? `user #${oldest.userId}`} (${oldest.type}), created ${when(oldest.createdAt, now)}` : 'none'],
        ...(stats.unknownExpiry > 0
          ? [['unknown expiry', `${stats.unknownExpiry} row(s) with an expires_at in no timestamp form; counted in neither column, never purged; \`sessions list --all\` shows them`] as [string, string]]
          : []),
      ]);
      out.line();
      renderPerDay(stats.perDay, out);
      out.line();
      renderTopUsers(stats.topUsers, out);
    },
  });

/** Logins per day: a sparkline and one bar a day on a terminal, a plain table on a pipe. */
function renderPerDay(perDay: SessionStats['perDay'], out: Output): void {
  const total = perDay.reduce((a, d) => a + d.total, 0);
  const title = `Logins per day, last ${perDay.length} days (UTC, sessions by created_at): ${total} in all`;
  if (!out.pictures) {
    out.line(title);
    out.table(perDay, [
      { header: 'day', value: (r) => r.day },
      { header: 'access', value: (r) => r.access, align: 'right' },
      { header: 'refresh', value: (r) => r.refresh, align: 'right' },
      { header: 'total', value: (r) => r.total, align: 'right' },
    ]);
    return;
  }
  out.line(out.c.bold(title));
  const first = perDay[0]?.day.slice(5) ?? '';
  const last = perDay.at(-1)?.day.slice(5) ?? '';
  out.line(`  ${first} ${out.c.cyan(sparkline(perDay.map((d) => d.total)))} ${last}`);
  const max = Math.max(0, ...perDay.map((d) => d.total));
  const countWidth = String(max).length;
  // "  MM-DD  " + bar + "  count"
  const room = Math.max(10, Math.min(out.width, 100) - 9 - 2 - countWidth);
  for (const d of perDay) {
    out.line(`  ${d.day.slice(5)}  ${out.c.cyan(bar(d.total, max, room).padEnd(room))}  ${String(d.total).padStart(countWidth)}`);
  }
  out.line(out.c.dim('  (access and refresh apart: --json, or a pipe)'));
}

/** Active sessions per user: bars on a terminal, a plain table on a pipe. */
function renderTopUsers(topUsers: SessionStats['topUsers'], out: Output): void {
  out.line(out.pictures ? out.c.bold('Active sessions per user (top 10)') : 'Active sessions per user (top 10)');
  const name = (r: SessionStats['topUsers'][number]) => r.username ?? `#${r.userId}`;
  if (!out.pictures || topUsers.length === 0) {
    out.table(topUsers, [
      { header: 'user', value: name, shrink: true },
      { header: 'active sessions', value: (r) => r.activeSessions, align: 'right' },
    ], 'No active sessions.');
    return;
  }
  const labels = topUsers.map((r) => truncate(terminalSafe(name(r)), 20));
  const labelWidth = Math.max(...labels.map(displayWidth));
  const max = Math.max(...topUsers.map((r) => r.activeSessions));
  const countWidth = String(max).length;
  const room = Math.max(10, Math.min(out.width, 100) - 2 - labelWidth - 2 - 2 - countWidth);
  topUsers.forEach((r, i) => {
    const label = labels[i]!;
    out.line(`  ${label}${' '.repeat(labelWidth - displayWidth(label))}  ${out.c.cyan(bar(r.activeSessions, max, room).padEnd(room))}  ${String(r.activeSessions).padStart(countWidth)}`);
  });
}
