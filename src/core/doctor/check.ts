/** The state of one health check, in doctor and in `gpustack check` alike. */
export type CheckStatus = 'ok' | 'warn' | 'fail' | 'skipped';

/** The error a query gives when its table is not there (a database not yet migrated). */
export const isMissingTable = (err: unknown) =>
  /no such table|does not exist|P2021/i.test(String((err as Error)?.message ?? err) + String((err as { code?: string })?.code ?? ''));
