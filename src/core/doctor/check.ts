/** The state of one health check, in doctor and in `gpustack check` alike. */
export type CheckStatus = 'ok' | 'warn' | 'fail' | 'skipped';
