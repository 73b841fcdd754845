import { AuthctlError } from '../errors/errors.js';
import type { CheckStatus } from '../doctor/check.js';
import { echoWithoutKey } from './errors.js';
import { GpustackClient, type ApiVersion, type RetryNotice } from './client.js';
import type { ServerVersion } from './payload.js';
import type { PartialGpustackSettings } from './settings.js';
import { DEFAULT_TUNING, type ClientTuning } from './tuning.js';

export interface GpustackCheck {
  id: 'configured' | 'reachable' | 'version' | 'api' | 'credential' | 'list-users';
  label: string;
  status: CheckStatus;
  detail: string;
  hint?: string;
  /** The error's stable code, when the check failed on one. */
  code?: string;
}

export interface GpustackCheckReport {
  configured: boolean;
  server: string | null;
  version: string | null;
  api: ApiVersion | null;
  ok: boolean;
  checks: GpustackCheck[];
}

function failed(check: Omit<GpustackCheck, 'status' | 'detail'>, err: unknown): GpustackCheck {
  if (!(err instanceof AuthctlError)) throw err;
  return { ...check, status: 'fail', detail: err.message, hint: err.hint, code: err.code };
}

const skipped = (id: GpustackCheck['id'], label: string, detail: string): GpustackCheck => ({ id, label, status: 'skipped', detail });

/**
 * Checks, in order, that GPUStack answers, which version and user API it has,
 * that the key is accepted, and that it may list users. Never throws for an
 * expected failure: each check reports ok, warn, fail or skipped, so `doctor`
 * can show the same lines.
 */
export async function checkGpustack(
  settings: PartialGpustackSettings,
  tuning: ClientTuning = DEFAULT_TUNING,
  onRetry?: (notice: RetryNotice) => void,
): Promise<GpustackCheckReport> {
  const report: GpustackCheckReport = { configured: false, server: null, version: null, api: null, ok: false, checks: [] };
  if (!settings.baseUrl) {
    report.checks.push({
      id: 'configured',
      label: 'configured',
      status: 'skipped',
      detail: 'no GPUStack server configured',
      hint: 'Set GPUSTACK_API_BASE (in the environment or .env) or pass --url.',
    });
    report.ok = true;
    return report;
  }
  report.configured = true;
  const client = new GpustackClient({ baseUrl: settings.baseUrl, token: settings.token ?? '' }, tuning, onRetry);
  report.server = client.display;
  const checks = report.checks;
  try {
    try {
      await client.healthz();
      checks.push({ id: 'reachable', label: 'reachable', status: 'ok', detail: `${client.display}/healthz answered ok` });
    } catch (err) {
      checks.push(failed({ id: 'reachable', label: 'reachable' }, err));
      checks.push(skipped('version', 'version', 'server not reachable'));
      checks.push(skipped('api', 'user API', 'server not reachable'));
      checks.push(skipped('credential', 'credential', 'server not reachable'));
      checks.push(skipped('list-users', 'can list users', 'server not reachable'));
      return report;
    }

    let version: ServerVersion | null = null;
    try {
      version = await client.version();
      report.version = version?.version ?? null;
      checks.push(
        version
          ? { id: 'version', label: 'version', status: 'ok', detail: `GPUStack ${version.version}` }
          : { id: 'version', label: 'version', status: 'warn', detail: 'the server has no /version route (an old release?)' },
      );
    } catch (err) {
      checks.push({ ...failed({ id: 'version', label: 'version' }, err), status: 'warn' });
    }

    if (!settings.token) {
      checks.push(skipped('api', 'user API', 'needs an API key'));
      checks.push({
        id: 'credential',
        label: 'credential',
        status: 'fail',
        detail: 'no GPUStack API key configured',
        hint: 'Set GPUSTACK_API_TOKEN (in the environment or .env) or pass --token-file <path>.',
        code: 'GPUSTACK_NO_TOKEN',
      });
      checks.push(skipped('list-users', 'can list users', 'needs an API key'));
      return report;
    }

    let api: ApiVersion;
    try {
      const detected = await client.detectApi(version);
      api = detected.api;
      report.api = api;
      checks.push({ id: 'api', label: 'user API', status: 'ok', detail: `/${api}/users (GPUStack ${api === 'v2' ? 'v2' : '0.x'})` });
      checks.push({
        id: 'credential',
        label: 'credential',
        status: 'ok',
        detail: `accepted: the key belongs to "${echoWithoutKey(detected.me.username, settings.token, 100)}"${detected.me.is_admin ? ' (admin)' : ' (not an admin)'}`,
      });
    } catch (err) {
      const failure = failed({ id: 'credential', label: 'credential' }, err);
      // A 401 or 403 on users/me proves the route, and so the API version, exists.
      checks.push(skipped('api', 'user API', 'undetermined'));
      checks.push(failure);
      checks.push(skipped('list-users', 'can list users', 'credential not accepted'));
      return report;
    }

    try {
      const page = await client.listUsersPage(api, 1, 1);
      checks.push({ id: 'list-users', label: 'can list users', status: 'ok', detail: `${page.total} user(s) upstream` });
    } catch (err) {
      checks.push(failed({ id: 'list-users', label: 'can list users' }, err));
    }
    return report;
  } finally {
    client.close();
    report.ok = report.checks.every((c) => c.status !== 'fail');
  }
}

/**
 * The same checks folded into one row for `doctor` (its `gpustack` hook):
 * fail when any check fails, warn on a warning, with the first problem's hint.
 */
export async function doctorGpustackCheck(
  settings: PartialGpustackSettings,
  tuning: ClientTuning = DEFAULT_TUNING,
): Promise<{ id: 'gpustack'; name: string; status: CheckStatus; detail: string; hint?: string }> {
  const name = 'GPUStack reachable, credential accepted';
  const report = await checkGpustack(settings, tuning);
  if (!report.configured) return { id: 'gpustack', name, status: 'skipped', detail: 'GPUStack is not configured (GPUSTACK_API_BASE)' };
  const problem = report.checks.find((c) => c.status === 'fail') ?? report.checks.find((c) => c.status === 'warn');
  if (!problem) {
    return { id: 'gpustack', name, status: 'ok', detail: `${report.server}: GPUStack ${report.version ?? '(version unknown)'}, /${report.api}/users, key may list users` };
  }
  return { id: 'gpustack', name, status: problem.status === 'fail' ? 'fail' : 'warn', detail: `${problem.label}: ${problem.detail}`, hint: problem.hint };
}
