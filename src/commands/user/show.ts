import type { UserDetails } from '../../core/users/users.js';
import { usernameArg } from '../options.js';
import { defineCommand } from '../define.js';
import { printUserSummary } from './render.js';

interface UserShowResult {
  user: UserDetails;
}

export const showCommand = () =>
  defineCommand<{ username: string }, UserShowResult>({
    name: 'show',
    description: 'details, session counts and preferences of one user',
    examples: [
      'authctl user show alice',
      'authctl user show alice --json',
    ],
    arguments: [{ name: '<username>' }],
    parse: ({ args }) => ({ username: usernameArg(args[0] as string) }),
    needs: 'ready',
    run: async ({ db }, { username }) => {
      const { showUser } = await import('../../core/users/users.js');
      return { user: await showUser(db, username) };
    },
    render: ({ user }, out) => {
      printUserSummary(out, user);
      out.line();
      out.line(
        `sessions: ${user.sessions.active} active (${user.sessions.activeAccess} access, ${user.sessions.activeRefresh} refresh), ${user.sessions.expired} expired` +
          (user.sessions.unknownExpiry ? `, ${user.sessions.unknownExpiry} with an expiry in no known form` : ''),
      );
      out.line();
      out.table(user.preferences, [
        { header: 'preference', value: (p) => p.key },
        { header: 'value', value: (p) => p.value },
      ], 'No preferences set.');
      if (user.legacyPreferences !== null) out.line(`legacy preferences: ${JSON.stringify(user.legacyPreferences)}`);
    },
  });
