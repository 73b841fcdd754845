import fs from 'node:fs';
import { resolveSetting } from '../config/config.js';
import { AuthctlError, ExitCode, usageError } from '../errors/errors.js';
import { rememberSecret } from '../config/secrets.js';
import { validateBaseUrl } from './base-url.js';

/** Where GPUStack is and the key to use; the key is never printed or logged. */
export interface GpustackSettings {
  baseUrl: string;
  token: string;
}

const URL_VARIABLES = ['GPUSTACK_API_BASE', 'GPUSTACK_SERVER_URL'];
const TOKEN_VARIABLES = ['GPUSTACK_API_TOKEN', 'GPUSTACK_API_KEY'];

export interface GpustackSources {
  /** --url */
  url?: string;
  /** --token-file; the key itself is never a flag value, because argv is public. */
  tokenFile?: string;
  /** The key already read from --token-file (see {@link readTokenFile}); it beats tokenFile. */
  token?: string;
  env: NodeJS.ProcessEnv;
  dotEnv: Record<string, string>;
}

/** What is configured; either part may be missing (doctor reports that instead of failing). */
export interface PartialGpustackSettings {
  baseUrl?: string;
  token?: string;
}

/** The key in a --token-file, or exit 2 saying what is wrong with the file. */
export function readTokenFile(file: string): string {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw usageError(
      `Cannot read the token file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}.`,
      'Pass the path of a file that holds only the GPUStack API key.',
    );
  }
  const token = text.trim();
  if (!token) throw usageError(`The token file ${file} is empty.`, 'Write the GPUStack API key into it.');
  if (/\s/.test(token)) throw usageError(`The token file ${file} holds more than one word.`, 'Keep only the API key in it.');
  rememberSecret(token);
  return token;
}

/** --url beats GPUSTACK_API_BASE beats GPUSTACK_SERVER_URL; --token-file beats the token variables; env beats .env. */
export function resolveGpustackSettings(sources: GpustackSources): PartialGpustackSettings {
  const url = resolveSetting(URL_VARIABLES, sources.url, sources.env, sources.dotEnv);
  const token =
    sources.token ??
    (sources.tokenFile !== undefined
      ? readTokenFile(sources.tokenFile)
      : resolveSetting(TOKEN_VARIABLES, undefined, sources.env, sources.dotEnv)?.trim());
  rememberSecret(token);
  return { baseUrl: url ? validateBaseUrl(url) : undefined, token: token || undefined };
}

/** Both parts, or exit 6 naming what to set. */
export function requireGpustackSettings(settings: PartialGpustackSettings): GpustackSettings {
  if (!settings.baseUrl) {
    throw new AuthctlError(
      'GPUSTACK_NOT_CONFIGURED',
      'No GPUStack server is configured.',
      ExitCode.gpustack,
      'Set GPUSTACK_API_BASE (in the environment or .env) or pass --url.',
    );
  }
  if (!settings.token) {
    throw new AuthctlError(
      'GPUSTACK_NO_TOKEN',
      'No GPUStack API key is configured.',
      ExitCode.gpustack,
      'Set GPUSTACK_API_TOKEN (in the environment or .env) or pass --token-file <path>.',
    );
  }
  return { baseUrl: settings.baseUrl, token: settings.token };
}
