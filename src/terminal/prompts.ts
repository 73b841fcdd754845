import { cancelled } from '../core/errors/errors.js';
import { claimSignals, STOP_SIGNALS } from '../core/signals/interrupt.js';
import type { Output } from './output.js';

interface PromptContext {
  output: NodeJS.WritableStream;
  signal: AbortSignal;
}

/**
 * Runs one prompt on the terminal. Ctrl+C and Ctrl+D (end of input) both
 * cancel it (exit 130). The prompt library handles Ctrl+C itself; Ctrl+D on
 * an empty line closes its readline without settling the prompt, and the
 * process would then just end with exit 0, so this aborts the prompt when a
 * Ctrl+D leaves the terminal closed. SIGTERM and SIGHUP abort the prompt
 * too, rather than ending the process under it: the prompt then puts back the
 * cursor it hid and ends its line before "Cancelled" is printed.
 */
async function ask<T>(run: (context: PromptContext) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const onKeypress = (_text: string | undefined, key: { ctrl?: boolean; name?: string } | undefined) => {
    if (!key?.ctrl || key.name !== 'd') return;
    // readline sees the key after this listener; once it has, a closed prompt has paused stdin.
    setImmediate(() => {
      if (process.stdin.readableFlowing !== true) controller.abort();
    });
  };
  process.stdin.on('keypress', onKeypress);
  const giveBack = claimSignals();
  const stop = () => controller.abort();
  for (const name of STOP_SIGNALS) process.on(name, stop);
  try {
    return await run({ output: process.stderr, signal: controller.signal });
  } catch (err) {
    const name = (err as Error).name;
    if (name === 'ExitPromptError' || name === 'AbortPromptError') throw cancelled();
    throw err;
  } finally {
    for (const name of STOP_SIGNALS) process.off(name, stop);
    giveBack();
    process.stdin.off('keypress', onKeypress);
  }
}

/** Passwords `check` may refuse at the prompt before the command gives up. */
const MAX_REFUSED = 3;

/**
 * Asks on the terminal until two entries match. `check` (the policy, decided
 * by the caller) runs on the first entry: a refused password is asked for
 * again at once, with the reason, and the third refusal ends the command
 * with that refusal's error (exit 7 for the policy).
 */
export async function promptNewPassword(out: Output, label: string, check?: (password: string) => void): Promise<string> {
  const { password } = await import('@inquirer/prompts');
  const { terminalSafe } = await import('./output.js');
  const { AuthctlError } = await import('../core/errors/errors.js');
  let refusals = 0;
  for (;;) {
    const first = await ask((context) => password({ message: `New password for ${terminalSafe(label)}`, mask: false }, context));
    if (first.length > 0 && check) {
      try {
        check(first);
      } catch (err) {
        if (!(err instanceof AuthctlError)) throw err;
        refusals++;
        if (refusals >= MAX_REFUSED) {
          throw new AuthctlError(err.code, `${err.message} That was the last of ${MAX_REFUSED} tries; nothing was changed.`, err.exitCode, err.hint);
        }
        const left = MAX_REFUSED - refusals;
        out.prompt(`${err.message} Try another (${left} ${left === 1 ? 'try' : 'tries'} left).`);
        continue;
      }
    }
    const second = await ask((context) => password({ message: 'Type it again', mask: false }, context));
    if (first === second && first.length > 0) return first;
    out.prompt(first.length === 0 ? 'The password is empty; try again.' : 'The two entries differ; try again.');
  }
}

/**
 * Destructive steps need a yes: --yes, or an answer at a prompt. Without a
 * terminal and without --yes they are refused (exit 7).
 */
export async function confirmOrRefuse(message: string, yes: boolean | undefined): Promise<void> {
  if (yes) return;
  const { refused } = await import('../core/errors/errors.js');
  if (!process.stdin.isTTY || !process.stderr.isTTY) {
    throw refused('CONFIRMATION_REQUIRED', `${message} needs confirmation, and there is no terminal to ask on.`, 'Pass --yes to confirm.');
  }
  const { confirm } = await import('@inquirer/prompts');
  const { terminalSafe } = await import('./output.js');
  const ok = await ask((context) => confirm({ message: `${terminalSafe(message)}?`, default: false }, context));
  if (!ok) throw cancelled();
}
