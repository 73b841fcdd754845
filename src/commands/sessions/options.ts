import { usageError } from '../../core/errors.js';

/** Option parsing shared by the sessions commands; every refusal is a usage error (exit 2). */
export function positiveInt(value: string, flag: string, max = Number.MAX_SAFE_INTEGER): number {
  if (!/^\d+$/.test(value.trim()) || Number(value) < 1 || Number(value) > max) {
    throw usageError(`${flag} must be a whole number from 1 to ${max}, not "${value}".`);
  }
  return Number(value);
}

export function tokenType(value: string | undefined): 'access' | 'refresh' | undefined {
  if (value === undefined) return undefined;
  if (value !== 'access' && value !== 'refresh') throw usageError(`--type must be access or refresh, not "${value}".`);
  return value;
}
