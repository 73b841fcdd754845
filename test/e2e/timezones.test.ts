import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import type { CliOptions } from '../support/cli.js';
import { appTimestamp, cli, describeProviders, type TestDb } from '../support/db.js';

/**
 * The app stores naive UTC. Whatever time zone the operator's machine is in,
 * authctl must read those values as UTC: a cron host in New York must not see
 * live sessions as expired, nor expired ones as live.
 */
describeProviders('local time zone', ({ newDb }) => {
  const run = (db: TestDb, args: string[], opts: Partial<CliOptions> = {}) =>
    cli(db, args, { ...opts, env: { AUTHCTL_BCRYPT_ROUNDS: '10', ...opts.env } });

  it.each(['America/New_York', 'Asia/Kolkata'])('reads timestamps as UTC with TZ=%s', async (tz) => {
    const db = await newDb();
    expect((await run(db, ['init-db', '--generate-password'])).code).toBe(0);
    const now = Date.now();
    const soon = new Date(Math.floor((now + 20 * 60_000) / 1000) * 1000);
    const past = new Date(Math.floor((now - 20 * 60_000) / 1000) * 1000);
    await db.query(
      "INSERT INTO user_sessions (user_id, session_token, jti, token_type, expires_at, created_at, last_accessed) VALUES (1, 'tok-live', 'jti-live', 'access', ?, ?, ?), (1, 'tok-dead', 'jti-dead', 'access', ?, ?, ?)",
      appTimestamp(soon), appTimestamp(past), appTimestamp(past), appTimestamp(past), appTimestamp(past), appTimestamp(past),
    );
    const env = { TZ: tz };
    const list = await run(db, ['sessions', 'list', '--all', '--json'], { env });
    expect(list.code, list.stderr).toBe(0);
    const sessions = JSON.parse(list.stdout).sessions as Array<{ jti: string; expiresAt: string; expired: boolean }>;
    const live = sessions.find((s) => s.jti === 'jti-live')!;
    const dead = sessions.find((s) => s.jti === 'jti-dead')!;
    // appTimestamp adds microseconds, which round to the nearest millisecond as SQLite rounds them.
    expect(live.expired).toBe(false);
    expect(dead.expired).toBe(true);
    expect(Date.parse(live.expiresAt) - soon.getTime()).toBeOneOf([0, 1]);
    expect(Date.parse(dead.expiresAt) - past.getTime()).toBeOneOf([0, 1]);

    const show = JSON.parse((await run(db, ['user', 'show', 'admin', '--json'], { env })).stdout).user;
    expect(show.sessions).toMatchObject({ active: 1, expired: 1 });
    const [created] = await db.query<{ created_at: string }>("SELECT created_at FROM users WHERE username = 'admin'");
    expect(show.createdAt.slice(0, 19)).toBe(created!.created_at.replace(' ', 'T').slice(0, 19));

    const audit = JSON.parse((await run(db, ['audit', '--json'], { env })).stdout).entries;
    expect(Math.abs(Date.parse(audit[0].at) - now)).toBeLessThan(5 * 60_000);

    const purge = JSON.parse((await run(db, ['sessions', 'purge', '--json'], { env })).stdout);
    expect(purge.deleted).toBe(1);
    expect(await db.query('SELECT jti FROM user_sessions')).toEqual([{ jti: 'jti-live' }]);
  });
});

describe('time zone test guard', () => {
  it('spawned processes really run in the zone TZ names', () => {
    // Otherwise the tests above would pass on a UTC machine without testing anything.
    const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(new Date(Date.UTC(2026, 0, 15)).getTimezoneOffset()))'], {
      env: { ...process.env, TZ: 'America/New_York' },
      encoding: 'utf8',
    });
    expect(r.stdout).toBe('300');
  });
});
