import { Worker } from 'node:worker_threads';
import { databaseError } from '../../errors/errors.js';
import type { CheckpointReply, CheckpointRequest } from './checkpoint-worker.js';

/** The main thread's handle on checkpoint-worker.ts. */
export class Checkpointer {
  private readonly worker: Worker;
  /** Commits handed over so far, and the last one a finished run covered. */
  private requested = 0;
  private covered = 0;
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
    this.worker = new Worker(new URL('./checkpoint-worker.js', import.meta.url), { workerData: { file, busyTimeoutMs } });
    this.worker.on('message', (reply: CheckpointReply) => {
      if (reply.kind === 'done') {
        const commits = reply.seq - this.covered;
        const grown = reply.walFrames - this.walFrames;
        if (grown > 0 && commits > 0) this.walGrowth = Math.max(this.walGrowth * 0.7, grown / commits);
        this.walFrames = reply.walFrames;
        this.covered = Math.max(this.covered, reply.seq);
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

  /** Hands the commit just made to the checkpointer. */
  request(): void {
    if (this.failure) throw this.failure;
    this.requested++;
    this.worker.postMessage({ kind: 'checkpoint', seq: this.requested } satisfies CheckpointRequest);
  }

  /** Resolves once every commit handed over is in the database file. */
  async idle(): Promise<void> {
    if (!this.failure && this.covered < this.requested) await new Promise<void>((resolve) => this.waiters.push(resolve));
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
    if (this.failure || this.covered >= this.requested) for (const resolve of this.waiters.splice(0)) resolve();
  }
}
