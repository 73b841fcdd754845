import { usageError } from './errors.js';

/** Fits the app's VARCHAR(255) and its login form: no spaces, no control characters. */
export function validateUsername(username: string): string {
  if (username.length === 0) throw usageError('The username is empty.');
  if (username !== username.trim()) throw usageError(`The username "${username}" has leading or trailing whitespace.`, 'Remove the spaces.');
  if (username.length > 255) throw usageError('The username is longer than 255 characters, more than the app can store.');
  if (!/^[\p{L}\p{N}._@+-]+$/u.test(username)) {
    throw usageError(
      `The username "${username}" has characters the app's login form does not expect.`,
      'Use letters, digits and . _ @ + - only.',
    );
  }
  return username;
}

export function validateEmail(email: string): string {
  if (email !== email.trim()) throw usageError(`The email "${email}" has leading or trailing whitespace.`, 'Remove the spaces.');
  if (email.length > 255) throw usageError('The email is longer than 255 characters, more than the app can store.');
  if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email)) throw usageError(`"${email}" is not an email address.`, 'Use the form name@example.com.');
  return email;
}
