/**
 * The app seeds `admin`/`admin` (an active admin) at every start when no user
 * is named `admin`, whatever other admins exist. authctl therefore never lets
 * that name go free: when the first admin is named otherwise, or the user
 * named `admin` would disappear, it keeps a placeholder under that name that
 * cannot log in: disabled, not an admin, no password, no GPUStack link.
 */
export const APP_SEEDED_ADMIN = 'admin';

const PLACEHOLDER_FULL_NAME = 'Reserved (keeps the app from seeding admin/admin)';

/** The placeholder's column values, for code that writes raw SQL. */
export const PLACEHOLDER_ROW = {
  username: APP_SEEDED_ADMIN,
  email: null,
  passwordHash: null,
  fullName: PLACEHOLDER_FULL_NAME,
  isAdmin: false,
  isActive: false,
  gpustackUserId: null,
} as const;

export const PLACEHOLDER_NOTICE =
  `Kept a disabled user named "${APP_SEEDED_ADMIN}" with no password, so the app cannot seed admin/admin at its next start.`;
