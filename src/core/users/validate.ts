import { usageError } from '../errors/errors.js';

/**
 * Control characters (C0, DEL, C1) and the bidirectional overrides and
 * isolates: nobody types them into a form, and a terminal or browser would act
 * on them instead of showing them.
 */
const CONTROL = /[\p{Cc}\u202a-\u202e\u2066-\u2069]/u;

/** The longest username the app's login form accepts (its user-creation form also asks for at least 3). */
const MAX_USERNAME_LENGTH = 50;

/** Length as the app counts it (Python's len(): code points), not UTF-16 units: an emoji or a mathematical letter is one. */
function length(text: string): number {
  let n = 0;
  for (const _ of text) n++;
  return n;
}

/** A character for a message: its code point, and the character itself (quoted) when it is visible on its own. */
function describeChar(ch: string): string {
  const code = `U+${ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
  if (/^\s$/u.test(ch)) return `a space character (${code})`;
  return /^[\p{L}\p{N}\p{P}\p{S}]$/u.test(ch) ? `${JSON.stringify(ch)} (${code})` : code;
}

const USERNAME_CHAR = /[\p{L}\p{N}._@+-]/u;

/**
 * Why the app's login form could not take a username that comes from
 * elsewhere (GPUStack), or null when it can.
 */
export function usernameProblem(username: string): string | null {
  if (username.length === 0) return 'the username is empty';
  if (length(username) > MAX_USERNAME_LENGTH) return `the username is ${length(username)} characters long; the app's login form takes at most ${MAX_USERNAME_LENGTH}`;
  if (/[\p{Cc}\u2028\u2029\u202a-\u202e\u2066-\u2069]/u.test(username)) return 'the username holds control characters';
  return null;
}

/** Fits the app's login form (1 to 50 characters): no spaces, no control characters. */
export function validateUsername(username: string): string {
  if (username.length === 0) throw usageError('The username is empty.', 'Give a name of 1 to 50 characters: letters, digits and . _ @ + -.');
  if (username !== username.trim()) throw usageError(`The username "${username}" has leading or trailing whitespace.`, 'Remove the spaces.');
  if (length(username) > MAX_USERNAME_LENGTH) {
    throw usageError(
      `The username is ${length(username)} characters long; the app's login form accepts at most ${MAX_USERNAME_LENGTH}, so that user could never log in.`,
      `Choose a username of 1 to ${MAX_USERNAME_LENGTH} characters.`,
    );
  }
  const bad = [...username].find((ch) => !USERNAME_CHAR.test(ch));
  if (bad !== undefined) {
    // Marks, invisible and odd space characters are escaped, so the name is shown as it is, not as a terminal would draw it.
    // Control characters, bidirectional controls and line separators are left to the output, which escapes them everywhere.
    const shown = `"${username.replace(/[^\p{L}\p{N}\p{P}\p{S} \p{Cc}\u2028\u2029\u202a-\u202e\u2066-\u2069]/gu, (c) => {
      const code = c.codePointAt(0)!;
      return code > 0xffff ? `\\u{${code.toString(16)}}` : `\\u${code.toString(16).padStart(4, '0')}`;
    })}"`;
    if (/\p{M}/u.test(bad)) {
      // A decomposed accent (e + U+0301): what a keyboard sends is the single precomposed letter, a different name.
      const composed = username.normalize('NFC');
      const fixed = [...composed].every((ch) => USERNAME_CHAR.test(ch));
      throw usageError(
        `The username ${shown} has ${describeChar(bad)}, a combining mark written apart from its letter: a keyboard sends the accented letter as one character, so this name could not be typed at the login form.`,
        fixed ? `Use ${JSON.stringify(composed)}, the same name with each accented letter as one character.` : 'Use letters, digits and . _ @ + - only.',
      );
    }
    throw usageError(
      `The username ${shown} has ${describeChar(bad)}, which a username may not hold: authctl takes letters, digits and . _ @ + - only, so the name can be typed and shown unambiguously.`,
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
  if (length(username) < MIN_NEW_USERNAME_LENGTH) {
    throw usageError(
      `The username "${username}" is ${length(username)} character(s) long; the app's user-creation form asks for at least ${MIN_NEW_USERNAME_LENGTH}.`,
      `Choose a username of ${MIN_NEW_USERNAME_LENGTH} to ${MAX_USERNAME_LENGTH} characters.`,
    );
  }
  return username;
}

/** One @, something before it, and a host after it without spaces or empty labels (`a..b`, a leading or trailing dot). */
const EMAIL = /^[^\s@]+@[^\s@.]+(\.[^\s@.]+)*$/;

export function validateEmail(email: string): string {
  if (CONTROL.test(email)) throw usageError('The email contains control characters.', 'Type the address as plain text.');
  if (email !== email.trim()) throw usageError(`The email "${email}" has leading or trailing whitespace.`, 'Remove the spaces.');
  if (email.length > 255) throw usageError('The email is longer than 255 characters, more than the app can store.');
  // The app takes any text here and seeds admin@localhost itself: a host without a dot (localhost, an intranet name) is fine.
  if (!EMAIL.test(email)) throw usageError(`"${email}" is not an email address.`, 'Use the form name@example.com.');
  return email;
}

/** The longest full name the app's user-creation form accepts. */
const MAX_FULL_NAME_LENGTH = 100;

/** A full name the app's forms accept: 1 to 100 characters, not blank, no control characters. */
export function validateFullName(fullName: string): string {
  if (fullName.trim().length === 0) throw usageError('The full name is empty.', 'Omit --full-name to use the username, or give a name.');
  if (length(fullName) > MAX_FULL_NAME_LENGTH) {
    throw usageError(`The full name is ${length(fullName)} characters long; the app accepts at most ${MAX_FULL_NAME_LENGTH}.`, 'Shorten it.');
  }
  if (CONTROL.test(fullName)) throw usageError('The full name contains control characters.', 'Type the name as plain text.');
  return fullName;
}
