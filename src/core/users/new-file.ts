import fs from 'node:fs';

/**
 * Writes the whole text of a file this run has just created (O_EXCL), and
 * syncs it. fs.writeSync writes a string once and returns how much it wrote:
 * on a full disk that is less than all of it, and nothing fails. So the
 * bytes are written until none are left, and a short write ends in the
 * error of the next one (ENOSPC). On any failure the file, which is this
 * run's, is removed before `failed`'s error is thrown: a cut-off passwords
 * file or export never stays behind looking whole.
 */
export function fillNewFile(file: string, fd: number, text: string, failed: (err: NodeJS.ErrnoException) => Error, mode?: number): void {
  try {
    // The umask may have taken bits away; a file of secrets gets exactly its mode whatever it is.
    if (mode !== undefined) fs.fchmodSync(fd, mode);
    const bytes = Buffer.from(text, 'utf8');
    for (let done = 0; done < bytes.length; ) done += fs.writeSync(fd, bytes, done, bytes.length - done);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
  } catch (err) {
    try {
      fs.closeSync(fd);
    } catch {
      // Already closed: the close itself failed.
    }
    fs.rmSync(file, { force: true });
    throw failed(err as NodeJS.ErrnoException);
  }
}
