import type { SessionStats } from '../../core/sessions/stats.js';
import { relativeTime } from '../../core/time/timestamps.js';
import { defineCommand } from '../define.js';
import { isInstant, shortUtc } from './render.js';

export const statsCommand = () =>
  defineCommand<Record<string, never>, SessionStats>({
    name: 'stats',
    description: 'active and expired counts, expired backlog, top users, sessions per day, oldest active session',
    examples: [
      'authctl sessions stats',
      'authctl sessions stats --json',
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
          { header: 'active', value: (r) => r.active },
          { header: 'expired', value: (r) => r.expired },
        ],
      );
      const oldest = stats.oldestActive;
      out.details([
        ['expired backlog', stats.backlog.expired === 0 ? 'none' : `${stats.backlog.expired} row(s), oldest expired ${relativeTime(new Date(stats.backlog.oldestExpiredAt!), now)}; run \`authctl sessions purge\``],
        ['oldest active', oldest ? `#${oldest.id} ${oldest.username ?? `user #${oldest.userId}`} (${oldest.type}), created ${shortUtc(oldest.createdAt)}${isInstant(oldest.createdAt) ? `, ${relativeTime(new Date(oldest.createdAt), now)}` : ''}` : 'none'],
        ...(stats.unknownExpiry > 0
          ? [['unknown expiry', `${stats.unknownExpiry} row(s) with an expires_at in no timestamp form; counted in neither column, never purged; \`sessions list --all\` shows them`] as [string, string]]
          : []),
      ]);
      out.line();
      out.line('Active sessions per user (top 10)');
      out.table(stats.topUsers, [
        { header: 'user', value: (r) => r.username ?? `#${r.userId}` },
        { header: 'active sessions', value: (r) => r.activeSessions },
      ], 'No active sessions.');
      out.line();
      out.line('Sessions created per day (UTC, from created_at)');
      out.table(stats.perDay, [
        { header: 'day', value: (r) => r.day },
        { header: 'access', value: (r) => r.access },
        { header: 'refresh', value: (r) => r.refresh },
        { header: 'total', value: (r) => r.total },
      ]);
    },
  });
