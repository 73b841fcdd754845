import { Option } from 'commander';
import { usageError } from '../../core/errors/errors.js';
import type { ImportFormat } from '../../core/users/import-rows.js';
import type { ImportResult, MissingPassword, OnConflict } from '../../core/users/import.js';
import type { Output } from '../../terminal/output.js';
import { defineCommand } from '../define.js';
import { givenValue } from '../options.js';
import { fileFormat } from './file-format.js';

interface ImportInput {
  file: string;
  format: ImportFormat;
  onConflict: OnConflict;
  missingPassword: MissingPassword;
  passwordsOut?: string;
  allowWeakPassword: boolean;
  rounds?: string;
  dryRun: boolean;
}

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** The first names of a long list, for people. */
function names(list: string[], max = 20): string {
  return list.slice(0, max).join(', ') + (list.length > max ? `, … (${list.length - max} more)` : '');
}

function renderImport(r: ImportResult, out: Output, input: ImportInput): void {
  const counts = `${r.created} to create, ${r.updated} to update, ${r.skipped} to skip`;
  if (r.dryRun) out.line(out.c.bold('Dry run, nothing written: ') + counts + (r.passwordsGenerated ? ` (${r.passwordsGenerated} generated passwords)` : '') + '.');
  else out.success(`Imported users: ${r.created} created, ${r.updated} updated, ${r.skipped} skipped.`);
  if (r.createdUsers.length) out.line(`  ${r.dryRun ? 'create' : 'created'}: ${names(r.createdUsers)}`);
  if (r.updatedUsers.length) out.line(`  ${r.dryRun ? 'update' : 'updated'}: ${names(r.updatedUsers)}`);
  if (r.skippedUsers.length) out.line(`  ${r.dryRun ? 'skip (already there)' : 'skipped (already there)'}: ${names(r.skippedUsers)}`);
  if (r.sessionsRevoked) out.info(`Revoked ${r.sessionsRevoked} sessions of updated users (new password, demoted or disabled).`);
  if (input.allowWeakPassword && !r.dryRun) out.warn('The password policy was overridden with --allow-weak-password; this is recorded in the audit log.');
  if (r.passwordsFile) out.info(`Wrote ${r.passwordsGenerated} generated passwords to ${r.passwordsFile} (mode 0600); store them safely and delete the file.`);
  for (const p of r.passwords ?? []) out.secret(`Password for ${p.username} (shown once)`, p.password);
}

export const importCommand = () =>
  defineCommand<ImportInput, ImportResult>({
    name: 'import',
    description: 'create or update users from a CSV, JSON or NDJSON file, all in one transaction',
    examples: [
      'authctl user import users.csv --generate-passwords --passwords-out pw.csv',
      'authctl user import users.ndjson --on-conflict update --dry-run',
      'authctl user import old-server-users.csv --on-conflict skip',
      'cat users.json | authctl user import - --format json --no-password --json',
    ],
    arguments: [{ name: '<file>', description: 'the file to read, or - for standard input (CSV unless --format says otherwise)' }],
    options: (cmd) =>
      cmd
        .addOption(new Option('--format <format>', 'the file\'s format (default: from the file name)').choices(['csv', 'json', 'ndjson']))
        .addOption(new Option('--on-conflict <mode>', 'when a username or email exists').choices(['fail', 'skip', 'update']).default('fail'))
        .option('--generate-passwords', 'new users without a password get a generated one')
        .option('--no-password', 'new users without a password get none (GPUStack login only)')
        .option('--passwords-out <path>', 'write generated passwords to this new file (mode 0600) instead of showing them')
        .option('--allow-weak-password', 'accept plaintext passwords the policy refuses (recorded in the audit log)')
        .option('--rounds <n>', 'bcrypt cost, 10 to 15 (default: 12, or AUTHCTL_BCRYPT_ROUNDS)')
        .option('--dry-run', 'show what would be created, updated and skipped; write nothing'),
    parse: ({ args, opts }) => {
      const file = givenValue(args[0] as string, 'user import', 'a file path (or - for standard input)')!;
      const onConflict = opts.onConflict as string;
      if (onConflict !== 'fail' && onConflict !== 'skip' && onConflict !== 'update') {
        throw usageError(`--on-conflict must be fail, skip or update, not "${onConflict}".`);
      }
      const noPassword = opts.password === false;
      if (noPassword && opts.generatePasswords) throw usageError('--generate-passwords and --no-password contradict each other.', 'Use one of them.');
      if (opts.passwordsOut !== undefined && !opts.generatePasswords) {
        throw usageError('--passwords-out only takes generated passwords.', 'Add --generate-passwords, or leave --passwords-out out.');
      }
      return {
        file,
        format: fileFormat(opts.format, file === '-' ? undefined : file, file === '-' ? 'csv' : null),
        onConflict,
        missingPassword: opts.generatePasswords ? 'generate' : noPassword ? 'none' : 'error',
        passwordsOut: givenValue(opts.passwordsOut as string | undefined, '--passwords-out', 'a file path'),
        allowWeakPassword: Boolean(opts.allowWeakPassword),
        rounds: opts.rounds as string | undefined,
        dryRun: Boolean(opts.dryRun),
      };
    },
    needs: 'ready',
    run: async ({ db }, input) => {
      const { assertPasswordsPrivate, decodeImport, readImportFile, readPrivateRecords, validateRecords } = await import('../../core/users/import-rows.js');
      const { assertPasswordsOutFree, importUsers } = await import('../../core/users/import.js');
      const { resolveRounds } = await import('../../core/passwords/password.js');
      const rounds = resolveRounds(input.rounds, process.env);
      if (input.passwordsOut !== undefined) assertPasswordsOutFree(input.passwordsOut);
      let source;
      if (input.file === '-') {
        if (process.stdin.isTTY) throw usageError('`-` reads the import from standard input, but that is a terminal.', 'Pipe the file in, or give its path.');
        source = { text: decodeImport(await readStdin(), 'standard input'), mode: null };
      } else {
        source = readImportFile(input.file);
      }
      const what = input.file === '-' ? 'standard input' : input.file;
      const records = readPrivateRecords(source, input.format, what, input.file);
      assertPasswordsPrivate(records, source, input.file, input.format);
      const rows = validateRecords(records, { allowWeakPassword: input.allowWeakPassword }, what);
      return importUsers(db, rows, {
        onConflict: input.onConflict,
        missingPassword: input.missingPassword,
        rounds,
        dryRun: input.dryRun,
        weakPasswordAllowed: input.allowWeakPassword,
        passwordsOut: input.passwordsOut,
        source: input.file,
        format: input.format,
      });
    },
    render: renderImport,
  });
