/**
 * The purge's checkpointer, on its own thread and its own connection, so that
 * copying a batch from the WAL into the database file overlaps the purge's
 * next batch instead of adding to it.
 *
 * Each run is a series of PASSIVE checkpoints. The first copies the batch
 * just committed; while it runs it holds SQLite's checkpoint lock, so the
 * app's own automatic checkpoint after its next commit finds the lock taken
 * and returns at once instead of copying authctl's pages on the app's time.
 * The app's rows that arrived meanwhile stop SQLite from syncing the database
 * file at the end of that pass; the next passes copy them, until one finds
 * nothing new arriving (at the latest once the purge holds the write lock
 * again) and syncs.
 *
 * Requests that arrive while a run is going are folded into one more run,
 * which starts after them and so covers every commit they stand for.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { PHASE, PHASE_AT, RELEASE, REQUESTED } from './checkpoint-phase.js';
import { LogPin } from './log-pin.js';
import type { WalCheckpoint } from './wal.js';

/** How much lower than the rest of authctl this thread runs. */
const NICENESS = 10;

/**
 * On Linux, lowers this thread's scheduling priority (and only this thread's:
 * there, a thread id given to setpriority names that one thread). On a busy
 * machine the copying then runs on time that neither the app nor the purge's
 * lock-holding thread wants: when the app's waiting writer wakes to retry its
 * lock, it gets the core at once instead of queuing behind a copy that can
 * wait (the pin keeps the app's own checkpoint off the purge's frames while
 * this thread waits for a core). Elsewhere, or when not allowed, the thread
 * keeps its priority.
 */
function lowerPriority(): void {
  try {
    const tid = Number(path.basename(fs.readlinkSync('/proc/thread-self')));
    if (!Number.isInteger(tid) || tid <= 0 || tid === process.pid) return;
    os.setPriority(tid, Math.min(19, os.getPriority(tid) + NICENESS));
  } catch {
    // Not Linux, or the priority cannot be changed here.
  }
}

/**
 * `seq` numbers the purge's commits; a 'done' reply says every commit up to
 * `seq` is copied, and `settled` that the worker has stopped passing for now
 * (everything copied and synced, or the app's own checkpoint took over).
 */
/** 'checkpoint' starts a run if none is going; the commit's number travels in the shared array. */
export type CheckpointRequest = { kind: 'checkpoint' } | { kind: 'close' };

export type CheckpointReply =
  | { kind: 'done'; seq: number; walFrames: number; settled: boolean }
  | { kind: 'error'; message: string };

const port = parentPort;
if (!port) throw new Error('checkpoint-worker must run as a worker thread');

function fail(err: unknown): void {
  const message = err instanceof Error ? err.message : String(err);
  port!.postMessage({ kind: 'error', message } satisfies CheckpointReply);
}

let db: Database.Database | undefined;
let shared: Int32Array | undefined;
let checkpoint: Database.Statement<[], WalCheckpoint> | undefined;
/**
 * Pins the log just before each pass, at the end the pass will copy up to
 * (see LogPin). If the app's own checkpoint takes the checkpoint lock between
 * two passes (its commit's flush can end at the very moment a pass's flush
 * does, as both wait on the same disk), it finds nothing of the purge's to
 * copy and returns at once, instead of copying and syncing whole batches on
 * the app's time (measured: 200 to 380 ms added to a login's wait, when the
 * pin was taken after each pass and so left out the batches committed during
 * it). Released whenever the worker stops, so the log can start over.
 */
let pin: LogPin | undefined;
lowerPriority();
try {
  const data = workerData as { file: string; busyTimeoutMs: number; shared: SharedArrayBuffer };
  const { file, busyTimeoutMs } = data;
  shared = new Int32Array(data.shared);
  db = new Database(file, { fileMustExist: true, timeout: busyTimeoutMs });
  db.pragma('synchronous = NORMAL');
  db.pragma('wal_autocheckpoint = 0');
  checkpoint = db.prepare('PRAGMA wal_checkpoint(PASSIVE)');
  pin = new LogPin(file, busyTimeoutMs);
} catch (err) {
  fail(err);
}

let scheduled = false;

/**
 * Once everything is copied and synced, the worker waits this long for the
 * purge's next commit before it lets its thread go idle. The purge's thread
 * wakes it through the shared array, without a message's delay.
 */
const LINGER_MS = 1000;

let closed = false;

/** After the app's own checkpoint held the lock, the worker tries again this often, this many times. */
const BUSY_RETRY_MS = 2;
const BUSY_RETRIES = 50;

/** Sleeps without returning to the event loop. */
function pause(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * Copies the log into the database file until nothing is left, pass after
 * pass, while the purge goes on committing. Between passes the checkpoint
 * lock is free, but the pin keeps every frame not yet copied out of reach of
 * the app's own checkpoint. Once everything is copied and synced the pin
 * moves to the end of the log and stays, so that the purge's next commit is
 * covered too, however late this thread wakes for it; the purge's thread
 * asks for it to be let go (releaseRequested) before the log can start over.
 */
function run(): void {
  scheduled = false;
  if (closed) return;
  const post = (seq: number, walFrames: number, settled: boolean): void =>
    port!.postMessage({ kind: 'done', seq, walFrames, settled } satisfies CheckpointReply);
  try {
    if (!checkpoint || !shared) throw new Error('the checkpoint connection did not open');
    const sh = shared;
    let previousLog = -1;
    let copying = true;
    let busyTries = 0;
    for (;;) {
      const seq = Atomics.load(sh, REQUESTED);
      Atomics.store(sh, PHASE_AT, copying ? PHASE.COPYING : PHASE.SYNCING);
      // Pinned just before the pass, at the end of the log the pass will
      // copy up to; not after it, which would leave whatever the purge
      // committed during the pass to the app's checkpoint until the next one.
      // While the app's checkpoint holds the lock, the pin stays where it is.
      if (busyTries === 0) pin?.move();
      const result = checkpoint.get();
      // Every commit of the purge's numbered up to seq was in the log when the pass began.
      const walFrames = Math.max(0, result?.log ?? 0);
      if (!result || result.busy) {
        // The app's own checkpoint has the lock; the pin leaves it only the
        // app's own frames to copy, so it ends soon.
        if (++busyTries < BUSY_RETRIES) {
          pause(BUSY_RETRY_MS);
          continue;
        }
        pin?.release();
        post(seq, walFrames, true);
        break;
      }
      busyTries = 0;
      post(seq, walFrames, false);
      if (Atomics.load(sh, REQUESTED) !== seq) {
        // The purge committed again meanwhile: copy that at once.
        copying = true;
        previousLog = -1;
        continue;
      }
      copying = false;
      if (result.log !== previousLog) {
        // SQLite syncs the database file at the end of a pass only if no
        // frame was added while it copied; the app's commits may have been.
        // Whoever completes the log next would pay for flushing the file:
        // pass again until a pass finds the log as long as the one before.
        previousLog = result.log;
        continue;
      }
      // Nothing new since the last pass. Unless a reader of the app's kept
      // part of the log from being copied, all of it is in the database file
      // and synced.
      if (result.checkpointed < result.log) {
        pin?.release();
        post(seq, walFrames, true);
        break;
      }
      Atomics.store(sh, PHASE_AT, PHASE.IDLE);
      let woken = false;
      for (;;) {
        if (Atomics.load(sh, RELEASE) !== 0 && pin?.held) {
          pin?.release();
          Atomics.store(sh, RELEASE, 0);
          post(seq, walFrames, true);
        }
        const waited = Atomics.wait(sh, REQUESTED, seq, LINGER_MS);
        if (closed) break;
        if (Atomics.load(sh, REQUESTED) !== seq) {
          woken = true;
          break;
        }
        // Woken for anything but a commit or a release: the purge is
        // closing (or the wait timed out); the event loop has the message.
        if (waited === 'timed-out' || Atomics.load(sh, RELEASE) === 0) break;
      }
      if (!woken) {
        if (pin?.held) {
          pin?.release();
          post(seq, walFrames, true);
        }
        break;
      }
      copying = true;
      previousLog = -1;
    }
  } catch (err) {
    fail(err);
  } finally {
    try {
      pin?.release();
    } catch {
      // The connection is closing anyway.
    }
    if (shared) Atomics.store(shared, PHASE_AT, PHASE.IDLE);
  }
}

port.on('message', (request: CheckpointRequest) => {
  if (request.kind === 'close') {
    closed = true;
    db?.close();
    pin?.close();
    port.close();
    return;
  }
  // Let every request already queued arrive first, then run once for all.
  if (!scheduled) {
    scheduled = true;
    setImmediate(run);
  }
});
