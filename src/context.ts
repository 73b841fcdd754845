import type { Command } from 'commander';
import { resolveConfig, type ResolvedConfig } from './core/config/config.js';
import { Output } from './terminal/output.js';

export interface GlobalOptions {
  databaseUrl?: string;
  json?: boolean;
  color?: boolean;
  quiet?: boolean;
  yes?: boolean;
  debug?: boolean;
}

export interface Context {
  opts: GlobalOptions;
  out: Output;
  /** Resolved on first use, so commands that need no database never read it. */
  config(): ResolvedConfig;
}

export function createContext(cmd: Command): Context {
  const opts = cmd.optsWithGlobals<GlobalOptions>();
  const out = new Output({ json: opts.json, quiet: opts.quiet, color: opts.color });
  let config: ResolvedConfig | undefined;
  return {
    opts,
    out,
    config() {
      if (!config) {
        config = resolveConfig({ databaseUrl: opts.databaseUrl });
        out.banner(config.database.display);
      }
      return config;
    },
  };
}
