import { relativeTime } from '../core/time/timestamps.js';

/**
 * The one time style for people: UTC to the minute, `2026-11-30 17:49`, with
 * the zone said once (in a column header, or ` UTC` after a value in prose)
 * and a relative hint where it helps. JSON keeps full ISO 8601 UTC.
 */
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

/** An ISO 8601 UTC instant, as summaries carry them; anything else is a stored value authctl could not read. */
function isInstant(value: string): boolean {
  return ISO_UTC.test(value);
}

/** `2026-11-30 17:49`; a value in no readable form is shown as it is (empty text as `""`), marked unknown. */
export function utcMinute(iso: string): string {
  return isInstant(iso) ? `${iso.slice(0, 10)} ${iso.slice(11, 16)}` : `${iso === '' ? '""' : iso} (unknown form)`;
}

/** `2026-11-30 17:49 (3h ago)`: for a table column whose header says UTC. */
export function whenCell(iso: string | null | undefined, now = new Date()): string {
  if (iso === null || iso === undefined) return '';
  return isInstant(iso) ? `${utcMinute(iso)} (${relativeTime(new Date(iso), now)})` : utcMinute(iso);
}

/** `2026-11-30 17:49 UTC (3h ago)`: for prose and key/value details. */
export function when(iso: string | null | undefined, now = new Date()): string | null {
  if (iso === null || iso === undefined) return null;
  return isInstant(iso) ? `${utcMinute(iso)} UTC (${relativeTime(new Date(iso), now)})` : utcMinute(iso);
}

/** Only the relative hint (`3h ago`), for a column such as "last accessed". */
export function ago(iso: string, now = new Date()): string {
  return isInstant(iso) ? relativeTime(new Date(iso), now) : utcMinute(iso);
}
