import { Command } from 'commander';
import { gpustackCheckCommand } from './check.js';
import { gpustackSyncCommand } from './sync.js';

export function gpustackCommand(): Command {
  return new Command('gpustack')
    .description('check the GPUStack connection and sync GPUStack users into the app')
    .addCommand(gpustackCheckCommand())
    .addCommand(gpustackSyncCommand());
}
