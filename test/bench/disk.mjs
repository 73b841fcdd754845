// The disk's own part in a login's wait: `npm run bench:disk`.
//
// The app's SQLite commits a login with an fsync of its log (Python's sqlite3
// keeps synchronous=FULL), so no purge can make a login wait less than the
// disk takes to flush 4 KiB. This writes 4 KiB and fdatasyncs it every 20 ms
// (the purge benchmark's writer's pace), with nothing else running, and
// reports how long the flushes took: the floor under bench:purge's worst wait
// on this machine. Run it on its own, not beside another benchmark or tests.
//
// Env: BENCH_SECONDS (default 60) per round, BENCH_ROUNDS (default 3),
// BENCH_DIR (default a temp folder; put it on the disk the database is on:
// a temp folder on tmpfs flushes nothing, and the run says so).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 60);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
if (!(SECONDS > 0) || !Number.isInteger(ROUNDS) || ROUNDS < 1) {
  console.error('BENCH_SECONDS must be a positive number and BENCH_ROUNDS a whole number, 1 or more');
  process.exit(2);
}
const INTERVAL_MS = 20;
const PAGE = 4096;
/** The probe's file, written round and round: 256 pages, 1 MiB. */
const PAGES = 256;
/** statfs's type for tmpfs, where fdatasync writes nothing to any disk. */
const TMPFS_MAGIC = 0x01021994;
/** The purge benchmark's goal for a login's worst wait. */
const GOAL_MS = 250;

// A folder of its own, inside BENCH_DIR when given: nothing there is overwritten.
const dir = fs.mkdtempSync(path.join(process.env.BENCH_DIR ?? os.tmpdir(), 'authctl-bench-disk-'));
const file = path.join(dir, 'disk-probe.bin');

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function round() {
  const fd = fs.openSync(file, 'w', 0o600);
  const flushes = [];
  try {
    // Written whole and flushed before timing, so that no timed flush has
    // the file's growth to record: SQLite overwrites a log it reuses.
    fs.writeSync(fd, randomBytes(PAGE * PAGES), 0, PAGE * PAGES, 0);
    fs.fsyncSync(fd);
    const end = performance.now() + SECONDS * 1000;
    for (let i = 0; performance.now() < end; i++) {
      fs.writeSync(fd, randomBytes(PAGE), 0, PAGE, (i % PAGES) * PAGE);
      const t = performance.now();
      fs.fdatasyncSync(fd);
      flushes.push(performance.now() - t);
      await sleep(INTERVAL_MS);
    }
  } finally {
    fs.closeSync(fd);
  }
  flushes.sort((a, b) => a - b);
  const at = (q) => flushes[Math.min(flushes.length - 1, Math.floor(flushes.length * q))];
  return {
    n: flushes.length,
    median: at(0.5),
    p99: at(0.99),
    worst: flushes[flushes.length - 1],
    over: flushes.filter((ms) => ms > GOAL_MS).length,
  };
}

console.log(`4 KiB write + fdatasync, then a ${INTERVAL_MS} ms pause, ${ROUNDS} round(s) of ${SECONDS} s, in ${dir}`);
if (fs.statfsSync(dir).type === TMPFS_MAGIC) {
  console.log("warning: this folder is on tmpfs, in memory: its flushes reach no disk. Set BENCH_DIR to a folder on the database's disk.");
}
async function main() {
  let worst = 0;
  for (let r = 1; r <= ROUNDS; r++) {
    const s = await round();
    worst = Math.max(worst, s.worst);
    console.log(
      `round ${r}: ${s.n} flushes, median ${s.median.toFixed(2)} ms, p99 ${s.p99.toFixed(1)} ms, worst ${s.worst.toFixed(1)} ms, ${s.over} over ${GOAL_MS} ms`,
    );
  }
  console.log(
    `worst flush ${worst.toFixed(1)} ms: ${worst > GOAL_MS ? `over ${GOAL_MS} ms, so on this disk a login can wait longer than that with no purge running` : `within ${GOAL_MS} ms`}`,
  );
}

try {
  await main();
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
