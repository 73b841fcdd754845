import { Command } from 'commander';
import { createContext } from '../../context.js';
import { printUserSummary } from './render.js';

export function showCommand(): Command {
  return new Command('show')
    .description('details, session counts and preferences of one user')
    .argument('<username>')
    .action(async (username: string, _opts: object, command: Command) => {
      const ctx = createContext(command);
      const { database } = ctx.config();
      const { openReadyClient } = await import('../../core/db/readiness.js');
      const { showUser } = await import('../../core/users/users.js');
      const client = await openReadyClient(database);
      try {
        const user = await showUser(client, username);
        const { out } = ctx;
        out.emitJson({ user });
        printUserSummary(out, user);
        out.line();
        out.line(
          `sessions: ${user.sessions.active} active (${user.sessions.activeAccess} access, ${user.sessions.activeRefresh} refresh), ${user.sessions.expired} expired`,
        );
        out.line();
        out.table(user.preferences, [
          { header: 'preference', value: (p) => p.key },
          { header: 'value', value: (p) => p.value },
        ], 'No preferences set.');
        if (user.legacyPreferences !== null) out.line(`legacy preferences: ${JSON.stringify(user.legacyPreferences)}`);
      } finally {
        await client.$disconnect();
      }
    });
}
