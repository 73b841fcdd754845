import type { AppClient } from '../db/client.js';
import { before, Prisma, providerOf } from '../db/sql.js';
import { formatAppTimestamp, parseDbTimestamp } from '../timestamps.js';
import { activeCondition, expiredCondition, SUMMARY_COLUMNS, toSummary, type SessionSummary, type SummaryRow } from './summary.js';

export interface SessionStats {
  byType: Array<{ type: string; active: number; expired: number }>;
  totals: { active: number; expired: number; all: number };
  /** Expired rows still in the table, and how far back the oldest one expired. */
  backlog: { expired: number; oldestExpiredAt: string | null };
  topUsers: Array<{ userId: number; username: string | null; activeSessions: number }>;
  /** Sessions created per UTC day (from created_at), oldest first, the last 14 days including today. */
  perDay: Array<{ day: string; access: number; refresh: number; total: number }>;
  oldestActive: SessionSummary | null;
}

const DAYS = 14;

/** The UTC calendar day of a timestamp column, as YYYY-MM-DD. Both SQLite text forms start with it. */
function dayOf(client: object, column: string): Prisma.Sql {
  return providerOf(client) === 'postgresql'
    ? Prisma.sql`to_char(${Prisma.raw(column)}, 'YYYY-MM-DD')`
    : Prisma.sql`substr(${Prisma.raw(column)}, 1, 10)`;
}

export async function sessionStats(client: AppClient, now = new Date()): Promise<SessionStats> {
  const expired = expiredCondition(client, now);
  const rows = await client.$queryRaw<Array<{ token_type: string; expired: number | bigint | boolean; n: number | bigint }>>(
    Prisma.sql`SELECT s.token_type, CASE WHEN ${expired} THEN 1 ELSE 0 END AS expired, count(*) AS n FROM user_sessions s GROUP BY 1, 2 ORDER BY 1`,
  );
  const byTypeMap = new Map<string, { type: string; active: number; expired: number }>();
  for (const type of ['access', 'refresh']) byTypeMap.set(type, { type, active: 0, expired: 0 });
  for (const r of rows) {
    const entry = byTypeMap.get(r.token_type) ?? { type: r.token_type, active: 0, expired: 0 };
    if (Number(r.expired)) entry.expired += Number(r.n);
    else entry.active += Number(r.n);
    byTypeMap.set(r.token_type, entry);
  }
  const byType = [...byTypeMap.values()];
  const totals = {
    active: byType.reduce((a, t) => a + t.active, 0),
    expired: byType.reduce((a, t) => a + t.expired, 0),
    all: 0,
  };
  totals.all = totals.active + totals.expired;

  const oldestExpired = await oldestExpiry(client, expired);

  const top = await client.$queryRaw<Array<{ user_id: number | bigint; username: string | null; n: number | bigint }>>(
    Prisma.sql`SELECT s.user_id, u.username, count(*) AS n FROM user_sessions s LEFT JOIN users u ON u.id = s.user_id
               WHERE ${activeCondition(client, now)} GROUP BY s.user_id, u.username ORDER BY 3 DESC, 1 LIMIT 10`,
  );

  const firstDay = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() - (DAYS - 1)));
  const day = dayOf(client, 's.created_at');
  const perDayRows = await client.$queryRaw<Array<{ day: string; token_type: string; n: number | bigint }>>(
    Prisma.sql`SELECT ${day} AS day, s.token_type, count(*) AS n FROM user_sessions s
               WHERE NOT (${before(providerOf(client), 's.created_at', firstDay)}) GROUP BY 1, 2`,
  );
  const perDay: SessionStats['perDay'] = [];
  for (let i = 0; i < DAYS; i++) {
    const d = formatAppTimestamp(new Date(firstDay.getTime() + i * 86_400_000)).slice(0, 10);
    const access = perDayRows.filter((r) => r.day === d && r.token_type === 'access').reduce((a, r) => a + Number(r.n), 0);
    const refresh = perDayRows.filter((r) => r.day === d && r.token_type === 'refresh').reduce((a, r) => a + Number(r.n), 0);
    perDay.push({ day: d, access, refresh, total: access + refresh });
  }

  // Oldest by creation; ids grow with time, and created_at text differs between forms.
  const oldest = await selectOldestActive(client, now);
  return {
    byType,
    totals,
    backlog: { expired: totals.expired, oldestExpiredAt: oldestExpired ? oldestExpired.toISOString() : null },
    topUsers: top.map((r) => ({ userId: Number(r.user_id), username: r.username, activeSessions: Number(r.n) })),
    perDay,
    oldestActive: oldest,
  };
}

async function selectOldestActive(client: AppClient, now: Date): Promise<SessionSummary | null> {
  const rows = await client.$queryRaw<SummaryRow[]>(
    Prisma.sql`SELECT ${SUMMARY_COLUMNS} FROM user_sessions s LEFT JOIN users u ON u.id = s.user_id
               WHERE ${activeCondition(client, now)} ORDER BY s.id LIMIT 1`,
  );
  return rows[0] ? toSummary(rows[0], now) : null;
}

/**
 * The earliest expiry among expired rows. On SQLite the two text forms do not
 * sort together within a day, so take the minimum of each form and compare instants.
 */
async function oldestExpiry(client: AppClient, expired: Prisma.Sql): Promise<Date | null> {
  const forms =
    providerOf(client) === 'postgresql'
      ? [Prisma.sql`1 = 1`]
      : [Prisma.sql`s.expires_at NOT LIKE ${'%T%'}`, Prisma.sql`s.expires_at LIKE ${'%T%'}`];
  const found: Date[] = [];
  for (const form of forms) {
    const rows = await client.$queryRaw<Array<{ m: string | Date | null }>>(
      Prisma.sql`SELECT min(s.expires_at) AS m FROM user_sessions s WHERE ${expired} AND ${form}`,
    );
    if (rows[0]?.m) found.push(parseDbTimestamp(rows[0].m));
  }
  return found.length ? new Date(Math.min(...found.map((d) => d.getTime()))) : null;
}
