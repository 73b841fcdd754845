import { Worker } from 'node:worker_threads';
import { databaseError } from '../../errors/errors.js';
import { PHASE, PHASE_AT, RELEASE, REQUESTED, SHARED_LENGTH } from './checkpoint-phase.js';
import type { CheckpointReply, CheckpointRequest } from './checkpoint-worker.js';

/** The main thread's handle on checkpoint-worker.ts. */
export class Checkpointer {
  private readonly worker: Worker;
  private readonly shared = new Int32Array(new SharedArrayBuffer(4 * SHARED_LENGTH));
  /** Commits handed over so far, and the last one a finished run covered. */
  private requested = 0;
  private covered = 0;
  /** The last commit after which the worker stopped passing: copied, synced, nothing left. */
  private settled = 0;
  private failure: Error | undefined;
  private waiters: Array<() => void> = [];
  /** Frames in the WAL after the last checkpoint. */
  walFrames = 0;
  /** How much one batch grows the WAL, leaning towards the largest seen lately. */
  walGrowth = 0;

  constructor(
    private readonly file: string,
    busyTimeoutMs: number,
  ) {
    this.worker = new Worker(new URL('./checkpoint-worker.js', import.meta.url), { workerData: { file, busyTimeoutMs, shared: this.shared.buffer } });
    this.worker.on('message', (reply: CheckpointReply) => {
      if (reply.kind === 'done') {
        const commits = reply.seq - this.covered;
        const grown = reply.walFrames - this.walFrames;
        if (grown > 0 && commits > 0) this.walGrowth = Math.max(this.walGrowth * 0.7, grown / commits);
        this.walFrames = reply.walFrames;
        this.covered = Math.max(this.covered, reply.seq);
        if (reply.settled) this.settled = Math.max(this.settled, reply.seq);
      } else {
        this.fail(reply.message);
      }
      this.wake();
    });
    this.worker.on('error', (err: unknown) => {
      const e = err as { message?: unknown; code?: unknown };
      this.fail(typeof e?.message === 'string' && e.message ? e.message : String(e?.code ?? err));
      this.wake();
    });
  }

  /**
   * Whether the worker is in a pass after a run's first, which copies the
   * app's few frames and ends by flushing the database file: a commit made
   * meanwhile competes with that flush for the disk. Readable in the middle
   * of a batch.
   */
  get syncing(): boolean {
    return Atomics.load(this.shared, PHASE_AT) === PHASE.SYNCING;
  }

  /**
   * Frames in the WAL once every commit handed over is copied: the length
   * last reported, plus the usual growth for each commit not yet covered.
   */
  expectedFrames(): number {
    return this.walFrames + (this.requested - this.covered) * this.walGrowth;
  }

  /** Hands the commit just made to the checkpointer. */
  request(): void {
    if (this.failure) throw this.failure;
    this.requested++;
    Atomics.store(this.shared, REQUESTED, this.requested);
    // Wakes a worker waiting for this commit; the message starts one that is not.
    Atomics.notify(this.shared, REQUESTED);
    this.worker.postMessage({ kind: 'checkpoint' } satisfies CheckpointRequest);
  }

  /**
   * Resolves once every commit handed over is in the database file, synced,
   * and the worker has let go of the log, so that it can start over.
   */
  async idle(): Promise<void> {
    if (!this.failure && this.settled < this.requested) {
      const settled = new Promise<void>((resolve) => this.waiters.push(resolve));
      Atomics.store(this.shared, RELEASE, 1);
      Atomics.notify(this.shared, REQUESTED);
      await settled;
    }
    if (this.failure) throw this.failure;
  }

  async close(): Promise<void> {
    await this.idle().catch(() => undefined);
    if (this.failure) {
      await this.worker.terminate();
      return;
    }
    const exited = new Promise((resolve) => this.worker.once('exit', resolve));
    this.worker.postMessage({ kind: 'close' } satisfies CheckpointRequest);
    // Cuts short a worker's wait for another commit, so it reads the message.
    Atomics.notify(this.shared, REQUESTED);
    await exited;
  }

  private fail(message: string): void {
    this.failure ??= databaseError(
      'CHECKPOINT_FAILED',
      `Copying the purge's deletions into ${this.file} failed: ${message}.`,
      'Check the disk (free space, errors) and run the purge again; what was deleted so far stays deleted.',
    );
  }

  private wake(): void {
    if (this.failure || this.settled >= this.requested) for (const resolve of this.waiters.splice(0)) resolve();
  }
}
