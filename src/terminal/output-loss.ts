import { AuthctlError, ExitCode } from '../core/errors/errors.js';
import type { Output } from './output.js';

type StreamName = 'stdout' | 'stderr';

/** The first error of each stream: a stream that failed stays failed for the rest of the process. */
const failed: Partial<Record<StreamName, NodeJS.ErrnoException>> = {};
let listening = false;

/** Resolves once everything written to `stream` so far has gone out, or failed to. */
function flushed(stream: NodeJS.WriteStream): Promise<void> {
  return new Promise((resolve) => {
    if (stream.destroyed) resolve();
    else stream.write('', () => resolve());
  });
}

/**
 * Keeps a failed write to stdout or stderr from ending the command half way
 * or crashing it with a stack trace. A failed stream only drops what is
 * written to it from then on; the command runs to its end and keeps its
 * exit code. Once it has, `settle` decides:
 *
 * - a reader that went away early (`authctl user list | head`, EPIPE) or a
 *   terminal that closed (EIO) is not the command's failure: its own exit
 *   code stands;
 * - a command that succeeded but whose stdout could not be written (a full
 *   disk, a file that cannot grow) exits 1 with OUTPUT_LOST, said on stderr
 *   when stderr still works: a script must not take exit 0 for a result, a
 *   generated password above all, that nobody received.
 */
export function watchOutputs(): { settle(code: number, out: Output): Promise<number> } {
  // Listened to once per process, however many times main() runs in it (tests run it often).
  if (!listening) {
    listening = true;
    process.stdout.on('error', (err: NodeJS.ErrnoException) => void (failed.stdout ??= err));
    process.stderr.on('error', (err: NodeJS.ErrnoException) => void (failed.stderr ??= err));
  }
  return {
    async settle(code, out) {
      await flushed(process.stdout);
      await flushed(process.stderr);
      const lost = failed.stdout;
      if (code !== ExitCode.ok || !lost || lost.code === 'EPIPE' || lost.code === 'EIO') return code;
      const error = new AuthctlError(
        'OUTPUT_LOST',
        `Writing to standard output failed (${lost.code ?? lost.message}): the command finished, but what it printed is lost.`,
        ExitCode.internal,
        'Check where stdout goes (a full disk?). `authctl audit` shows what the command did; a generated password that was lost needs a new one (`authctl user reset <name> --generate-password`).',
      );
      if (!failed.stderr) {
        out.error(error);
        await flushed(process.stderr);
      }
      return error.exitCode;
    },
  };
}
