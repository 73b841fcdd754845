import type { NewPasswordOptions } from '../../terminal/password-input.js';
import type { Output } from '../../terminal/output.js';

/** The weak-password notice, and a generated password shown once. */
export function renderNewPassword(out: Output, username: string, input: NewPasswordOptions, generated: string | undefined): void {
  if (input.allowWeakPassword) out.warn('The password policy was overridden with --allow-weak-password; this is recorded in the audit log.');
  if (generated) out.secret(`Password for ${username} (shown once)`, generated);
}

/** What `user set --admin` and `user enable` say after --allow-weak-password let an admin keep a well-known password. */
export const WEAK_ADMIN_ALLOWED = "This admin's password is a well-known one (--allow-weak-password); change it with `authctl user reset`.";
