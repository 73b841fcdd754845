import { describe, expect, it } from 'vitest';
import { encodePreference, isKnownPreference } from '../../src/core/users/preferences.js';

/** The app stores preferences through Python's str(): True/False, 0.7, 1.0, 4096. */
describe('encodePreference', () => {
  it('writes yes/no settings as Python booleans, from any usual spelling', () => {
    for (const raw of ['true', 'TRUE', ' yes ', 'on', '1']) expect(encodePreference('enable_streaming', raw), raw).toBe('True');
    for (const raw of ['false', 'No', 'off', '0']) expect(encodePreference('show_metrics', raw), raw).toBe('False');
  });

  it('writes whole numbers without padding and floats with their .0', () => {
    expect(encodePreference('default_max_tokens', ' 0042 ')).toBe('42');
    expect(encodePreference('max_file_size_mb', '-3')).toBe('-3');
    expect(encodePreference('default_temperature', '1')).toBe('1.0');
    expect(encodePreference('default_temperature', '0.70')).toBe('0.7');
    expect(encodePreference('default_temperature', '-2.5')).toBe('-2.5');
  });

  it('keeps text settings and unknown keys exactly as given', () => {
    expect(encodePreference('theme', ' Dark ')).toBe(' Dark ');
    expect(encodePreference('my_plugin', '{"a": [1, 2]}')).toBe('{"a": [1, 2]}');
    expect(encodePreference('my_flag', 'yes')).toBe('yes');
  });

  it('refuses a value of the wrong kind with exit 2, naming the key', () => {
    for (const [key, raw] of [['enable_web_search', 'maybe'], ['enable_web_search', ''], ['default_max_tokens', '1.5'], ['default_max_tokens', 'lots'], ['default_temperature', ''], ['default_temperature', 'warm'], ['default_temperature', 'Infinity']] as const) {
      expect(() => encodePreference(key, raw), `${key}=${raw}`).toThrow(expect.objectContaining({ exitCode: 2, message: expect.stringContaining(key) }));
    }
  });
});

describe('isKnownPreference', () => {
  it('knows the app keys and nothing else, not even inherited names', () => {
    for (const key of ['theme', 'language', 'default_model', 'default_temperature', 'enable_streaming', 'max_file_size_mb']) expect(isKnownPreference(key), key).toBe(true);
    for (const key of ['Theme', 'my_plugin', '', 'toString', 'constructor', '__proto__']) expect(isKnownPreference(key), key).toBe(false);
  });
});
