import { Option, type Command } from 'commander';

/** The password-source options shared by init-db, user add and user reset. */
export function addPasswordOptions(cmd: Command): Command {
  return cmd
    .option('--password-stdin', 'read the password from standard input')
    .option('--password-file <path>', 'read the password from a file')
    .option('--generate-password', 'generate a 20-character password and show it once')
    .option('--allow-weak-password', 'accept a password the policy refuses (recorded in the audit log)')
    .addOption(new Option('--rounds <n>', 'bcrypt cost, 10 to 15 (default 12, or AUTHCTL_BCRYPT_ROUNDS)'));
}
