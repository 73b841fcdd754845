import { Command } from 'commander';
import { createContext } from '../../context.js';

const ACTIONS = ['list', 'get', 'set', 'unset'] as const;

export function prefsCommand(): Command {
  return new Command('prefs')
    .description('list, get, set or unset a user preference')
    .usage('<username> [list | get <key> | set <key> <value> | unset <key>]')
    .argument('<username>')
    .argument('[action]', 'list (default), get, set or unset')
    .argument('[args...]')
    .action(async (username: string, action: string | undefined, args: string[], _opts: object, command: Command) => {
      const ctx = createContext(command);
      const { usageError } = await import('../../core/errors/errors.js');
      const verb = (action ?? 'list') as (typeof ACTIONS)[number];
      if (!ACTIONS.includes(verb)) throw usageError(`Unknown prefs action "${action}".`, 'Use list, get <key>, set <key> <value> or unset <key>.');
      const want = { list: 0, get: 1, set: 2, unset: 1 }[verb];
      if (args.length !== want) {
        throw usageError(`prefs ${verb} takes ${want === 0 ? 'no arguments' : want === 1 ? 'a key' : 'a key and a value'}.`, 'Example: authctl user prefs alice set theme dark');
      }
      const { database } = ctx.config();
      const { openReadyClient } = await import('../../core/db/readiness.js');
      const prefs = await import('../../core/users/preferences.js');
      const client = await openReadyClient(database);
      const { out } = ctx;
      try {
        if (verb === 'list') {
          const rows = await prefs.listPreferences(client, username);
          out.emitJson({ username, preferences: rows });
          out.table(rows, [
            { header: 'preference', value: (p) => p.key },
            { header: 'value', value: (p) => p.value },
            { header: 'known to the app', value: (p) => (p.known ? 'yes' : 'no') },
          ], `${username} has no preferences set.`);
          return;
        }
        const key = args[0]!;
        if ((verb === 'set' || verb === 'get') && !prefs.isKnownPreference(key)) {
          out.warn(`"${key}" is not a preference the app knows; it will ignore it.`);
        }
        if (verb === 'get') {
          const row = await prefs.getPreference(client, username, key);
          out.emitJson({ username, ...row });
          out.line(row.value ?? '');
        } else if (verb === 'set') {
          const result = await prefs.setPreference(client, username, key, args[1]!);
          out.emitJson({ username, ...result.row, previous: result.previous, changed: result.changed });
          out.success(result.changed ? `Set ${key} = ${result.row.value} for "${username}".` : `${key} is already ${result.row.value}. Nothing to do.`);
        } else {
          const result = await prefs.unsetPreference(client, username, key);
          out.emitJson({ username, key, previous: result.previous });
          out.success(`Removed ${key} from "${username}".`);
        }
      } finally {
        await client.$disconnect();
      }
    });
}
