import { redactUrl } from '../config/config.js';
import { AuthctlError, ExitCode } from '../errors/errors.js';

/** The URL as requests are built on it: no surrounding space, no trailing slash. */
export function normaliseBaseUrl(raw: string): string {
  return raw.trim().replace(/\/+$/, '');
}

/** Refuses anything but an http(s) URL before a single request is made; messages show it redacted. */
export function validateBaseUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    throw new AuthctlError('USAGE', `"${redactUrl(raw)}" is not a URL.`, ExitCode.usage, 'Use the GPUStack server URL, for example http://gpustack.internal:80.');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new AuthctlError('USAGE', `"${redactUrl(raw)}" is not an http(s) URL.`, ExitCode.usage, 'Use the GPUStack server URL, for example https://gpustack.internal.');
  }
  return normaliseBaseUrl(raw);
}
