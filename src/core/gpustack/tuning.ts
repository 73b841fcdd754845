import { echoServerText } from '../config/secrets.js';
import { usageError } from '../errors/errors.js';

export interface ClientTuning {
  connectTimeoutMs: number;
  readTimeoutMs: number;
  /** Retries after the first attempt, for network errors, 408, 429 and 5xx. */
  retries: number;
  /** The first backoff; each retry doubles it, with full jitter, up to maxDelayMs. */
  retryBaseMs: number;
  maxDelayMs: number;
  /** List pages requested at once during a sync. */
  pageConcurrency: number;
}

/**
 * With these defaults a dead server gives up after at most four attempts:
 * about 20 s when connections hang, 40 s when the server accepts but never
 * answers, and a few seconds when the connection is refused.
 */
export const DEFAULT_TUNING: ClientTuning = {
  connectTimeoutMs: 5000,
  readTimeoutMs: 10_000,
  retries: 3,
  retryBaseMs: 500,
  maxDelayMs: 4000,
  pageConcurrency: 4,
};

/** Each tuning variable, the range it may take, and where it goes. */
const TUNING_VARIABLES: Array<{ name: string; key: Exclude<keyof ClientTuning, 'maxDelayMs'>; min: number; max: number }> = [
  { name: 'AUTHCTL_GPUSTACK_CONNECT_TIMEOUT_MS', key: 'connectTimeoutMs', min: 1, max: 600_000 },
  { name: 'AUTHCTL_GPUSTACK_TIMEOUT_MS', key: 'readTimeoutMs', min: 1, max: 600_000 },
  { name: 'AUTHCTL_GPUSTACK_RETRIES', key: 'retries', min: 0, max: 10 },
  { name: 'AUTHCTL_GPUSTACK_RETRY_BASE_MS', key: 'retryBaseMs', min: 0, max: 60_000 },
  { name: 'AUTHCTL_GPUSTACK_CONCURRENCY', key: 'pageConcurrency', min: 1, max: 16 },
];

/**
 * Operators (and tests) can tune timeouts and retries through the
 * environment. A value that is not a whole number in range is a usage error
 * rather than quietly replaced, so a typo cannot turn into a different policy.
 */
export function tuningFromEnv(env: NodeJS.ProcessEnv): ClientTuning {
  const tuning: ClientTuning = { ...DEFAULT_TUNING };
  for (const { name, key, min, max } of TUNING_VARIABLES) {
    const raw = env[name]?.trim();
    if (raw === undefined || raw === '') continue;
    const value = /^\d+$/.test(raw) ? Number(raw) : NaN;
    if (!(value >= min && value <= max)) {
      throw usageError(
        `${name} must be a whole number from ${min} to ${max}, not "${echoServerText(raw, [], 40)}".`,
        `Fix or unset ${name} (default ${DEFAULT_TUNING[key]}).`,
      );
    }
    tuning[key] = value;
  }
  return tuning;
}
