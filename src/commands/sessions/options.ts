import { usageError } from '../../core/errors/errors.js';

/** The values of `--type`, offered by help and shell completion. */
export const TOKEN_TYPES = ['access', 'refresh'];

/** `--type` for the sessions commands; anything else is a usage error (exit 2). */
export function tokenType(value: string | undefined): 'access' | 'refresh' | undefined {
  if (value === undefined) return undefined;
  if (value !== 'access' && value !== 'refresh') throw usageError(`--type must be access or refresh, not "${value}".`);
  return value;
}
