import { Command } from 'commander';
import { listCommand } from './list.js';
import { purgeCommand } from './purge.js';
import { revokeCommand } from './revoke.js';
import { statsCommand } from './stats.js';

export function sessionsCommand(): Command {
  return new Command('sessions')
    .description('list, revoke and purge login sessions; session statistics')
    .addCommand(listCommand())
    .addCommand(revokeCommand())
    .addCommand(purgeCommand())
    .addCommand(statsCommand());
}
