import { randomInt } from 'node:crypto';
import bcrypt from 'bcryptjs';
import { refused, usageError } from '../errors/errors.js';

const DEFAULT_BCRYPT_ROUNDS = 12;
const MIN_BCRYPT_ROUNDS = 10;
const MAX_BCRYPT_ROUNDS = 15;
/** bcrypt reads only the first 72 bytes; anything longer would be silently ignored. */
const MAX_PASSWORD_BYTES = 72;
const MIN_LENGTH_ADMIN = 12;
const MIN_LENGTH_USER = 8;
const GENERATED_LENGTH = 20;

/**
 * Default and very common passwords. doctor tries each of these (and the
 * username) against every active user's hash, so the list stays short.
 */
export const DEFAULT_PASSWORDS = ['admin', 'password', 'changeme', 'gpustack', '123456'];

/**
 * The accounts the app documents with fixed passwords: the admin it seeds at
 * every start, and the two its setup script (`database/init_db.py
 * --test-users`) creates on request.
 */
export const APP_DEFAULT_ACCOUNTS = [
  { username: 'admin', password: 'admin', origin: 'seeded by the app' },
  { username: 'testuser', password: 'testpass', origin: "created by the app's setup script" },
  { username: 'admin2', password: 'admin123', origin: "created by the app's setup script" },
] as const;

/** Refused by the policy in addition to the defaults and the app's documented passwords. */
const COMMON_PASSWORDS = new Set([
  ...DEFAULT_PASSWORDS, ...APP_DEFAULT_ACCOUNTS.map((a) => a.password), 'root', 'secret',
  '12345678', '123456789', '1234567890', '123123123', '111111111', '000000000', 'password1', 'password123',
  'passw0rd', 'qwerty123', 'qwertyuiop', 'iloveyou', 'letmein1', 'welcome1', 'welcome123', 'admin1234',
  'administrator', 'changeme123', 'gpustack123', 'abc12345', 'abcd1234', 'football', 'baseball', 'sunshine',
  'trustno1', 'superman', 'princess', 'starwars', 'dragon123', 'monkey123', 'master123', 'whatever',
  'adminadmin', 'rootroot', 'testtest', 'test1234', 'guest123', 'p@ssw0rd', 'p@ssword', 'qwerty12345',
  'password!', 'changeit', 'default', 'secret123', '11111111', '00000000', '87654321', 'aaaaaaaa',
]);

export function resolveRounds(flag: string | undefined, env: NodeJS.ProcessEnv): number {
  const raw = flag ?? env.AUTHCTL_BCRYPT_ROUNDS;
  if (raw === undefined || raw === '') return DEFAULT_BCRYPT_ROUNDS;
  const rounds = Number(raw);
  if (!Number.isInteger(rounds) || rounds < MIN_BCRYPT_ROUNDS || rounds > MAX_BCRYPT_ROUNDS) {
    throw usageError(
      `bcrypt rounds must be a whole number from ${MIN_BCRYPT_ROUNDS} to ${MAX_BCRYPT_ROUNDS}, not "${raw}".`,
      `Omit --rounds / AUTHCTL_BCRYPT_ROUNDS to use the app's own cost, ${DEFAULT_BCRYPT_ROUNDS}.`,
    );
  }
  return rounds;
}

export interface PolicyInput {
  password: string;
  username: string;
  isAdmin: boolean;
}

/** Why a password breaks the NIST 800-63B style policy, or null when it passes. */
export function policyViolation({ password, username, isAdmin }: PolicyInput): string | null {
  const length = [...password].length;
  const min = isAdmin ? MIN_LENGTH_ADMIN : MIN_LENGTH_USER;
  if (length < min) return `it has ${length} characters; ${isAdmin ? 'an admin' : 'a user'} needs at least ${min}`;
  if (password.toLowerCase() === username.toLowerCase()) return 'it is the same as the username';
  if (COMMON_PASSWORDS.has(password.toLowerCase())) return 'it is on the list of common or default passwords';
  return null;
}

/**
 * Checks a new password: the 72-byte limit always applies, the policy unless
 * the operator chose --allow-weak-password.
 */
export function checkNewPassword(input: PolicyInput & { allowWeak: boolean }): void {
  if (input.password.length === 0) throw usageError('The password is empty.');
  if (/\p{Cc}/u.test(input.password)) {
    throw usageError(
      'The password contains a control character (a line break, tab or similar), which nobody can type into the login form.',
      'A piped password or password file may end with one line break; everything before it is the password.',
    );
  }
  if (Buffer.byteLength(input.password, 'utf8') > MAX_PASSWORD_BYTES) {
    throw refused(
      'PASSWORD_TOO_LONG',
      `The password is longer than ${MAX_PASSWORD_BYTES} bytes; bcrypt would silently ignore the rest.`,
      'Choose a shorter password (a 20-character generated one is plenty: --generate-password).',
    );
  }
  if (input.allowWeak) return;
  const why = policyViolation(input);
  if (why) {
    throw refused(
      'WEAK_PASSWORD',
      `The password is refused: ${why}.`,
      'Choose a longer, uncommon password, use --generate-password, or override with --allow-weak-password.',
    );
  }
}

const ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789';

/** 20 characters from the CSPRNG, without look-alike characters. */
export function generatePassword(length = GENERATED_LENGTH): string {
  let out = '';
  for (let i = 0; i < length; i++) out += ALPHABET[randomInt(ALPHABET.length)];
  return out;
}

/** A `$2b$` hash, the form passlib writes and verifies. */
export async function hashPassword(password: string, rounds = DEFAULT_BCRYPT_ROUNDS): Promise<string> {
  const salt = await bcrypt.genSalt(rounds);
  return bcrypt.hash(password, salt);
}

/** Verifies against `$2a$`, `$2b$` and `$2y$` hashes, as passlib does. */
export async function verifyPassword(password: string, hash: string | null | undefined): Promise<boolean> {
  if (!hash || !/^\$2[aby]\$\d{2}\$/.test(hash)) return false;
  return bcrypt.compare(password, hash.replace(/^\$2y\$/, '$2b$'));
}
