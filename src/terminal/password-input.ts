import { usageError } from '../core/errors/errors.js';
import type { Output } from './output.js';
import { promptNewPassword } from './prompts.js';

export interface PasswordSourceOptions {
  passwordStdin?: boolean;
  passwordFile?: string;
  generatePassword?: boolean;
}

export interface PasswordInput {
  password: string;
  /** Set when authctl made the password: it must be shown once to the requester. */
  generated: boolean;
}

/** Exactly one line ending, as `echo` and editors add; a second one stays and is refused as a control character. */
function stripOneNewline(text: string): string {
  return text.replace(/\r?\n$/, '');
}

async function readStdin(): Promise<string> {
  const { decodePassword, SECRET_MAX_BYTES } = await import('../core/passwords/source.js');
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of process.stdin) {
    total += (chunk as Buffer).length;
    // Stops reading an endless stream (`< /dev/zero`) rather than holding it all.
    if (total > SECRET_MAX_BYTES) {
      process.stdin.destroy();
      throw usageError(`Standard input holds more than ${SECRET_MAX_BYTES / 1024} KiB, far more than a password.`, 'Pipe in the password alone, on one line.');
    }
    chunks.push(chunk as Buffer);
  }
  return decodePassword(Buffer.concat(chunks), 'standard input');
}

function describeSources(): string {
  return 'Pass --password-stdin, --password-file <path> or --generate-password, or run it in a terminal to be prompted.';
}

/**
 * Gets a new password from exactly one source. A value on the command line is
 * never accepted: argv is visible to every local user.
 */
async function readNewPassword(
  opts: PasswordSourceOptions,
  out: Output,
  label: string,
  check?: (password: string) => void,
): Promise<PasswordInput> {
  const chosen = [opts.passwordStdin, opts.passwordFile !== undefined, opts.generatePassword].filter(Boolean).length;
  if (chosen > 1) {
    throw usageError('Choose one password source: --password-stdin, --password-file or --generate-password.');
  }
  if (opts.generatePassword) {
    const { generatePassword } = await import('../core/passwords/password.js');
    return { password: generatePassword(), generated: true };
  }
  if (opts.passwordStdin) {
    if (process.stdin.isTTY) {
      throw usageError('--password-stdin expects the password piped in, not typed.', 'Omit it to be prompted with hidden input instead.');
    }
    const password = stripOneNewline(await readStdin());
    if (!password) {
      throw usageError(
        'No password arrived on standard input.',
        'Pipe the password into authctl, or use --password-file <path> or --generate-password instead.',
      );
    }
    return { password, generated: false };
  }
  if (opts.passwordFile !== undefined) {
    const { decodePassword, readableByOthersWarning, readSourceFile, SECRET_MAX_BYTES } = await import('../core/passwords/source.js');
    const file = readSourceFile(opts.passwordFile, 'password file', { regularOnly: false, maxBytes: SECRET_MAX_BYTES });
    const text = decodePassword(file.bytes, `the password file ${opts.passwordFile}`);
    const warning = readableByOthersWarning('password file', opts.passwordFile, file);
    if (warning) out.warn(warning);
    const password = stripOneNewline(text);
    if (!password) throw usageError(`The password file ${opts.passwordFile} is empty.`, 'Write the password into it on one line, or use --password-stdin or --generate-password.');
    return { password, generated: false };
  }
  if (!process.stdin.isTTY || !process.stderr.isTTY) {
    throw usageError('No password source, and no terminal to prompt on.', describeSources());
  }
  return { password: await promptNewPassword(out, label, check), generated: false };
}

export interface NewPasswordOptions extends PasswordSourceOptions {
  allowWeakPassword?: boolean;
  rounds?: string;
}

export interface PreparedPassword {
  hash: string;
  /** The generated password, to show once; null when the operator chose it. */
  generated: string | null;
  weakAllowed: boolean;
}

/** Reads, checks against the policy, and hashes a new password. */
export async function prepareNewPassword(
  opts: NewPasswordOptions,
  out: Output,
  user: { username: string; isAdmin: boolean },
): Promise<PreparedPassword> {
  const { checkNewPassword, hashPassword, resolveRounds } = await import('../core/passwords/password.js');
  const rounds = resolveRounds(opts.rounds, process.env);
  const check = (password: string) => checkNewPassword({ ...user, password, allowWeak: Boolean(opts.allowWeakPassword) });
  const input = await readNewPassword(opts, out, user.username, check);
  check(input.password);
  return {
    hash: await hashPassword(input.password, rounds),
    generated: input.generated ? input.password : null,
    weakAllowed: Boolean(opts.allowWeakPassword),
  };
}
