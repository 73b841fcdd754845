import { notBefore } from '../db/conditions.js';
import type { Db, Provider } from '../db/handle.js';
import { asNumber, raw, sql, type Queryable, type Sql } from '../db/query.js';
import { formatAppTimestamp } from '../time/timestamps.js';
import { activeCondition, expiredCondition, summaryColumns, toSummary, type SessionSummary, type SummaryRow } from './summary.js';

export interface SessionStats {
  byType: Array<{ type: string; active: number; expired: number }>;
  totals: { active: number; expired: number; all: number };
  /** Expired rows still in the table, and how far back the oldest one expired. */
  backlog: { expired: number; oldestExpiredAt: string | null };
  topUsers: Array<{ userId: number; username: string | null; activeSessions: number }>;
  /** Sessions created per UTC day (from created_at), oldest first, the last 14 days including today. */
  perDay: Array<{ day: string; access: number; refresh: number; total: number }>;
  oldestActive: SessionSummary | null;
  /** Sessions whose expiry is stored in a form authctl cannot read (SQLite only): counted in neither state. */
  unknownExpiry: number;
}

const DAYS = 14;

/** The UTC calendar day of a timestamp column, as YYYY-MM-DD; SQLite's date() applies any offset the text carries. */
function dayOf(provider: Provider, column: string): Sql {
  return provider === 'postgresql' ? raw(`to_char(${column}, 'YYYY-MM-DD')`) : raw(`date(${column})`);
}

export async function sessionStats(db: Db, now = new Date()): Promise<SessionStats> {
  const { provider } = db;
  const conn = await db.sql();
  const expired = expiredCondition(provider, now);
  // 0 active, 1 expired, 2 an expiry in no known form.
  const rows = await conn.all<{ token_type: string; expired: number; n: number | string }>(
    sql`SELECT s.token_type, CASE WHEN ${expired} THEN 1 WHEN ${activeCondition(provider, now)} THEN 0 ELSE 2 END AS expired, count(*) AS n
               FROM user_sessions s GROUP BY 1, 2 ORDER BY 1`,
  );
  let unknownExpiry = 0;
  const byTypeMap = new Map<string, { type: string; active: number; expired: number }>();
  for (const type of ['access', 'refresh']) byTypeMap.set(type, { type, active: 0, expired: 0 });
  for (const r of rows) {
    const entry = byTypeMap.get(r.token_type) ?? { type: r.token_type, active: 0, expired: 0 };
    const n = asNumber(r.n);
    if (asNumber(r.expired) === 2) unknownExpiry += n;
    else if (asNumber(r.expired)) entry.expired += n;
    else entry.active += n;
    byTypeMap.set(r.token_type, entry);
  }
  const byType = [...byTypeMap.values()];
  const totals = {
    active: byType.reduce((a, t) => a + t.active, 0),
    expired: byType.reduce((a, t) => a + t.expired, 0),
    all: 0,
  };
  totals.all = totals.active + totals.expired;

  const oldestExpired = await oldestExpiry(conn, expired);

  const top = await conn.all<{ user_id: number; username: string | null; n: number | string }>(
    sql`SELECT s.user_id, u.username, count(*) AS n FROM user_sessions s LEFT JOIN users u ON u.id = s.user_id
               WHERE ${activeCondition(provider, now)} GROUP BY s.user_id, u.username ORDER BY 3 DESC, 1 LIMIT 10`,
  );

  const firstDay = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() - (DAYS - 1)));
  const day = dayOf(provider, 's.created_at');
  const perDayRows = await conn.all<{ day: string; token_type: string; n: number | string }>(
    sql`SELECT ${day} AS day, s.token_type, count(*) AS n FROM user_sessions s
               WHERE ${notBefore(provider, 's.created_at', firstDay)} GROUP BY 1, 2`,
  );
  const perDay: SessionStats['perDay'] = [];
  for (let i = 0; i < DAYS; i++) {
    const d = formatAppTimestamp(new Date(firstDay.getTime() + i * 86_400_000)).slice(0, 10);
    const access = perDayRows.filter((r) => r.day === d && r.token_type === 'access').reduce((a, r) => a + asNumber(r.n), 0);
    const refresh = perDayRows.filter((r) => r.day === d && r.token_type === 'refresh').reduce((a, r) => a + asNumber(r.n), 0);
    perDay.push({ day: d, access, refresh, total: access + refresh });
  }

  const oldest = await selectOldestActive(conn, now);
  return {
    byType,
    totals,
    backlog: { expired: totals.expired, oldestExpiredAt: oldestExpired ? oldestExpired.toISOString() : null },
    topUsers: top.map((r) => ({ userId: Number(r.user_id), username: r.username, activeSessions: asNumber(r.n) })),
    perDay,
    oldestActive: oldest,
    unknownExpiry,
  };
}

/**
 * The active session created first, by created_at (ids need not follow it).
 * On SQLite the two text forms do not sort as instants, so the order is by
 * julianday(); a created_at in no readable form comes last.
 */
async function selectOldestActive(q: Queryable, now: Date): Promise<SessionSummary | null> {
  const order = q.provider === 'postgresql'
    ? raw('s.created_at, s.id')
    : raw('julianday(s.created_at) IS NULL, julianday(s.created_at), s.id');
  const row = await q.get<SummaryRow>(
    sql`SELECT ${summaryColumns(q.provider, now)} FROM user_sessions s LEFT JOIN users u ON u.id = s.user_id
        WHERE ${activeCondition(q.provider, now)} ORDER BY ${order} LIMIT 1`,
  );
  return row ? toSummary(row) : null;
}

/**
 * The earliest expiry among expired rows. On SQLite the text forms and
 * offsets do not sort as instants, so the minimum is taken of julianday().
 */
async function oldestExpiry(q: Queryable, expired: Sql): Promise<Date | null> {
  if (q.provider === 'postgresql') {
    // As seconds since the epoch: a year BC or past 9999 has no ISO text to read, and -infinity no instant at all.
    const row = await q.get<{ e: string | number | null }>(
      sql`SELECT extract(epoch FROM min(s.expires_at)) AS e FROM user_sessions s WHERE ${expired} AND isfinite(s.expires_at)`,
    );
    const at = row?.e === null || row?.e === undefined ? null : new Date(Math.round(Number(row.e) * 1000));
    return at && !Number.isNaN(at.getTime()) ? at : null;
  }
  const row = await q.get<{ jd: number | null }>(sql`SELECT min(julianday(s.expires_at)) AS jd FROM user_sessions s WHERE ${expired}`);
  const jd = row?.jd;
  // Julian day 2440587.5 is the Unix epoch.
  return jd === null || jd === undefined ? null : new Date(Math.round((Number(jd) - 2440587.5) * 86_400_000));
}
