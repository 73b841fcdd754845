import { AuthctlError, ExitCode } from '../../core/errors/errors.js';
import type { GpustackCheckReport } from '../../core/gpustack/check.js';
import { defineCommand } from '../define.js';
import { addConnectionOptions, parseConnection, reportRetry, settingsFor, type ConnectionInput } from './options.js';

export const gpustackCheckCommand = () =>
  defineCommand<ConnectionInput, GpustackCheckReport>({
    name: 'check',
    description: 'check reachability, API version, the credential and its permission to list users',
    examples: [
      'authctl gpustack check',
      'authctl gpustack check --url https://gpustack.example --token-file key.txt',
      'GPUSTACK_API_BASE=https://gpustack.example authctl gpustack check --json',
    ],
    options: addConnectionOptions,
    parse: ({ opts }) => parseConnection(opts),
    // No database is involved, so DATABASE_URL is neither read nor announced.
    needs: 'none',
    run: async ({ out }, input) => {
      const { readDotEnv } = await import('../../core/config/config.js');
      const { checkGpustack } = await import('../../core/gpustack/check.js');
      const settings = settingsFor(input, process.env, readDotEnv(process.cwd()), out);
      return checkGpustack(settings, input.tuning, reportRetry(out));
    },
    render: (report, out) => {
      // Not configured: the error says what to set, and there is nothing else to show.
      if (!report.configured) return;
      const mark = { ok: out.c.green('ok  '), warn: out.c.yellow('warn'), fail: out.c.red('fail'), skipped: out.c.dim('skip') };
      out.line(`GPUStack at ${report.server}`);
      for (const c of report.checks) {
        out.line(`  ${mark[c.status]}  ${c.label.padEnd(15)} ${c.detail}`);
        if (c.status === 'fail' && c.hint) out.line(`        ${''.padEnd(15)} ${out.c.dim(c.hint)}`);
      }
      if (report.ok) out.success('GPUStack is reachable and the key may list users.');
    },
    failure: (report) => {
      if (!report.configured) {
        return new AuthctlError('GPUSTACK_NOT_CONFIGURED', 'No GPUStack server is configured.', ExitCode.gpustack, report.checks[0]?.hint);
      }
      if (report.ok) return null;
      const first = report.checks.find((c) => c.status === 'fail')!;
      return new AuthctlError('GPUSTACK_CHECK_FAILED', `GPUStack check failed: ${first.label}.`, ExitCode.gpustack, first.hint);
    },
  });
