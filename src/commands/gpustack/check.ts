import { Command } from 'commander';
import { createContext } from '../../context.js';
import { addConnectionOptions, reportRetry, type ConnectionOptions } from './options.js';

export function gpustackCheckCommand(): Command {
  const cmd = new Command('check').description('check reachability, API version, the credential and its permission to list users');
  addConnectionOptions(cmd);
  return cmd.action(async (opts: ConnectionOptions, command: Command) => {
    const ctx = createContext(command);
    const { readDotEnv } = await import('../../core/config/config.js');
    const { resolveGpustackSettings } = await import('../../core/gpustack/settings.js');
    const { checkGpustack } = await import('../../core/gpustack/check.js');
    const { tuningFromEnv } = await import('../../core/gpustack/client.js');
    const { AuthctlError, ExitCode } = await import('../../core/errors/errors.js');
    // No database is involved, so DATABASE_URL is neither read nor announced.
    const settings = resolveGpustackSettings({ url: opts.url, tokenFile: opts.tokenFile, env: process.env, dotEnv: readDotEnv(process.cwd()) });
    const report = await checkGpustack(settings, tuningFromEnv(process.env), reportRetry(ctx.out));
    const { out } = ctx;
    out.emitJson(report);
    if (!report.configured) {
      const [c] = report.checks;
      throw new AuthctlError('GPUSTACK_NOT_CONFIGURED', 'No GPUStack server is configured.', ExitCode.gpustack, c?.hint);
    }
    const mark = { ok: out.c.green('ok  '), warn: out.c.yellow('warn'), fail: out.c.red('fail'), skip: out.c.dim('skip') };
    out.line(`GPUStack at ${report.server}`);
    for (const c of report.checks) {
      out.line(`  ${mark[c.status]}  ${c.label.padEnd(15)} ${c.detail}`);
      if (c.status === 'fail' && c.hint) out.line(`        ${''.padEnd(15)} ${out.c.dim(c.hint)}`);
    }
    if (!report.ok) {
      const first = report.checks.find((c) => c.status === 'fail')!;
      throw new AuthctlError('GPUSTACK_CHECK_FAILED', `GPUStack check failed: ${first.label}.`, ExitCode.gpustack, first.hint);
    }
    out.success('GPUStack is reachable and the key may list users.');
  });
}
