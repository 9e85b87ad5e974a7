/**
 * Exclusive files with their content complete from the first moment: the journal's lock and the
 * machine-wide GPU claims. The content goes to a private temporary file first, which is then
 * hard-linked to the final name (link(2) fails with EEXIST when the name is taken, like O_EXCL).
 * So a reader never sees an empty or half-written lock, and a full disk (ENOSPC) fails before the
 * name exists, instead of leaving an empty file that later looks like a lock held by nobody knows
 * whom.
 */
import { closeSync, constants, fstatSync, linkSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';

/** Creates `path` holding `content`; false when it already exists. Other errors (ENOSPC, EACCES) are thrown. */
export function createExclusive(path: string, content: string, mode = 0o600): boolean {
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | (constants.O_NOFOLLOW ?? 0), mode);
  try {
    try {
      writeSync(fd, content);
    } finally {
      closeSync(fd);
    }
    linkSync(tmp, path);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  } finally {
    try {
      unlinkSync(tmp);
    } catch {
      /* never created, or already gone */
    }
  }
}

/**
 * Reads an exclusive file without following a symlink (Chase never makes one there: a link is
 * someone else's doing and is not trusted). Undefined when it does not exist (any more).
 */
export function readExclusive(path: string): { content: string; mtimeMs: number; uid: number; symlink: boolean } | undefined {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    if (code === 'ELOOP') return { content: '', mtimeMs: 0, uid: -1, symlink: true };
    throw e;
  }
  try {
    const st = fstatSync(fd);
    return { content: readFileSync(fd, 'utf8'), mtimeMs: st.mtimeMs, uid: st.uid, symlink: false };
  } finally {
    closeSync(fd);
  }
}
