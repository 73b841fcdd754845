import { AuthctlError, ExitCode } from '../errors/errors.js';
import type { ApiVersion, GpustackClient } from './client.js';
import { sameUser, type GpustackUser, type UsersPage } from './payload.js';

/** 0.x servers refuse perPage above 100 (422); v2 has no bound, but 100 keeps responses small. */
const PAGE_SIZE = 100;

/**
 * The most pages one read of the list may take: a million users at 100 a
 * page. A server that claims more is not believed, so a lying `totalPage`
 * cannot keep a sync (and its lock) paging for ever.
 */
const MAX_PAGES = 10_000;

/** How often the whole list is read again when it changed while it was being paged through. */
const LIST_ATTEMPTS = 3;

export interface PageProgress {
  page: number;
  totalPages: number;
  users: number;
  total: number;
}

export interface UpstreamUsers {
  users: GpustackUser[];
  pages: number;
  /** How many times the list had to be read again because it changed mid-read. */
  rereads: number;
}

/**
 * Reads every page of the user list, never with `watch`. Users created or
 * deleted while a client pages shift items between pages, so the result is
 * de-duplicated by id and must match `pagination.total`, or the whole list is
 * read again.
 */
export async function fetchAllUsers(
  client: GpustackClient,
  api: ApiVersion,
  onPage?: (progress: PageProgress) => void,
  /** Pages in flight at once: enough to hide network latency, few enough to stay gentle on GPUStack. */
  concurrency = 4,
): Promise<UpstreamUsers> {
  for (let attempt = 1; ; attempt++) {
    const byId = new Map<number, GpustackUser>();
    const totals = new Set<number>();
    let done = 0;
    // A user edited while the pages were read shows up twice, differently:
    // read again, like any list that changed; only a server that keeps
    // doing it is refused.
    let twice: number | undefined;
    const record = (result: UsersPage) => {
      done++;
      totals.add(result.total);
      for (const user of result.items) {
        const seen = byId.get(user.id);
        if (seen && !sameUser(seen, user)) twice ??= user.id;
        byId.set(user.id, user);
      }
      onPage?.({ page: done, totalPages, users: byId.size, total: result.total });
    };
    const first = await client.listUsersPage(api, 1, PAGE_SIZE);
    let totalPages = first.items.length === 0 ? 1 : plausiblePages(client, first);
    record(first);
    // The first page tells how many follow; those are read a few at a time,
    // which shortens the window in which the list can change under us. An
    // empty page ends the list, whatever totalPage said.
    let next = 2;
    const worker = async () => {
      while (next <= totalPages) {
        const page = next++;
        const result = await client.listUsersPage(api, page, PAGE_SIZE);
        if (result.items.length === 0) totalPages = Math.min(totalPages, page);
        record(result);
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, totalPages - 1)) }, worker));
    const [total] = [...totals];
    if (twice === undefined && totals.size === 1 && byId.size === total) {
      return { users: [...byId.values()].sort((a, b) => a.id - b.id), pages: done, rereads: attempt - 1 };
    }
    if (attempt >= LIST_ATTEMPTS) {
      if (twice !== undefined) {
        throw unexpected(client, `it listed GPUStack user ${twice} twice with different data, in each of ${LIST_ATTEMPTS} readings`);
      }
      throw new AuthctlError(
        'GPUSTACK_LIST_UNSTABLE',
        `GPUStack's user list kept changing while it was read (${byId.size} distinct users, total reported as ${[...totals].join(', ')}); ${LIST_ATTEMPTS} attempts.`,
        ExitCode.gpustack,
        'Nothing was changed. Run the sync again when no users are being created or deleted in GPUStack.',
      );
    }
  }
}

function unexpected(client: GpustackClient, detail: string): AuthctlError {
  return new AuthctlError(
    'GPUSTACK_UNEXPECTED',
    `GPUStack at ${client.display} sent an unexpected answer while listing users: ${detail}.`,
    ExitCode.gpustack,
    'Nothing was changed. Check that the URL points at a GPUStack server (not a proxy or another service), then try again.',
  );
}

/**
 * How many pages the first page announces, when that is believable: no more
 * than the reported total fills (one spare page allowed), and within
 * {@link MAX_PAGES}. Anything else is exit 6 before a second request.
 */
function plausiblePages(client: GpustackClient, first: UsersPage): number {
  const perPage = Number.isSafeInteger(first.perPage) && first.perPage > 0 ? first.perPage : PAGE_SIZE;
  const needed = Math.ceil(first.total / perPage);
  if (needed > MAX_PAGES) {
    throw unexpected(
      client,
      `it reports ${first.total} users in pages of ${perPage}, more than the ${MAX_PAGES} pages (${MAX_PAGES * PAGE_SIZE} users) authctl reads`,
    );
  }
  if (!Number.isSafeInteger(first.totalPage) || first.totalPage < 0 || first.totalPage > needed + 1 || first.totalPage > MAX_PAGES) {
    throw unexpected(client, `pagination.totalPage is ${first.totalPage} for ${first.total} users in pages of ${perPage}`);
  }
  return Math.max(first.totalPage, 1);
}
