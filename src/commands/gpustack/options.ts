import type { Command } from 'commander';
import type { Output } from '../../terminal/output.js';
import type { RetryNotice } from '../../core/gpustack/client.js';

export interface ConnectionOptions {
  url?: string;
  tokenFile?: string;
}

/** The key is read from a file or the environment, never from argv, which every local user can see. */
export function addConnectionOptions(cmd: Command): Command {
  return cmd
    .option('--url <url>', 'GPUStack server URL (env GPUSTACK_API_BASE, GPUSTACK_SERVER_URL, .env)')
    .option('--token-file <path>', 'read the GPUStack API key from this file (env GPUSTACK_API_TOKEN, GPUSTACK_API_KEY, .env)');
}

export function reportRetry(out: Output) {
  return (n: RetryNotice) =>
    out.warn(`GPUStack ${n.path}: ${n.reason}; retrying in ${(n.delayMs / 1000).toFixed(1)}s (attempt ${n.attempt + 1} of ${n.attempts}).`);
}
