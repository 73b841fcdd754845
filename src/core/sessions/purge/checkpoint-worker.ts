/**
 * The purge's checkpointer, on its own thread and its own connection, so that
 * copying a batch from the WAL into the database file overlaps the purge's
 * next batch instead of adding to it.
 *
 * Each run is two PASSIVE checkpoints. The first copies the batch just
 * committed; while it runs it holds SQLite's checkpoint lock, so the app's
 * own automatic checkpoint after its next commit finds the lock taken and
 * returns at once instead of copying authctl's pages on the app's time. The
 * app's rows that arrived meanwhile stop SQLite from syncing the database file
 * at the end of that first pass; the second pass, usually while the purge
 * holds the write lock and nothing new can arrive, copies them and syncs.
 *
 * Requests that arrive while a run is going are folded into one more run,
 * which starts after them and so covers every commit they stand for.
 */
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';

/** `seq` numbers the purge's commits; a reply says every commit up to `seq` is copied. */
export type CheckpointRequest = { kind: 'checkpoint'; seq: number } | { kind: 'close' };

export type CheckpointReply =
  | { kind: 'done'; seq: number; walFrames: number }
  | { kind: 'error'; message: string };

const port = parentPort;
if (!port) throw new Error('checkpoint-worker must run as a worker thread');

function fail(err: unknown): void {
  const message = err instanceof Error ? err.message : String(err);
  port!.postMessage({ kind: 'error', message } satisfies CheckpointReply);
}

let db: Database.Database | undefined;
let checkpoint: Database.Statement<[], { busy: number; log: number; checkpointed: number }> | undefined;
try {
  const { file, busyTimeoutMs } = workerData as { file: string; busyTimeoutMs: number };
  db = new Database(file, { fileMustExist: true, timeout: busyTimeoutMs });
  db.pragma('synchronous = NORMAL');
  db.pragma('wal_autocheckpoint = 0');
  checkpoint = db.prepare('PRAGMA wal_checkpoint(PASSIVE)');
} catch (err) {
  fail(err);
}

let latest = 0;
let scheduled = false;

function run(): void {
  scheduled = false;
  const seq = latest;
  try {
    if (!checkpoint) throw new Error('the checkpoint connection did not open');
    checkpoint.get();
    const second = checkpoint.get();
    port!.postMessage({ kind: 'done', seq, walFrames: Math.max(0, second?.log ?? 0) } satisfies CheckpointReply);
  } catch (err) {
    fail(err);
  }
}

port.on('message', (request: CheckpointRequest) => {
  if (request.kind === 'close') {
    db?.close();
    port.close();
    return;
  }
  latest = request.seq;
  // Let every request already queued arrive first, then run once for all.
  if (!scheduled) {
    scheduled = true;
    setImmediate(run);
  }
});
