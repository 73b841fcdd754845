import { LOCK_TARGET_SHARE } from './shared.js';

/**
 * How the SQLite purge sizes its transactions and the pauses between them, so
 * that the app's own writes (a login inserts a session) never wait long.
 *
 * The app's SQLite waits for a lock with SQLite's default busy handler, which
 * retries after sleeps of 1, 2, 5, 10, 15, 20, 25, 25, 25, 50 and 50 ms (that
 * is, 228 ms in all) and from then on every 100 ms. A writer that queues just
 * after a batch takes the lock therefore gets in at its first retry after the
 * commit, provided the lock is still free then: within 178 ms of queuing if
 * the batch held the lock for less than that, at 228 ms if it held it for
 * less than 228, and otherwise not before 328 ms. If the pause after the
 * commit is shorter than the writer's current sleep, the writer sleeps
 * through it and waits out a whole further batch: 434 ms, 634 ms, and so on.
 *
 * The pause after a hold must outlast the sleep a writer that queued as the
 * hold began is in: at most 25 ms while it has waited less than 128 ms, 50 ms
 * up to 228 ms, 100 ms beyond. A pause is time nobody deletes anything, so
 * the pacer aims at holds of SHORT_HOLD_MS, whose 30 ms pause loses the
 * least time per hold (115 ms of work per 145 ms, against 150 per 205 with
 * the 55 ms pause), and which leaves a login queued behind a hold waiting
 * about 130 ms at worst. Only a --max-lock so large that holds of 400 ms fit
 * makes longer holds with 100 ms pauses more efficient; then it aims at its
 * share of --max-lock. Every hold (the whole of it: the work, the commit,
 * and whatever the machine's scheduler adds) is kept below the aim, and the
 * pause is chosen by how long the hold actually was.
 *
 * On a busy machine the purge's thread waits for a core now and then, and a
 * hold stretches by as much. The work is done in chunks, so the elapsed time
 * already shows what it cost; the commit cannot be cut short, so while the
 * thread has had a core only part of the hold so far, the commit it would
 * end with is expected to take longer by the same share, and the batch ends
 * that much earlier. (Measured in the benchmark's slowed mode: holds over
 * 128 ms, after which a waiting login misses its first retry, fell from 6 to
 * 16 a run to 3 to 5.)
 */

/** The pause after a hold the app's writer may have waited less than SHORT_WAIT_MS through: a 25 ms sleep and lateness. */
export const SHORT_GAP_MS = 30;
/** After a longer hold, a waiting writer may be in a 50 ms sleep. */
export const GAP_MS = 55;
/** After a hold longer than LONG_WAIT_MS, a waiting writer may be sleeping 100 ms at a time. */
export const LONG_GAP_MS = 105;
/**
 * A writer that queued as the hold began sleeps at most 25 ms at a time until
 * it has waited 128 ms, and 50 ms until 228 ms. Its sleeps run late on a busy
 * machine, and it may have queued a little before the lock was taken, so
 * these bounds leave a few ms.
 */
const SHORT_WAIT_MS = 122;
const LONG_WAIT_MS = 170;
/** What a hold aims at when --max-lock allows it: holds short enough for the short pause. */
export const SHORT_HOLD_MS = 115;
/** Holds this long or longer lose less to their 100 ms pauses than short holds lose to theirs. */
const LONG_HOLD_MS = 400;

/** Rows per DELETE statement: small, so that a batch stops close to its time budget. */
export const MAX_CHUNK = 1000;
const FIRST_CHUNK = 250;
/**
 * Every batch deletes at least this many rows (a few milliseconds of work), so
 * a slow or busy machine still makes progress instead of paying the gap for
 * a handful of rows.
 */
export const MIN_CHUNK = 100;

/** A hold's share of a core is judged once it has run this long, and taken as no less than MIN_SHARE. */
const MIN_SHARE_SPAN_MS = 5;
const MIN_SHARE = 0.4;

/** After an overrun the budget shrinks at once; it grows back by this factor per batch on time. */
const RECOVERY = 1.05;
const MIN_SCALE = 0.25;

export class BatchPacer {
  /** The share of --max-lock a hold must stay under, whatever it aims at. */
  readonly budgetMs: number;
  /** What a hold aims at before overruns teach it lower: SHORT_HOLD_MS, or the budget when that is shorter or very long. */
  readonly targetMs: number;
  /** Learned costs in ms per row: the DELETE work, and the commit that writes the pages to the log. */
  private workPerRow = 0.03;
  private commitPerRow = 0.02;
  /** The commit's cost while the checkpointer flushes the database file: learned apart, since it is the slow tail. */
  private commitPerRowSyncing = 0.04;
  /** Shrinks the target after a hold overran it; recovers slowly while holds stay on time. */
  private scale = 1;
  private batches = 0;

  constructor(maxLockMs: number) {
    this.budgetMs = Math.max(1, maxLockMs * LOCK_TARGET_SHARE);
    this.targetMs = this.budgetMs >= LONG_HOLD_MS ? this.budgetMs : Math.min(this.budgetMs, SHORT_HOLD_MS);
  }

  /**
   * How many rows the next DELETE statement of this batch may take, given the
   * rows already deleted in it and the ms since it took the lock; 0 means
   * commit now. `syncing` says whether the checkpointer is flushing the
   * database file right now, `cpuWaitMs` how much of the elapsed time the
   * thread spent waiting for a core. The first statement of a batch always
   * takes at least MIN_CHUNK rows.
   */
  nextChunk(rowsSoFar: number, elapsedMs: number, rowsAllowed: number, syncing = false, cpuWaitMs = 0): number {
    const budget = this.targetMs * this.scale;
    // The share of this hold the thread has had a core so far: the commit is
    // expected to stretch by as much.
    const share = elapsedMs > MIN_SHARE_SPAN_MS ? Math.max(MIN_SHARE, 1 - cpuWaitMs / elapsedMs) : 1;
    const commitPerRow = (syncing ? this.commitPerRowSyncing : this.commitPerRow) / share;
    const room = budget - elapsedMs - rowsSoFar * commitPerRow;
    const wanted =
      rowsSoFar === 0 && this.batches === 0 ? FIRST_CHUNK : Math.floor(room / (this.workPerRow + commitPerRow));
    const chunk = Math.min(MAX_CHUNK, rowsAllowed, rowsSoFar === 0 ? Math.max(MIN_CHUNK, wanted) : wanted);
    if (chunk < 1 || (rowsSoFar > 0 && chunk < MIN_CHUNK)) return 0;
    return chunk;
  }

  /** One DELETE statement deleted `rows` in `ms`. */
  chunkDone(rows: number, ms: number): void {
    if (rows > 0) this.workPerRow = 0.5 * this.workPerRow + (0.5 * ms) / rows;
  }

  /**
   * A batch committed `rows` rows; `holdMs` is from the lock being granted to
   * the commit returning, `commitMs` the commit alone, `syncing` whether
   * the checkpointer was flushing the database file as the commit began,
   * `lockWaitMs` how long taking the lock waited for the app's writer (one
   * of the app's writes was under way, and another may have queued behind
   * it that long before the hold began).
   * Returns how long to leave the lock free before the next batch.
   */
  committed(rows: number, holdMs: number, commitMs: number, syncing = false, lockWaitMs = 0): number {
    this.batches++;
    if (rows > 0) {
      // A slow commit counts at once, a fast one only slowly: an overrun
      // blocks the app, an underrun only costs a batch.
      const observed = commitMs / rows;
      const lean = (learned: number): number => Math.max(observed, 0.85 * learned + 0.15 * observed);
      if (syncing) this.commitPerRowSyncing = lean(this.commitPerRowSyncing);
      else this.commitPerRow = lean(this.commitPerRow);
      this.commitPerRowSyncing = Math.max(this.commitPerRowSyncing, this.commitPerRow);
    }
    // Whatever made the hold overrun (scheduling, a stall in the work, a
    // commit slower than learned), the next batches aim lower by as much.
    if (holdMs > this.targetMs) this.scale = Math.max(MIN_SCALE, (this.scale * this.targetMs) / holdMs);
    else this.scale = Math.min(1, this.scale * RECOVERY);
    const waited = holdMs + lockWaitMs;
    return waited < SHORT_WAIT_MS ? SHORT_GAP_MS : waited < LONG_WAIT_MS ? GAP_MS : LONG_GAP_MS;
  }
}
