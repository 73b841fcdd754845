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

  it('writes floats exactly as Python repr() does, so the app reads them back with json.loads', () => {
    // Expected values are Python 3's repr(float(raw)).
    const cases: Array<[string, string]> = [
      ['1e21', '1e+21'], ['1e22', '1e+22'], ['1e16', '1e+16'], ['1e15', '1000000000000000.0'], ['123456789012345678', '1.2345678901234568e+17'],
      ['0.0001', '0.0001'], ['0.00001', '1e-05'], ['1.5e-7', '1.5e-07'], ['-0', '-0.0'], ['0', '0.0'], ['.5', '0.5'], ['+2', '2.0'],
      ['0.1e1', '1.0'], ['5e-324', '5e-324'], ['1.7976931348623157e308', '1.7976931348623157e+308'], ['9007199254740993', '9007199254740992.0'],
    ];
    for (const [raw, python] of cases) expect(encodePreference('default_temperature', raw), raw).toBe(python);
    for (const raw of ['1e400', '0x10', '0b1', '1_000', 'NaN', '1e', '.']) {
      expect(() => encodePreference('default_temperature', raw), raw).toThrow(expect.objectContaining({ exitCode: 2 }));
    }
  });

  it('writes whole numbers with their exact digits, never through a float', () => {
    expect(encodePreference('default_max_tokens', '9999999999999999999999')).toBe('9999999999999999999999');
    expect(encodePreference('default_max_tokens', '99999999999999999999')).toBe('99999999999999999999');
    expect(encodePreference('default_max_tokens', '-0')).toBe('0');
    expect(encodePreference('default_max_tokens', '+7')).toBe('7');
    expect(encodePreference('default_max_tokens', '9'.repeat(4300))).toBe('9'.repeat(4300));
    // Python's int() refuses more than 4300 digits.
    expect(() => encodePreference('default_max_tokens', '9'.repeat(4301))).toThrow(expect.objectContaining({ exitCode: 2, message: expect.stringContaining('4301 digits') }));
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
