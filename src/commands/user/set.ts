import { usageError } from '../../core/errors/errors.js';
import type { FieldChange, SetUserResult, UserEdits } from '../../core/users/edit.js';
import { PLACEHOLDER_NOTICE } from '../../core/users/admin-placeholder.js';
import { validateEmail, validateFullName, validateNewUsername } from '../../core/users/validate.js';
import type { Output } from '../../terminal/output.js';
import { defineCommand, type RawInput } from '../define.js';
import { usernameArg } from '../options.js';
import { WEAK_ADMIN_ALLOWED } from './password.js';

interface SetInput {
  username: string;
  edits: UserEdits;
  dryRun: boolean;
  force: boolean;
  allowWeakPassword: boolean;
}

/** Options whose negation shares their value: commander keeps the last one given, so both are recorded as they are seen. */
const PAIRS = [['email', 'no-email'], ['admin', 'no-admin']] as const;
const seenKey = (name: string) => `seen:${name}`;

function editsFrom({ opts }: RawInput): UserEdits {
  for (const [yes, no] of PAIRS) {
    if (opts[seenKey(yes)] && opts[seenKey(no)]) {
      throw usageError(`--${yes} and --${no} contradict each other.`, `Give one of them.`);
    }
  }
  const edits: UserEdits = {};
  if (opts.rename !== undefined) edits.username = validateNewUsername(opts.rename as string);
  if (opts.fullName !== undefined) edits.fullName = validateFullName(opts.fullName as string);
  // --email <e> gives a string, --no-email gives false.
  if (opts.email === false) edits.email = null;
  else if (opts.email !== undefined) edits.email = validateEmail(opts.email as string);
  if (opts.admin !== undefined) edits.isAdmin = Boolean(opts.admin);
  if (Object.keys(edits).length === 0) {
    throw usageError('Nothing to change.', 'Give at least one of --full-name, --email, --no-email, --admin, --no-admin or --rename.');
  }
  return edits;
}

const LABEL: Record<FieldChange['field'], string> = { username: 'username', fullName: 'full name', email: 'email', isAdmin: 'admin' };

function show(value: FieldChange['from'], field: FieldChange['field']): string {
  // An admin flag is null only when its stored value could not be read.
  if (value === null) return field === 'isAdmin' ? '(unreadable)' : '(none)';
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  return `"${value}"`;
}

function renderChanges(out: Output, result: SetUserResult): void {
  for (const c of result.changes) out.line(`  ${LABEL[c.field]}: ${show(c.from, c.field)} → ${show(c.to, c.field)}`);
}

export const setCommand = () =>
  defineCommand<SetInput, SetUserResult>({
    name: 'set',
    description: "change a user's full name, email, admin flag or username",
    examples: [
      'authctl user set alice --email alice@example.com --full-name "Alice Chen"',
      'authctl user set bob --admin',
      'authctl user set carol --no-admin --dry-run',
      'authctl user set dave --rename david --json',
    ],
    arguments: [{ name: '<username>' }],
    options: (cmd) => {
      for (const name of PAIRS.flat()) cmd.on(`option:${name}`, () => cmd.setOptionValue(seenKey(name), true));
      return cmd
        .option('--full-name <name>', 'full name, 1 to 100 characters')
        .option('--email <email>', 'email address')
        .option('--no-email', 'remove the email address')
        .option('--admin', 'make the user an admin')
        .option('--no-admin', 'take the admin flag away (revokes the user\'s sessions)')
        .option('--rename <new>', 'new username, 3 to 50 characters (revokes the user\'s sessions)')
        .option('--dry-run', 'show what would change and change nothing')
        .option('--force', 'allow demoting or renaming the last active admin, and changing what gpustack sync owns on a linked user')
        .option('--allow-weak-password', 'make an admin of a user whose password is a well-known one (recorded in the audit log)');
    },
    parse: (raw) => ({
      username: usernameArg(raw.args[0] as string),
      edits: editsFrom(raw),
      dryRun: Boolean(raw.opts.dryRun),
      force: Boolean(raw.opts.force),
      allowWeakPassword: Boolean(raw.opts.allowWeakPassword),
    }),
    needs: 'ready',
    run: async ({ db }, { username, edits, dryRun, force, allowWeakPassword }) => {
      const { setUser } = await import('../../core/users/edit.js');
      return setUser(db, username, edits, { dryRun, force, allowWeakPassword });
    },
    render: (result, out, { username }) => {
      if (result.changes.length === 0) {
        out.success(`"${username}" already has these values. Nothing to do.`);
        return;
      }
      out.line(result.dryRun ? `Would change "${username}":` : `Changed "${username}":`);
      renderChanges(out, result);
      const revokes = result.changes.some((c) => c.field === 'username' || (c.field === 'isAdmin' && c.to === false));
      if (revokes) {
        const why = '(their tokens carry the old username and admin flag)';
        out.line(result.dryRun ? `Would revoke ${result.revokedSessions} session(s) ${why}.` : `Revoked ${result.revokedSessions} session(s) ${why}.`);
      }
      if (result.reservedAdmin) {
        if (result.dryRun) out.line('No user would be named "admin" afterwards: a disabled placeholder with that name would be kept, so the app cannot seed admin/admin.');
        else out.warn(PLACEHOLDER_NOTICE);
      }
      if (result.forced.includes('gpustack-linked')) out.warn('This user is linked to GPUStack: the next `authctl gpustack sync` may undo the change.');
      if (result.forced.includes('last-admin')) out.warn('This was the last active admin (--force).');
      if (result.weakPasswordAllowed) out.warn(WEAK_ADMIN_ALLOWED);
      if (!result.dryRun) out.success(`Updated "${result.user.username}".`);
    },
  });
