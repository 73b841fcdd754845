/**
 * The purge's checkpointer, on its own thread and its own connection, so that
 * copying a batch from the WAL into the database file overlaps the purge's
 * next batch instead of adding to it.
 *
 * Each request runs two PASSIVE checkpoints. The first copies the batch just
 * committed; while it runs it holds SQLite's checkpoint lock, so the app's
 * own automatic checkpoint after its next commit finds the lock taken and
 * returns at once instead of copying authctl's pages on the app's time. The
 * app's rows that arrived meanwhile stop SQLite from syncing the database file
 * at the end of that first pass; the second pass, usually while the purge
 * holds the write lock and nothing new can arrive, copies them and syncs.
 */
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';

export interface CheckpointRequest {
  kind: 'checkpoint' | 'close';
}

export type CheckpointReply = { kind: 'done'; walFrames: number } | { kind: 'error'; message: string };

const port = parentPort;
if (!port) throw new Error('checkpoint-worker must run as a worker thread');

const { file, busyTimeoutMs } = workerData as { file: string; busyTimeoutMs: number };
const db = new Database(file, { fileMustExist: true, timeout: busyTimeoutMs });
db.pragma('synchronous = NORMAL');
db.pragma('wal_autocheckpoint = 0');
const checkpoint = db.prepare<[], { busy: number; log: number; checkpointed: number }>('PRAGMA wal_checkpoint(PASSIVE)');

port.on('message', (request: CheckpointRequest) => {
  if (request.kind === 'close') {
    db.close();
    port.close();
    return;
  }
  try {
    checkpoint.get();
    const second = checkpoint.get();
    port.postMessage({ kind: 'done', walFrames: Math.max(0, second?.log ?? 0) } satisfies CheckpointReply);
  } catch (err) {
    port.postMessage({ kind: 'error', message: err instanceof Error ? err.message : String(err) } satisfies CheckpointReply);
  }
});
