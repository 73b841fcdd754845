import fs from 'node:fs';

/** Linux's per-thread scheduler figures: time on a core, time waiting for one (both in ns), timeslices. */
const SCHEDSTAT = '/proc/thread-self/schedstat';

/**
 * How long the thread that opened it has waited for a core while ready to
 * run. On a busy machine a hold's commit, which cannot be cut short, runs
 * slower by the share of time the purge's thread does not get a core; the
 * pacer uses this to see that coming. Where the figures cannot be read (not
 * Linux), every reading is undefined and the pacer plans as if the thread
 * had a core to itself.
 */
export class CpuWaitClock {
  private fd: number | undefined;
  private readonly buf = Buffer.alloc(96);

  constructor(file = SCHEDSTAT) {
    try {
      // Opened once, then read from the start each time: a few µs a reading.
      this.fd = fs.openSync(file, 'r');
    } catch {
      this.fd = undefined;
    }
    if (this.waitedMs() === undefined) this.close();
  }

  /** Milliseconds this thread has waited for a core since it began; undefined when unknown. */
  waitedMs(): number | undefined {
    if (this.fd === undefined) return undefined;
    try {
      const text = this.buf.toString('latin1', 0, fs.readSync(this.fd, this.buf, 0, this.buf.length, 0));
      const fields = text.trim().split(/\s+/);
      const waitNs = fields.length >= 2 && /^\d+$/.test(fields[1]!) ? Number(fields[1]) : NaN;
      return Number.isFinite(waitNs) ? waitNs / 1e6 : undefined;
    } catch {
      return undefined;
    }
  }

  /** Milliseconds waited for a core since an earlier reading of waitedMs(); 0 when either is unknown. */
  waitedSince(earlier: number | undefined): number {
    if (earlier === undefined) return 0;
    const now = this.waitedMs();
    return now === undefined ? 0 : Math.max(0, now - earlier);
  }

  close(): void {
    if (this.fd === undefined) return;
    try {
      fs.closeSync(this.fd);
    } catch {
      // Nothing left to release.
    }
    this.fd = undefined;
  }
}
