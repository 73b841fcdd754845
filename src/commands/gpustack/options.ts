import type { Command } from 'commander';
import type { Output } from '../../terminal/output.js';
import type { RetryNotice } from '../../core/gpustack/client.js';
import { validateBaseUrl } from '../../core/gpustack/base-url.js';
import { readTokenFile, resolveGpustackSettings, type PartialGpustackSettings } from '../../core/gpustack/settings.js';
import { tuningFromEnv, type ClientTuning } from '../../core/gpustack/tuning.js';
import { givenValue } from '../options.js';

/** How to reach GPUStack, as far as argv and the tuning variables say. */
export interface ConnectionInput {
  /** --url, checked and normalised; an empty --url stays empty (nothing configured, no fallback). */
  url?: string;
  /** The key read from --token-file. */
  token?: string;
  /** A warning about --token-file (other users may read it), shown when the command runs. */
  tokenFileWarning?: string;
  tuning: ClientTuning;
}

/** The key is read from a file or the environment, never from argv, which every local user can see. */
export function addConnectionOptions(cmd: Command): Command {
  return cmd
    .option('--url <url>', 'GPUStack server URL (env GPUSTACK_API_BASE, GPUSTACK_SERVER_URL, .env)')
    .option('--token-file <path>', 'read the GPUStack API key from this file (env GPUSTACK_API_TOKEN, GPUSTACK_API_KEY, .env)');
}

/**
 * Checks --token-file, --url and the AUTHCTL_GPUSTACK_* tuning variables
 * before anything else runs (exit 2; a URL is shown redacted). The
 * environment's GPUSTACK_* settings are resolved later, in {@link settingsFor}.
 */
export function parseConnection(opts: Record<string, unknown>): ConnectionInput {
  const url = givenValue(opts.url as string | undefined, '--url', 'the GPUStack server URL');
  const tokenFile = givenValue(opts.tokenFile as string | undefined, '--token-file', 'a file path');
  const file = tokenFile === undefined ? undefined : readTokenFile(tokenFile);
  return { url: url === undefined ? url : validateBaseUrl(url), token: file?.token, tokenFileWarning: file?.warning, tuning: tuningFromEnv(process.env) };
}

/** --url and --token-file beat the environment, which beats .env; a warning about the token file is shown here. */
export function settingsFor(input: ConnectionInput, env: NodeJS.ProcessEnv, dotEnv: Record<string, string>, out: Output): PartialGpustackSettings {
  if (input.tokenFileWarning) out.warn(input.tokenFileWarning);
  return resolveGpustackSettings({ url: input.url, token: input.token, env, dotEnv });
}

export function reportRetry(out: Output) {
  return (n: RetryNotice) =>
    out.warn(`GPUStack ${n.path}: ${n.reason}; retrying in ${(n.delayMs / 1000).toFixed(1)}s (attempt ${n.attempt + 1} of ${n.attempts}).`);
}
