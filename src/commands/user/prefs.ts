import { usageError } from '../../core/errors/errors.js';
import type { PreferenceRow } from '../../core/users/preferences.js';
import { KNOWN_PREFERENCES, type PrefKind } from '../../core/users/preference-keys.js';
import { defineCommand } from '../define.js';
import { usernameArg } from '../options.js';
import { terminalSafe } from '../../terminal/output.js';

type PrefsInput =
  | { username: string; action: 'list' }
  | { username: string; action: 'get' | 'unset'; key: string }
  | { username: string; action: 'set'; key: string; value: string };

/** The JSON of each action, as `user prefs` has always printed it. */
type PrefsListResult = { username: string; preferences: PreferenceRow[] };
type PrefsGetResult = { username: string } & PreferenceRow;
type PrefsSetResult = { username: string } & PreferenceRow & { previous: string | null; changed: boolean };
type PrefsUnsetResult = { username: string; key: string; previous: string | null };
type PrefsResult = PrefsListResult | PrefsGetResult | PrefsSetResult | PrefsUnsetResult;

const ARITY = { list: 0, get: 1, set: 2, unset: 1 } as const;

function parsePrefs(rawUsername: string, action: string | undefined, args: string[]): PrefsInput {
  const username = usernameArg(rawUsername);
  const verb = action ?? 'list';
  if (!Object.hasOwn(ARITY, verb)) throw usageError(`Unknown prefs action "${action}".`, 'Use list, get <key>, set <key> <value> or unset <key>.');
  const want = ARITY[verb as keyof typeof ARITY];
  if (args.length !== want) {
    throw usageError(`prefs ${verb} takes ${want === 0 ? 'no arguments' : want === 1 ? 'a key' : 'a key and a value'}.`, 'Example: authctl user prefs alice set theme dark');
  }
  if (verb === 'list') return { username, action: 'list' };
  if (verb === 'set') return { username, action: 'set', key: args[0]!, value: args[1]! };
  return { username, action: verb as 'get' | 'unset', key: args[0]! };
}

const KINDS: Record<PrefKind, string> = { string: 'text', float: 'a number', int: 'a whole number', bool: 'true or false' };

/** The keys the app knows, grouped by the kind of value each takes. */
function knownKeys(): string {
  const groups = (Object.keys(KINDS) as PrefKind[]).map((kind) => {
    const keys = Object.keys(KNOWN_PREFERENCES).filter((key) => KNOWN_PREFERENCES[key] === kind);
    return `${keys.join(', ')} (${KINDS[kind]})`;
  });
  return `Keys the app knows: ${groups.join('; ')}. Other keys are stored as given.`;
}

export const prefsCommand = () =>
  defineCommand<PrefsInput, PrefsResult>({
    name: 'prefs',
    description: 'list, get, set or unset a user preference',
    examples: [
      'authctl user prefs alice',
      'authctl user prefs alice get theme',
      'authctl user prefs alice set theme dark',
      'authctl user prefs alice set default_temperature 0.7',
      'authctl user prefs alice unset default_model --json',
    ],
    arguments: [
      { name: '<username>', description: 'the user whose preferences to read or change' },
      { name: '[action]', description: 'list, get, set or unset (default: list)' },
      { name: '[args...]', description: `get and unset: the key; set: the key and its value. ${knownKeys()}` },
    ],
    options: (cmd) => cmd.usage('<username> [list | get <key> | set <key> <value> | unset <key>]'),
    parse: ({ args }) => parsePrefs(args[0] as string, args[1] as string | undefined, args[2] as string[]),
    needs: 'ready',
    run: async ({ db, out }, input): Promise<PrefsResult> => {
      const prefs = await import('../../core/users/preferences.js');
      const { username } = input;
      if (input.action === 'list') return { username, preferences: await prefs.listPreferences(db, username) };
      const { key } = input;
      if ((input.action === 'set' || input.action === 'get') && !prefs.isKnownPreference(key)) {
        out.warn(`"${key}" is not a preference the app knows; it will ignore it.`);
      }
      if (input.action === 'get') return { username, ...(await prefs.getPreference(db, username, key)) };
      if (input.action === 'set') {
        const result = await prefs.setPreference(db, username, key, input.value);
        return { username, ...result.row, previous: result.previous, changed: result.changed };
      }
      const { previous } = await prefs.unsetPreference(db, username, key);
      return { username, key, previous };
    },
    render: async (result, out, input) => {
      switch (input.action) {
        case 'list': {
          const { username, preferences } = result as PrefsListResult;
          out.table(preferences, [
            { header: 'preference', value: (p) => p.key },
            { header: 'value', value: (p) => p.value },
            { header: 'known to the app', value: (p) => (p.known ? 'yes' : 'no') },
          ], `${username} has no preferences set.`);
          return;
        }
        case 'get':
          // The value is the command's data, printed with --quiet too; a user chose it, so it is escaped even into a pipe, as before.
          await out.data(`${terminalSafe((result as PrefsGetResult).value ?? '')}\n`);
          return;
        case 'set': {
          const { username, key, value, changed } = result as PrefsSetResult;
          out.success(changed ? `Set ${key} = ${value} for "${username}".` : `${key} is already ${value}. Nothing to do.`);
          return;
        }
        case 'unset':
          out.success(`Removed ${input.key} from "${input.username}".`);
      }
    },
  });
