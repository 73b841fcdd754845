import { resolveSetting } from '../config/config.js';
import { AuthctlError, ExitCode, usageError } from '../errors/errors.js';
import { rememberSecret } from '../config/secrets.js';
import { decodeUtf8, readableByOthersWarning, readSourceFile, SECRET_MAX_BYTES } from '../passwords/source.js';
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

/**
 * Why a key cannot go into an `Authorization` header, or null when it can.
 * Only visible Latin-1 characters can (GPUStack's keys are plain ASCII); a
 * line break, a curly quote pasted from a document or a control character
 * would otherwise fail deep inside the HTTP client, quoting the key.
 */
function keyProblem(token: string): string | null {
  const found = /[^\x21-\x7e\xa1-\xff]/.exec(token);
  if (!found) return null;
  const code = found[0].charCodeAt(0);
  if (found[0] === '\n' || found[0] === '\r') return 'a line break';
  if (/\s/.test(found[0])) return 'a space';
  if (code < 0x20 || (code >= 0x7f && code <= 0xa0)) return 'a control character';
  return 'a character outside Latin-1 (a curly quote or other typographic character, perhaps pasted from a document)';
}

/** The key as read from `source`, or exit 2 naming the source (never the key) when it cannot be sent. */
function checkedKey(token: string, source: string, fix: string): string {
  const problem = keyProblem(token);
  if (problem) {
    throw usageError(`The GPUStack API key in ${source} holds ${problem}, which cannot be sent in an HTTP header.`, fix);
  }
  return token;
}

export interface TokenFile {
  token: string;
  /** Set when group or others may read the file, for the command to show. */
  warning?: string;
}

/** The key in a --token-file, or exit 2 saying what is wrong with the file. */
export function readTokenFile(file: string): TokenFile {
  const source = readSourceFile(file, 'token file', { regularOnly: false, maxBytes: SECRET_MAX_BYTES });
  const text = decodeUtf8(source.bytes, `The token file ${file}`, 'Write the GPUStack API key into it, as GPUStack showed it.', { line: false });
  const token = text.trim();
  if (!token) throw usageError(`The token file ${file} is empty.`, 'Write the GPUStack API key into it.');
  // Remembered before it is checked, so nothing printed afterwards can quote it.
  rememberSecret(token);
  checkedKey(token, `the token file ${file}`, 'Keep only the API key in it, on one line, as GPUStack showed it.');
  return { token, warning: readableByOthersWarning('token file', file, source) };
}

/** The first token variable set, in the environment before .env, with where it came from. */
function tokenFromEnv(env: NodeJS.ProcessEnv, dotEnv: Record<string, string>): string | undefined {
  const places: Array<[Record<string, string | undefined>, string]> = [
    [env, 'the environment'],
    [dotEnv, '.env'],
  ];
  for (const [values, where] of places) {
    for (const name of TOKEN_VARIABLES) {
      const raw = values[name];
      if (!raw) continue;
      const token = raw.trim();
      rememberSecret(token);
      return checkedKey(token, `${name} in ${where}`, `Set ${name} to the key alone, as GPUStack showed it.`);
    }
  }
  return undefined;
}

/** --url beats GPUSTACK_API_BASE beats GPUSTACK_SERVER_URL; --token-file beats the token variables; env beats .env. */
export function resolveGpustackSettings(sources: GpustackSources): PartialGpustackSettings {
  const url = resolveSetting(URL_VARIABLES, sources.url, sources.env, sources.dotEnv);
  const token =
    sources.token ?? (sources.tokenFile !== undefined ? readTokenFile(sources.tokenFile).token : tokenFromEnv(sources.env, sources.dotEnv));
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
