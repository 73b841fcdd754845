import { Option, type Command } from 'commander';
import { AuthctlError, ExitCode, usageError } from '../core/errors/errors.js';
import { parseInstant } from '../core/time/timestamps.js';
import type { NewPasswordOptions } from '../terminal/password-input.js';

/** --wide: tables show whole values instead of fitting the terminal. */
export function addWideOption(cmd: Command): Command {
  return cmd.option('--wide', 'show whole values instead of fitting the terminal');
}

/** How a listing is printed: --wide, --no-headers, --format (read by the command's Output). */
export function addListingOptions(cmd: Command): Command {
  return addWideOption(cmd)
    .option('--no-headers', 'leave out the header line')
    .addOption(new Option('--format <format>', 'table for people, tsv or csv for scripts (whole values)').choices(['table', 'tsv', 'csv']).default('table'));
}

/** The password-source options shared by init-db, user add and user reset. */
export function addPasswordOptions(cmd: Command): Command {
  return cmd
    .option('--password-stdin', 'read the password from standard input')
    .option('--password-file <path>', 'read the password from a file')
    .option('--generate-password', 'generate a 20-character password and show it once')
    .option('--allow-weak-password', 'accept a password the policy refuses (recorded in the audit log)')
    .addOption(new Option('--rounds <n>', 'bcrypt cost, 10 to 15 (default: 12, or AUTHCTL_BCRYPT_ROUNDS)'));
}

/** The password-source options of init-db, `user add` and `user reset`, as commander parsed them. */
export function newPasswordInput(opts: Record<string, unknown>): NewPasswordOptions {
  return {
    passwordStdin: opts.passwordStdin as boolean | undefined,
    passwordFile: givenValue(opts.passwordFile as string | undefined, '--password-file', 'a file path'),
    generatePassword: opts.generatePassword as boolean | undefined,
    allowWeakPassword: opts.allowWeakPassword as boolean | undefined,
    rounds: opts.rounds as string | undefined,
  };
}

/**
 * A value that names something (a file, a URL, a user), as given to an
 * option: undefined when the option was left out, and exit 2 when it was
 * given empty, as `--passwords-out "$UNSET"` is. An empty value must never
 * pass for a missing one: that would print generated passwords or hashes to
 * standard output instead of writing them to a private file.
 */
export function givenValue(value: string | undefined, flag: string, what: string): string | undefined {
  if (value === undefined) return undefined;
  if (value.trim() === '') throw usageError(`${flag} needs ${what}, not an empty value.`, `Give ${what}, or leave ${flag} out.`);
  return value;
}

/** A username given as an argument: exit 2 when empty (no user add makes one), else as typed, to be looked up. */
export function usernameArg(value: string): string {
  if (value === '') throw usageError('The username is empty.', 'Give the name of an existing user; `authctl user list --all` shows them.');
  return value;
}

/** Parses a whole number from 1 to `max` given to an option, or fails with exit 2. */
export function parsePositiveInt(value: string, flag: string, max = Number.MAX_SAFE_INTEGER, hint = `Give ${flag} a whole number in that range.`): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < 1 || n > max) {
    // "of 1 or more" unless the number was too large for that to explain the refusal.
    const range = max === Number.MAX_SAFE_INTEGER && !(n > max) ? 'of 1 or more' : `from 1 to ${max}`;
    throw new AuthctlError('USAGE', `${flag} must be a whole number ${range}, not "${value}".`, ExitCode.usage, hint);
  }
  return n;
}

/** `--since`/`--until`: a duration ago (`24h`, `7d`) or a UTC date or time; anything else fails with exit 2. */
export function parseInstantOption(value: string | undefined, flag: string, now: Date): Date | undefined {
  if (value === undefined) return undefined;
  try {
    return parseInstant(value, now);
  } catch (err) {
    throw usageError(`${flag}: ${(err as Error).message}.`);
  }
}
