import { Command } from 'commander';
import { createContext } from '../context.js';
import { AuthctlError, ExitCode } from '../core/errors/errors.js';

export function doctorCommand(): Command {
  return new Command('doctor')
    .description('health and security checks; exits 8 when any check fails')
    .option('--url <url>', 'GPUStack server URL to check (env GPUSTACK_API_BASE, GPUSTACK_SERVER_URL, .env)')
    .option('--token-file <path>', 'read the GPUStack API key from this file (env GPUSTACK_API_TOKEN, GPUSTACK_API_KEY, .env)')
    .action(async (opts: { url?: string; tokenFile?: string }, command: Command) => {
      const ctx = createContext(command);
      const { database, env, dotEnv } = ctx.config();
      const { runDoctor } = await import('../core/doctor/doctor.js');
      const { resolveGpustackSettings } = await import('../core/gpustack/settings.js');
      const settings = resolveGpustackSettings({ url: opts.url, tokenFile: opts.tokenFile, env, dotEnv });
      // A bad tuning variable is a usage error before any check runs, not a failed check.
      const tuning = settings.baseUrl ? (await import('../core/gpustack/tuning.js')).tuningFromEnv(env) : undefined;
      const gpustack = settings.baseUrl
        ? async () => {
            const { doctorGpustackCheck } = await import('../core/gpustack/check.js');
            return doctorGpustackCheck(settings, tuning);
          }
        : null;
      const report = await runDoctor(database, { gpustack });
      const { out } = ctx;
      out.emitJson(report);
      const mark = { ok: out.c.green('ok'), warn: out.c.yellow('warn'), fail: out.c.red('fail'), skipped: out.c.dim('skipped') };
      out.table(report.checks, [
        { header: 'check', value: (c) => c.name },
        { header: 'status', value: (c) => mark[c.status] },
        { header: 'detail', value: (c) => (c.hint ? [c.detail, c.hint] : c.detail) },
      ]);
      if (!report.ok) {
        const failed = report.checks.filter((c) => c.status === 'fail').map((c) => c.name);
        throw new AuthctlError('CHECK_FAILED', `${failed.length} check(s) failed: ${failed.join(', ')}.`, ExitCode.checkFailed, 'Each failed row above says what to do.');
      }
    });
}
