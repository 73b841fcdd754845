import { redactWholeUrl } from '../config/secrets.js';
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
    throw new AuthctlError('USAGE', `"${redactWholeUrl(raw)}" is not a URL.`, ExitCode.usage, 'Use the GPUStack server URL, for example http://gpustack.internal:80.');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new AuthctlError('USAGE', `"${redactWholeUrl(raw)}" is not an http(s) URL.`, ExitCode.usage, 'Use the GPUStack server URL, for example https://gpustack.internal.');
  }
  // The URL parser mends `http:/host` and `http:host`, but requests are built on the text as given.
  if (!/^https?:\/\/[^/\\]/i.test(raw.trim())) {
    throw new AuthctlError('USAGE', `"${redactWholeUrl(raw)}" is malformed: "${url.protocol}" must be followed by "//" and the host.`, ExitCode.usage, 'Use the GPUStack server URL, for example https://gpustack.internal.');
  }
  // GPUStack takes the API key as a bearer token; a password in the URL would only end up in messages.
  if (url.username || url.password) {
    throw new AuthctlError(
      'USAGE',
      `"${redactWholeUrl(raw)}" holds a user name or password; authctl signs in to GPUStack with the API key alone.`,
      ExitCode.usage,
      'Give the URL without "user:password@", and the key in GPUSTACK_API_TOKEN or a --token-file.',
    );
  }
  // Paths are appended to the URL as text: `http://h?x=1` would become `http://h?x=1/healthz`.
  if (url.search || url.hash || /[?#]/.test(raw)) {
    throw new AuthctlError(
      'USAGE',
      `"${redactWholeUrl(raw)}" has a query or a fragment (? or #); authctl adds GPUStack's paths to the URL.`,
      ExitCode.usage,
      'Use the server URL alone, such as https://gpustack.internal or http://10.0.0.5:8080/gpustack.',
    );
  }
  return normaliseBaseUrl(raw);
}
