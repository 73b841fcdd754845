import type { DeleteUserResult } from '../../core/users/delete.js';
import { usernameArg } from '../options.js';
import { defineCommand } from '../define.js';

interface DeleteInput {
  username: string;
  dryRun: boolean;
  deleteConversations: boolean;
  force: boolean;
}

export const deleteCommand = () =>
  defineCommand<DeleteInput, DeleteUserResult>({
    name: 'delete',
    description: "delete a user with its sessions and preferences (asks first; --yes without a terminal)",
    examples: [
      'authctl user delete alice --dry-run',
      'authctl user delete alice',
      'authctl user delete bob --delete-conversations --yes --json',
    ],
    arguments: [{ name: '<username>' }],
    options: (cmd) =>
      cmd
        .option('--dry-run', 'show what would be deleted, with counts, and change nothing')
        .option('--delete-conversations', "also delete the user's conversations and messages in the app's chat history")
        .option('--force', 'delete a user linked to GPUStack (the next gpustack sync, or the app\'s own GPUStack login, creates it again)'),
    parse: ({ args, opts }) => ({
      username: usernameArg(args[0] as string),
      dryRun: Boolean(opts.dryRun),
      deleteConversations: Boolean(opts.deleteConversations),
      force: Boolean(opts.force),
    }),
    needs: 'ready',
    // A dry run only reads: it works on a read-only file.
    asksThenWrites: (input) => !input.dryRun,
    run: async ({ db, yes }, input) => {
      const { deleteUser, describeOwned } = await import('../../core/users/delete.js');
      const opts = { deleteConversations: input.deleteConversations, force: input.force };
      // The checks and the counts first, so a refusal never asks, and the question says what goes.
      const plan = await deleteUser(db, input.username, { ...opts, dryRun: true });
      if (input.dryRun) return plan;
      const { confirmOrRefuse } = await import('../../terminal/prompts.js');
      await confirmOrRefuse(`Delete user "${input.username}" with ${describeOwned(plan.deleted, plan.chatTables)}`, yes);
      return deleteUser(db, input.username, { ...opts, dryRun: false });
    },
    render: (result, out) => {
      const { deleted, user } = result;
      const rows: Array<[string, number]> = [
        ['sessions', deleted.sessions],
        ['preferences', deleted.preferences],
      ];
      if (result.chatTables) rows.push(['conversations', deleted.conversations], ['messages', deleted.messages]);
      out.line(result.dryRun ? `Would delete ${user.isAdmin ? 'admin' : 'user'} "${user.username}" (id ${user.id}) with:` : `Deleted with "${user.username}":`);
      for (const [name, n] of rows) out.line(`  ${name}: ${n}`);
      if (result.forced) {
        out.warn('This user is linked to GPUStack: the next `authctl gpustack sync` creates it again unless it is removed there, and so does the app at the user\'s next login when it has a GPUStack key.');
      }
      if (!result.dryRun) out.success(`Deleted ${user.isAdmin ? 'admin' : 'user'} "${user.username}".`);
    },
  });
