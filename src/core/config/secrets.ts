/**
 * Keeps passwords and API keys out of everything authctl prints. Redaction by
 * shape (`redactUrl`) covers what authctl writes itself; scrubbing by value
 * (`scrubSecrets`) covers text that comes from elsewhere, such as a database
 * driver's error or a GPUStack server's answer, which may quote a secret back.
 */

const known = new Set<string>();

/**
 * Shorter secrets are left to redaction by shape: replacing every `admin` or
 * `secret` in a message would garble it, and such a password is weak anyway.
 */
const MIN_SCRUBBED_LENGTH = 8;

/** Registers a secret in use by this run, in every form it may be quoted back. */
export function rememberSecret(value: string | undefined | null): void {
  if (!value || value.length < MIN_SCRUBBED_LENGTH) return;
  known.add(value);
  try {
    const decoded = decodeURIComponent(value);
    if (decoded.length >= MIN_SCRUBBED_LENGTH) known.add(decoded);
  } catch {
    // Not percent-encoded text; the raw form is enough.
  }
  known.add(encodeURIComponent(value));
}

/** Whether text holds a secret this run was given (the GPUStack key, a database password), in any form it was registered in. */
export function holdsKnownSecret(text: string): boolean {
  for (const secret of known) if (text.includes(secret)) return true;
  return false;
}

/** Text with every secret this run was given replaced by `***`, and nothing else changed. */
export function hideKnownSecrets(text: string): string {
  let out = text;
  for (const secret of [...known].sort((a, b) => b.length - a.length)) out = out.split(secret).join('***');
  return out;
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * Replaces every registered secret, given extra ones, credentials in URLs, and
 * the value of any `Authorization` header or `Bearer` token with `***`.
 */
export function scrubSecrets(text: string, extra: Array<string | undefined> = []): string {
  let out = text;
  const secrets = [...known, ...extra.filter((s): s is string => !!s && s.length >= MIN_SCRUBBED_LENGTH)].sort((a, b) => b.length - a.length);
  for (const secret of secrets) out = out.replace(new RegExp(escapeRegExp(secret), 'g'), '***');
  out = out.replace(/\b(authorization|x-api-key)(["']?\s*[:=]\s*["']?)(?:(bearer|basic|token)\s+)?[^\s"',;}]+/gi, (_m, name: string, sep: string, scheme?: string) =>
    `${name}${sep}${scheme ? `${scheme} ` : ''}***`,
  );
  out = out.replace(/\b(bearer)(\s+)[A-Za-z0-9._~+/=-]+/gi, '$1$2***');
  return redactUrl(out);
}

/** Server text echoed in a message: secrets scrubbed, one line, at most `max` characters. */
export function echoServerText(text: string, extra: Array<string | undefined> = [], max = 200): string {
  const oneLine = scrubSecrets(text, extra).replace(/[\u0000-\u001f\u007f-\u009f]+/g, ' ').trim();
  return oneLine.length > max ? `${oneLine.slice(0, max)}… (${oneLine.length - max} more characters)` : oneLine;
}

/**
 * Replaces the password of anything shaped like a URL with `***`, whether it
 * is well formed (`scheme://user:pw@host`) or not (`postgres:/user:pw@host`,
 * `postgresql//user:pw@host`, `postgresql:user:pw@host`), and the value of
 * any `password=` parameter. A password may itself hold `@`, so everything up
 * to the last `@` of a URL counts as its credentials.
 */
export function redactUrl(text: string): string {
  // A value already redacted (by redactWholeUrl) keeps the quote that may follow it.
  let out = text.replace(/(^|[?&;\s])((?:ssl)?pass(?:word|wd)?|pwd)=(?!\*\*\*(?:["'`&;#\s]|$))[^&;#\s]*/gi, '$1$2=***');
  out = out.replace(
    /(^|[\s"'`(<[=,/\\])((?:[a-z][a-z0-9+.-]*:)?[/\\]*)([^\s"'`<>:@/\\=,()[\]]*):(?![/\\]{2})([^\s"'`<>]*)(@[^\s"'`<>@]*)/gi,
    (_whole, lead: string, prefix: string, user: string, _password: string, rest: string) => `${lead}${prefix}${user}:***${rest}`,
  );
  return out;
}

/**
 * {@link redactUrl} for a string known to be one whole URL, as authctl quotes
 * the URL it was given in an error: there no space or quote ends the
 * password. Everything between the user name's ":" and the URL's last "@" is
 * the password, whatever it holds (`postgresql:/u:pass word@host`, a
 * well-formed URL with a quote in its password), and so is every
 * `password=` parameter up to the next "&" or "#".
 */
export function redactWholeUrl(url: string): string {
  const params = url.replace(/([?&;])((?:ssl)?pass(?:word|wd)?|pwd)=[^&#]*/gi, '$1$2=***');
  const at = params.lastIndexOf('@');
  if (at < 0) return redactUrl(params);
  const lead = /^(?:[a-z][a-z0-9+.-]*:)?[/\\]*/i.exec(params)![0];
  const creds = params.slice(lead.length, at);
  const colon = creds.indexOf(':');
  // `user@host` after "//" names a user only; without the slashes, what
  // looked like a scheme may have been the user name (`user:pw@host`).
  if (colon < 0) return /[/\\]{2}$/.test(lead) || !lead.includes(':') ? redactUrl(params) : `${lead}***@${redactUrl(params.slice(at + 1))}`;
  return `${lead}${creds.slice(0, colon)}:***@${redactUrl(params.slice(at + 1))}`;
}
