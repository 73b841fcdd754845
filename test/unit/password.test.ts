import { describe, expect, it } from 'vitest';
import { APP_DEFAULT_ACCOUNTS, checkNewPassword, generatePassword, hashPassword, policyViolation, resolveRounds, verifyPassword } from '../../src/core/passwords/password.js';
import { independentBcrypt, independentVerify } from '../support/db.js';

describe('password policy', () => {
  it('needs 12 characters for an admin and 8 for anyone else', () => {
    expect(policyViolation({ password: 'elevenchars', username: 'a', isAdmin: true })).toMatch(/at least 12/);
    expect(policyViolation({ password: 'twelve chars', username: 'a', isAdmin: true })).toBeNull();
    expect(policyViolation({ password: 'sevench', username: 'a', isAdmin: false })).toMatch(/at least 8/);
    expect(policyViolation({ password: 'eightchr', username: 'a', isAdmin: false })).toBeNull();
  });
  it('refuses the username and common passwords', () => {
    expect(policyViolation({ password: 'alice-the-admin', username: 'Alice-The-Admin', isAdmin: true })).toMatch(/username/);
    expect(policyViolation({ password: 'password123', username: 'bob', isAdmin: false })).toMatch(/common/);
    expect(policyViolation({ password: 'changeme', username: 'bob', isAdmin: false })).toMatch(/common/);
  });
  it("refuses every password of the app's documented accounts, for any user (doctor flags them)", () => {
    for (const { password } of APP_DEFAULT_ACCOUNTS) {
      expect(policyViolation({ password, username: 'someone', isAdmin: false }), password).not.toBeNull();
    }
    expect(policyViolation({ password: 'testpass', username: 'testuser', isAdmin: false })).toMatch(/common/);
  });
  it('always refuses more than 72 bytes, even with --allow-weak-password', () => {
    const long = 'é'.repeat(37); // 74 bytes in 37 characters
    expect(() => checkNewPassword({ password: long, username: 'x', isAdmin: false, allowWeak: true })).toThrow(
      expect.objectContaining({ exitCode: 7, code: 'PASSWORD_TOO_LONG' }),
    );
  });
  it('lets --allow-weak-password through the policy', () => {
    expect(() => checkNewPassword({ password: 'admin', username: 'admin', isAdmin: true, allowWeak: true })).not.toThrow();
    expect(() => checkNewPassword({ password: 'admin', username: 'admin', isAdmin: true, allowWeak: false })).toThrow(
      expect.objectContaining({ exitCode: 7 }),
    );
  });
});

describe('bcrypt', () => {
  it('writes $2b$ at the chosen cost, which an independent bcrypt verifies', async () => {
    const hash = await hashPassword('a fine passphrase', 10);
    expect(hash).toMatch(/^\$2b\$10\$/);
    expect(independentVerify('a fine passphrase', hash)).toBe(true);
    expect(independentVerify('another', hash)).toBe(false);
  });
  it('verifies hashes made elsewhere, $2a$ and $2y$ included', async () => {
    const hash = independentBcrypt('admin', 10);
    expect(await verifyPassword('admin', hash)).toBe(true);
    expect(await verifyPassword('admin', hash.replace('$2b$', '$2y$'))).toBe(true);
    expect(await verifyPassword('admin', hash.replace('$2b$', '$2a$'))).toBe(true);
    expect(await verifyPassword('nope', hash)).toBe(false);
    expect(await verifyPassword('admin', null)).toBe(false);
  });
  it('takes rounds from 10 to 15 only', () => {
    expect(resolveRounds(undefined, {})).toBe(12);
    expect(resolveRounds(undefined, { AUTHCTL_BCRYPT_ROUNDS: '11' })).toBe(11);
    expect(() => resolveRounds('9', {})).toThrow(expect.objectContaining({ exitCode: 2 }));
    expect(() => resolveRounds('16', {})).toThrow(expect.objectContaining({ exitCode: 2 }));
  });
  it('generates 20 characters from a CSPRNG, each time different', () => {
    const a = generatePassword();
    expect(a).toHaveLength(20);
    expect(generatePassword()).not.toBe(a);
  });
});
