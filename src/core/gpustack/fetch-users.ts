import { AuthctlError, ExitCode } from '../errors/errors.js';
import type { ApiVersion, GpustackClient } from './client.js';
import type { GpustackUser, UsersPage } from './payload.js';

/** 0.x servers refuse perPage above 100 (422); v2 has no bound, but 100 keeps responses small. */
const PAGE_SIZE = 100;

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
    const record = (result: UsersPage) => {
      done++;
      totals.add(result.total);
      for (const user of result.items) byId.set(user.id, user);
      onPage?.({ page: done, totalPages, users: byId.size, total: result.total });
    };
    const first = await client.listUsersPage(api, 1, PAGE_SIZE);
    let totalPages = Math.max(first.totalPage, 1);
    record(first);
    // The first page tells how many follow; those are read a few at a time,
    // which shortens the window in which the list can change under us.
    let next = 2;
    const worker = async () => {
      while (next <= totalPages) {
        const page = next++;
        record(await client.listUsersPage(api, page, PAGE_SIZE));
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, totalPages - 1)) }, worker));
    const [total] = [...totals];
    if (totals.size === 1 && byId.size === total) {
      return { users: [...byId.values()].sort((a, b) => a.id - b.id), pages: done, rereads: attempt - 1 };
    }
    if (attempt >= LIST_ATTEMPTS) {
      throw new AuthctlError(
        'GPUSTACK_LIST_UNSTABLE',
        `GPUStack's user list kept changing while it was read (${byId.size} distinct users, total reported as ${[...totals].join(', ')}); ${LIST_ATTEMPTS} attempts.`,
        ExitCode.gpustack,
        'Nothing was changed. Run the sync again when no users are being created or deleted in GPUStack.',
      );
    }
  }
}
