import { usageError } from '../errors/errors.js';

/**
 * Control characters (C0, DEL, C1) and the bidirectional overrides and
 * isolates: nobody types them into a form, and a terminal or browser would act
 * on them instead of showing them.
 */
const CONTROL = /[\p{Cc}\u202a-\u202e\u2066-\u2069]/u;

/** The longest username the app's login form accepts (its user-creation form also asks for at least 3). */
const MAX_USERNAME_LENGTH = 50;

/**
 * Why the app's login form could not take a username that comes from
 * elsewhere (GPUStack), or null when it can.
 */
export function usernameProblem(username: string): string | null {
  if (username.length === 0) return 'the username is empty';
  if (username.length > MAX_USERNAME_LENGTH) return `the username is ${username.length} characters long; the app's login form takes at most ${MAX_USERNAME_LENGTH}`;
  if (/[\p{Cc}\u2028\u2029\u202a-\u202e\u2066-\u2069]/u.test(username)) return 'the username holds control characters';
  return null;
}

/** Fits the app's login form (1 to 50 characters): no spaces, no control characters. */
export function validateUsername(username: string): string {
  if (username.length === 0) throw usageError('The username is empty.');
  if (username !== username.trim()) throw usageError(`The username "${username}" has leading or trailing whitespace.`, 'Remove the spaces.');
  if (username.length > MAX_USERNAME_LENGTH) {
    throw usageError(
      `The username is ${username.length} characters long; the app's login form accepts at most ${MAX_USERNAME_LENGTH}, so that user could never log in.`,
      `Choose a username of 1 to ${MAX_USERNAME_LENGTH} characters.`,
    );
  }
  if (!/^[\p{L}\p{N}._@+-]+$/u.test(username)) {
    throw usageError(
      `The username "${username}" has characters the app's login form does not expect.`,
      'Use letters, digits and . _ @ + - only.',
    );
  }
  return username;
}

/** The shortest username the app's user-creation form accepts. */
const MIN_NEW_USERNAME_LENGTH = 3;

/** A new name for an existing user, as the app's user-creation form asks for: 3 to 50 characters. */
export function validateNewUsername(username: string): string {
  validateUsername(username);
  if (username.length < MIN_NEW_USERNAME_LENGTH) {
    throw usageError(
      `The username "${username}" is ${username.length} character(s) long; the app's user-creation form asks for at least ${MIN_NEW_USERNAME_LENGTH}.`,
      `Choose a username of ${MIN_NEW_USERNAME_LENGTH} to ${MAX_USERNAME_LENGTH} characters.`,
    );
  }
  return username;
}

export function validateEmail(email: string): string {
  if (CONTROL.test(email)) throw usageError('The email contains control characters.', 'Type the address as plain text.');
  if (email !== email.trim()) throw usageError(`The email "${email}" has leading or trailing whitespace.`, 'Remove the spaces.');
  if (email.length > 255) throw usageError('The email is longer than 255 characters, more than the app can store.');
  if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email)) throw usageError(`"${email}" is not an email address.`, 'Use the form name@example.com.');
  return email;
}

/** The longest full name the app's user-creation form accepts. */
const MAX_FULL_NAME_LENGTH = 100;

/** A full name the app's forms accept: 1 to 100 characters, not blank, no control characters. */
export function validateFullName(fullName: string): string {
  if (fullName.trim().length === 0) throw usageError('The full name is empty.', 'Omit --full-name to use the username, or give a name.');
  if (fullName.length > MAX_FULL_NAME_LENGTH) {
    throw usageError(`The full name is ${fullName.length} characters long; the app accepts at most ${MAX_FULL_NAME_LENGTH}.`, 'Shorten it.');
  }
  if (CONTROL.test(fullName)) throw usageError('The full name contains control characters.', 'Type the name as plain text.');
  return fullName;
}
