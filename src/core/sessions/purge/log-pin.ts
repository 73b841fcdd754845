import Database from 'better-sqlite3';

/**
 * An open read transaction that pins a WAL file at a point. SQLite's
 * checkpoints (anyone's: the app's automatic one too) copy no frame past the
 * oldest reader's point, and the log cannot start over while a reader uses it.
 *
 * The checkpoint worker moves the pin to the end of the log just before each
 * of its passes, so that whatever the purge commits afterwards stays out of
 * reach of the app's checkpoint until the worker's next pass copies it.
 *
 * Two read-only connections take turns: move() begins the other one's read
 * before the one holding lets go, so that the log is never unpinned in
 * between. With one connection, letting go and beginning again were two
 * statements apart; the worker runs at a lower priority and lost the core in
 * that moment on a busy machine, and the app's checkpoint, starting then,
 * copied and synced a whole batch of the purge's on a login's time (one
 * waited 425 ms).
 */
export class LogPin {
  private readonly readers: Array<{ db: Database.Database; read: Database.Statement }> = [];
  /** Which reader holds the log, or -1. */
  private holding = -1;

  constructor(file: string, busyTimeoutMs: number) {
    try {
      for (let i = 0; i < 2; i++) {
        const db = new Database(file, { fileMustExist: true, readonly: true, timeout: busyTimeoutMs });
        this.readers.push({ db, read: db.prepare('SELECT 1 FROM sqlite_master LIMIT 1') });
      }
    } catch (err) {
      this.close();
      throw err;
    }
  }

  get held(): boolean {
    return this.holding !== -1;
  }

  /** Pins the log at its current end. */
  move(): void {
    const next = this.holding === 0 ? 1 : 0;
    const reader = this.readers[next]!;
    reader.db.exec('BEGIN');
    reader.read.get();
    const previous = this.holding;
    this.holding = next;
    if (previous !== -1) this.readers[previous]!.db.exec('COMMIT');
  }

  /** Lets the log go, so that checkpoints may copy all of it and it may start over. */
  release(): void {
    if (this.holding === -1) return;
    const reader = this.readers[this.holding]!;
    this.holding = -1;
    reader.db.exec('COMMIT');
  }

  close(): void {
    this.holding = -1;
    for (const reader of this.readers) reader.db.close();
  }
}
