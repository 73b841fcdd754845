import { AuthctlError, ExitCode } from '../core/errors/errors.js';
import type { DoctorReport } from '../core/doctor/doctor.js';
import { defineCommand } from './define.js';
import { addWideOption, givenValue } from './options.js';

interface DoctorInput {
  url?: string;
  tokenFile?: string;
  deep: boolean;
}

export const doctorCommand = () =>
  defineCommand<DoctorInput, DoctorReport>({
    name: 'doctor',
    description: 'health and security checks; exits 8 when any check fails',
    examples: [
      'authctl doctor',
      'authctl doctor --deep',
      'authctl doctor -q',
      'authctl doctor --json > doctor.json || echo "doctor: exit $?" >&2',
    ],
    options: (cmd) =>
      addWideOption(cmd)
        .option('--url <url>', 'GPUStack server URL to check (env GPUSTACK_API_BASE, GPUSTACK_SERVER_URL, .env)')
        .option('--token-file <path>', 'read the GPUStack API key from this file (env GPUSTACK_API_TOKEN, GPUSTACK_API_KEY, .env)')
        .option('--deep', 'verify every password hash again, not only new ones, admins and the app\'s default accounts'),
    parse: ({ opts }) => ({
      url: givenValue(opts.url as string | undefined, '--url', 'the GPUStack server URL'),
      tokenFile: givenValue(opts.tokenFile as string | undefined, '--token-file', 'a file path'),
      deep: opts.deep === true,
    }),
    needs: 'database',
    run: async ({ db, config, out }, input) => {
      const { runDoctor } = await import('../core/doctor/doctor.js');
      const { readTokenFile, resolveGpustackSettings } = await import('../core/gpustack/settings.js');
      const { env, dotEnv } = config;
      const file = input.tokenFile === undefined ? undefined : readTokenFile(input.tokenFile);
      if (file?.warning) out.warn(file.warning);
      const settings = resolveGpustackSettings({ url: input.url, token: file?.token, env, dotEnv });
      // A bad tuning variable is a usage error before any check runs, not a failed check.
      const tuning = settings.baseUrl ? (await import('../core/gpustack/tuning.js')).tuningFromEnv(env) : undefined;
      const gpustack = settings.baseUrl
        ? async () => {
            const { doctorGpustackCheck } = await import('../core/gpustack/check.js');
            return doctorGpustackCheck(settings, tuning);
          }
        : null;
      const onProgress = (done: number, total: number) => out.progress(`checking password hashes: ${done} of ${total} bcrypt verifications`);
      try {
        return await runDoctor(db, { gpustack, deep: input.deep, onProgress });
      } finally {
        out.progressDone();
      }
    },
    render: (report, out) => {
      const mark = { ok: out.c.green('ok'), warn: out.c.yellow('warn'), fail: out.c.red('fail'), skipped: out.c.dim('skipped') };
      if (out.quiet) {
        // For cron: nothing when all is well, one line per problem with what to run.
        for (const c of report.checks) {
          if (c.status === 'fail' || c.status === 'warn') out.alert(`${mark[c.status]} ${c.name}: ${c.detail}${c.hint ? `${/[.!?]$/.test(c.detail) ? '' : '.'} ${c.hint}` : ''}`);
        }
        return;
      }
      out.table(report.checks, [
        { header: 'check', value: (c) => c.name, wrap: true },
        { header: 'status', value: (c) => c.status, style: (text) => mark[text as keyof typeof mark] ?? text },
        { header: 'detail', value: (c) => (c.hint ? [c.detail, c.hint] : c.detail), wrap: true },
      ]);
    },
    failure: (report) => {
      if (report.ok) return null;
      const failed = report.checks.filter((c) => c.status === 'fail').map((c) => c.name);
      return new AuthctlError('CHECK_FAILED', `${failed.length} check(s) failed: ${failed.join(', ')}.`, ExitCode.checkFailed, 'Each failed row above says what to do.');
    },
  });
