import { Command } from 'commander';
import { disableCommand, enableCommand } from './activation.js';
import { addCommand } from './add.js';
import { deleteCommand } from './delete.js';
import { exportCommand } from './export.js';
import { importCommand } from './import.js';
import { listCommand } from './list.js';
import { prefsCommand } from './prefs.js';
import { resetCommand } from './reset.js';
import { setCommand } from './set.js';
import { showCommand } from './show.js';

export function userCommand(): Command {
  return new Command('user')
    .description('add, change, reset, disable, enable, delete, list, show, import and export users; edit preferences')
    .addCommand(addCommand())
    .addCommand(resetCommand())
    .addCommand(setCommand())
    .addCommand(disableCommand())
    .addCommand(enableCommand())
    .addCommand(deleteCommand())
    .addCommand(listCommand())
    .addCommand(showCommand())
    .addCommand(prefsCommand())
    .addCommand(importCommand())
    .addCommand(exportCommand());
}
