/**
 * Kept apart from admin-password.ts, which loads the password checker and its worker pool:
 * `gpustack sync` plans with this on every run, and tries passwords only
 * when a plan needs it.
 */
type AdminFlags = { isAdmin: boolean | null; isActive: boolean | null };

/**
 * Whether a change of flags makes an active admin of a user that was not one
 * (a promotion, or an admin enabled again): the moment its kept password is
 * checked, by `user set --admin`, `user enable` and `user import` alike.
 */
export function becomesActiveAdmin(before: AdminFlags, after: AdminFlags): boolean {
  return after.isAdmin === true && after.isActive === true && !(before.isAdmin === true && before.isActive === true);
}
