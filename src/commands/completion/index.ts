import type { Command } from 'commander';
import { defineCommand } from '../define.js';
import type { CompletionTree } from './tree.js';

// The generators load only when a script is asked for.
const SHELLS = {
  bash: async () => (await import('./bash.js')).bashScript,
  zsh: async () => (await import('./zsh.js')).zshScript,
  fish: async () => (await import('./fish.js')).fishScript,
} satisfies Record<string, () => Promise<(tree: CompletionTree) => string>>;
type Shell = keyof typeof SHELLS;

interface CompletionResult {
  shell: Shell;
  script: string;
}

/** `authctl completion <shell>`: a completion script made from the command tree of this build. */
export function completionCommand(program: () => Command) {
  return defineCommand<Shell, CompletionResult>({
    name: 'completion',
    description: 'print a shell completion script for bash, zsh or fish (see README, "Shell completion")',
    examples: [
      'source <(authctl completion bash)',
      'authctl completion bash > ~/.local/share/bash-completion/completions/authctl',
      'authctl completion zsh > "${fpath[1]}/_authctl"',
      'authctl completion fish > ~/.config/fish/completions/authctl.fish',
    ],
    arguments: [{ name: '<shell>', description: 'the shell to complete for', choices: Object.keys(SHELLS) }],
    parse: ({ args }) => args[0] as Shell,
    needs: 'none',
    run: async (_ctx, shell) => {
      const { completionTree } = await import('./tree.js');
      const generate = await SHELLS[shell]();
      return { shell, script: generate(completionTree(program())) };
    },
    render: (result, out) => {
      for (const line of result.script.trimEnd().split('\n')) out.line(line);
    },
  });
}
