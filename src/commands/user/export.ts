import { Option } from 'commander';
import { usageError } from '../../core/errors/errors.js';
import type { ExportRow, ExportScope } from '../../core/users/export.js';
import type { ImportFormat } from '../../core/users/import-rows.js';
import { defineCommand } from '../define.js';
import { givenValue } from '../options.js';
import { fileFormat } from './file-format.js';

interface ExportInput {
  format: ImportFormat;
  scope: ExportScope;
  output?: string;
  includeHashes: boolean;
}

interface ExportResult {
  count: number;
  format: ImportFormat;
  includeHashes: boolean;
  /** The file written with -o, or null when the users went to stdout. */
  file: string | null;
  /** The users themselves, when there was no -o. */
  users?: ExportRow[];
}

export const exportCommand = () =>
  defineCommand<ExportInput, ExportResult>({
    name: 'export',
    description: 'write active users (see --inactive, --all) as CSV, JSON or NDJSON that `user import` reads back',
    examples: [
      'authctl user export --all -o users.csv',
      'authctl user export --format ndjson --inactive',
      'authctl user export --all --include-hashes -o users-with-hashes.json',
    ],
    options: (cmd) =>
      cmd
        .addOption(new Option('--format <format>', 'the output format (default: from the -o file name, else csv)').choices(['csv', 'json', 'ndjson']))
        .option('--all', 'active and disabled users')
        .option('--inactive', 'only disabled users')
        .option('-o, --output <file>', 'write to this new file instead of standard output (never overwritten)')
        .option('--include-hashes', 'add the password_hash column (the file gets mode 0600)'),
    parse: ({ opts }) => {
      if (opts.inactive && opts.all) throw usageError('--inactive and --all contradict each other.', 'Use one of them.');
      const output = givenValue(opts.output as string | undefined, '--output', 'a file path');
      return {
        format: fileFormat(opts.format, output, 'csv'),
        scope: opts.all ? 'all' : opts.inactive ? 'inactive' : 'active',
        output,
        includeHashes: Boolean(opts.includeHashes),
      };
    },
    needs: 'ready',
    run: async ({ db, out }, input) => {
      const { selectExportRows, serialiseUsers, writeExportFile } = await import('../../core/users/export.js');
      const users = await selectExportRows(db, input.scope, input.includeHashes);
      if (input.includeHashes) {
        out.warn('The export holds password hashes: anyone with the file can try to crack them. Keep it private and delete it after use.');
      }
      const result: ExportResult = { count: users.length, format: input.format, includeHashes: input.includeHashes, file: input.output ?? null };
      if (input.output === undefined) return { ...result, users };
      writeExportFile(input.output, serialiseUsers(users, input.format, input.includeHashes), input.includeHashes);
      return result;
    },
    render: async (result, out) => {
      if (result.users) {
        const { serialiseUsers } = await import('../../core/users/export.js');
        await out.data(serialiseUsers(result.users, result.format, result.includeHashes));
        return;
      }
      out.info(`Exported ${result.count} users to ${result.file}${result.includeHashes ? ' (mode 0600)' : ''}.`);
    },
  });
