import { Command } from 'commander';
import { disableCommand, enableCommand } from './activation.js';
import { addCommand } from './add.js';
import { listCommand } from './list.js';
import { prefsCommand } from './prefs.js';
import { resetCommand } from './reset.js';
import { showCommand } from './show.js';

export function userCommand(): Command {
  return new Command('user')
    .description('add, reset, disable, enable, list and show users; edit preferences')
    .addCommand(addCommand())
    .addCommand(resetCommand())
    .addCommand(disableCommand())
    .addCommand(enableCommand())
    .addCommand(listCommand())
    .addCommand(showCommand())
    .addCommand(prefsCommand());
}
