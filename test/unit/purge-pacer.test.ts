import { describe, expect, it } from 'vitest';
import { BatchPacer, GAP_MS, LONG_GAP_MS, MAX_CHUNK, MIN_CHUNK, SHORT_GAP_MS, SHORT_HOLD_MS } from '../../src/core/sessions/purge/pacer.js';

/** Fills one batch as the purge loop does, with `msPerRow` of work per row; returns its rows. */
function fillBatch(pacer: BatchPacer, msPerRow: number, rowsAllowed = 1_000_000): { rows: number; workMs: number } {
  let rows = 0;
  let elapsed = 0;
  for (;;) {
    const chunk = pacer.nextChunk(rows, elapsed, rowsAllowed - rows);
    if (chunk === 0) break;
    expect(chunk).toBeLessThanOrEqual(MAX_CHUNK);
    pacer.chunkDone(chunk, chunk * msPerRow);
    rows += chunk;
    elapsed += chunk * msPerRow;
  }
  return { rows, workMs: elapsed };
}

/** Ten batches at 0.02 ms of work and 0.015 ms of commit a row, so the pacer has learned both. */
function settle(pacer: BatchPacer): void {
  for (let b = 0; b < 10; b++) {
    const { rows, workMs } = fillBatch(pacer, 0.02);
    pacer.committed(rows, workMs + rows * 0.015, rows * 0.015);
  }
}

describe('purge pacing', () => {
  it('fills a batch up to the share of --max-lock that work plus the learned commit may take', () => {
    const pacer = new BatchPacer(200);
    let last = { rows: 0, hold: 0 };
    for (let b = 0; b < 20; b++) {
      const { rows, workMs } = fillBatch(pacer, 0.02);
      const commitMs = rows * 0.015;
      pacer.committed(rows, workMs + commitMs, commitMs);
      last = { rows, hold: workMs + commitMs };
    }
    expect(last.hold).toBeLessThanOrEqual(pacer.targetMs);
    expect(last.hold).toBeGreaterThan(pacer.targetMs * 0.8);
  });

  it('aims lower after a hold overran, whatever made it overrun, and recovers once holds are on time', () => {
    const pacer = new BatchPacer(200);
    settle(pacer);
    const before = fillBatch(pacer, 0.02).rows;
    // The scheduler stalled this batch: the hold took twice what its work and commit account for.
    pacer.committed(before, 2 * (before * 0.035), before * 0.015);
    const after = fillBatch(pacer, 0.02).rows;
    expect(after).toBeLessThan(before * 0.6);
    pacer.committed(after, after * 0.035, after * 0.015);
    let rows = after;
    for (let b = 0; b < 30; b++) {
      rows = fillBatch(pacer, 0.02).rows;
      pacer.committed(rows, rows * 0.035, rows * 0.015);
    }
    expect(rows).toBeGreaterThan(before * 0.95);
  });

  it('counts a slow commit at once and forgets it only slowly', () => {
    const pacer = new BatchPacer(200);
    settle(pacer);
    const before = fillBatch(pacer, 0.02).rows;
    pacer.committed(before, before * 0.02 + before * 0.045, before * 0.045);
    const next = fillBatch(pacer, 0.02).rows;
    expect(next * (0.02 + 0.045)).toBeLessThanOrEqual(pacer.targetMs);
  });

  it('ends a batch earlier while its thread waits for a core, since the commit will stretch as much', () => {
    const alone = new BatchPacer(200);
    const busy = new BatchPacer(200);
    settle(alone);
    settle(busy);
    // 2,000 rows deleted 60 ms into the hold: on a core of its own there is
    // room for more; having waited 30 of those 60 ms for a core, the commit
    // of what is already deleted is expected to take twice as long.
    // Learned: 0.015 ms of commit a row, so 30 ms for these; doubled to 60,
    // the 60 ms gone and the commit already fill the 115 ms aim.
    expect(alone.nextChunk(2000, 60, 1_000_000, false, 0)).toBeGreaterThanOrEqual(MIN_CHUNK);
    expect(busy.nextChunk(2000, 60, 1_000_000, false, 30)).toBe(0);
    // A hold only a few ms old is not judged by one preemption.
    expect(busy.nextChunk(0, 4, 1_000_000, false, 3)).toBe(alone.nextChunk(0, 4, 1_000_000, false, 0));
  });

  it('leaves the lock free longer than the sleep a writer queued since the hold began is in', () => {
    const pacer = new BatchPacer(200);
    // SQLite's busy handler sleeps at most 25 ms until 128 ms, 50 ms until 228 ms, then 100 ms.
    expect(pacer.committed(5000, 110, 50)).toBe(SHORT_GAP_MS);
    expect(SHORT_GAP_MS).toBeGreaterThan(25);
    expect(pacer.committed(5000, 140, 50)).toBe(GAP_MS);
    expect(GAP_MS).toBeGreaterThan(50);
    expect(pacer.committed(5000, 240, 50)).toBe(LONG_GAP_MS);
    expect(LONG_GAP_MS).toBeGreaterThan(100);
    // Waiting for the app's write before the hold counts: another writer may have queued behind it.
    expect(pacer.committed(5000, 110, 50, false, 20)).toBe(GAP_MS);
  });

  it('aims at holds short enough for the short pause unless --max-lock asks for shorter or very long ones', () => {
    expect(new BatchPacer(200).targetMs).toBe(SHORT_HOLD_MS);
    expect(new BatchPacer(200).budgetMs).toBe(150);
    expect(new BatchPacer(100).targetMs).toBe(75);
    // Holds of 400 ms and more lose less to their 100 ms pauses than 115 ms holds to their 30 ms ones.
    expect(new BatchPacer(1000).targetMs).toBe(750);
    expect(SHORT_HOLD_MS / (SHORT_HOLD_MS + SHORT_GAP_MS)).toBeGreaterThan(150 / (150 + GAP_MS));
  });

  it('still deletes a minimum each batch on a machine too slow for the budget', () => {
    const pacer = new BatchPacer(5);
    for (let b = 0; b < 5; b++) {
      const { rows, workMs } = fillBatch(pacer, 1);
      expect(rows).toBeGreaterThanOrEqual(MIN_CHUNK);
      pacer.committed(rows, workMs + rows, rows);
    }
  });

  it('never takes more rows than --batch-size allows', () => {
    const pacer = new BatchPacer(10_000);
    pacer.committed(1000, 10, 5);
    expect(fillBatch(pacer, 0.001, 1500).rows).toBe(1500);
  });
});
