/**
 * A cpio "newc" (SVR4, no checksum) writer: the archive format the Linux kernel unpacks as an
 * initramfs (init/initramfs.c). Only what an initramfs needs: directories, regular files,
 * symlinks and device nodes, each with its permission bits, owned by root, mtime 0 unless
 * given (so the same inputs give the same bytes).
 *
 * Wire layout, one entry after another, then a trailer entry:
 *
 * ```
 *  offset  size  field       (every field is 8 ASCII hex digits, upper or lower case)
 *       0     6  magic       "070701"
 *       6     8  ino         distinct per entry (the kernel links regular files that share
 *                            an ino and have nlink >= 2; we never do)
 *      14     8  mode        file type (S_IFDIR 0o040000, S_IFREG 0o100000, S_IFLNK 0o120000,
 *                            S_IFCHR 0o020000, S_IFBLK 0o060000) | permission bits (0o7777)
 *      22     8  uid
 *      30     8  gid
 *      38     8  nlink       2 for a directory, 1 otherwise
 *      46     8  mtime       seconds since the epoch
 *      54     8  filesize    bytes of data (a symlink's data is its target, without NUL)
 *      62     8  devmajor    device of the archived file: 0
 *      70     8  devminor
 *      78     8  rdevmajor   a device node's own numbers, 0 for other types
 *      86     8  rdevminor
 *      94     8  namesize    bytes of the name including its terminating NUL
 *     102     8  check       0 ("070701" carries no checksum)
 *     110        name, NUL, then NUL padding until (110 + namesize + padding) % 4 == 0
 *                data (filesize bytes), then NUL padding to the next multiple of 4
 * ```
 *
 * The archive ends with an entry named "TRAILER!!!" (every field 0 except nlink 1 and
 * namesize 11). Every header therefore starts at a multiple of 4, as the format requires;
 * the total length is a multiple of 4 too. Names are relative ("bin/sh"): the kernel unpacks
 * into its root whether or not they start with "/".
 */

/** Type bits of a cpio mode (the `S_IF*` constants of `<sys/stat.h>`). */
export const CPIO_TYPE = {
  directory: 0o040000,
  file: 0o100000,
  symlink: 0o120000,
  'char-device': 0o020000,
  'block-device': 0o060000,
} as const;

/** The magic of the newc format without checksums. */
export const CPIO_NEWC_MAGIC = '070701';
/** The name of the entry that ends every archive. */
export const CPIO_TRAILER = 'TRAILER!!!';
/** Bytes of a newc header before the name. */
export const CPIO_HEADER_SIZE = 110;

/** Fields every entry may set; ids and mtime default to 0. */
interface CpioCommon {
  /** Path inside the archive, relative, "/"-separated ("bin/busybox"). */
  name: string;
  /** Permission bits (0o7777 at most); the type bits come from `type`. */
  mode?: number;
  uid?: number;
  gid?: number;
  /** Seconds since the epoch. */
  mtime?: number;
}

/** One archive member. Default modes: directory 0o755, file 0o644, symlink 0o777, device 0o600. */
export type CpioEntry =
  | (CpioCommon & { type: 'directory' })
  | (CpioCommon & { type: 'file'; data: Uint8Array })
  | (CpioCommon & { type: 'symlink'; target: string })
  | (CpioCommon & { type: 'char-device' | 'block-device'; major: number; minor: number });

/** Options of {@link writeCpio}. */
export interface CpioWriteOptions {
  /**
   * Require every entry's parent directory to be an earlier directory entry (default true).
   * The kernel creates files with a plain open(O_CREAT) and mkdir: a member whose directory
   * does not exist yet is silently dropped, so the archive is refused here instead.
   */
  requireParents?: boolean;
}

const DEFAULT_MODE: Record<CpioEntry['type'], number> = {
  directory: 0o755,
  file: 0o644,
  symlink: 0o777,
  'char-device': 0o600,
  'block-device': 0o600,
};

const utf8 = new TextEncoder();

/**
 * Writes `entries`, in order, then the trailer, as one newc archive.
 * Throws a `RangeError` on a name that is empty, absolute, holds a NUL or a "." / ".."
 * component, repeats an earlier name or is the trailer's; on a mode, id, time or device number
 * that does not fit; and (see {@link CpioWriteOptions.requireParents}) on a missing parent.
 */
export function writeCpio(entries: readonly CpioEntry[], options: CpioWriteOptions = {}): Uint8Array {
  const requireParents = options.requireParents ?? true;
  const seen = new Set<string>();
  const directories = new Set<string>();
  const parts: Uint8Array[] = [];
  let ino = 1; // 0 is left to the trailer
  for (const entry of entries) {
    checkName(entry.name, seen);
    if (requireParents) {
      const slash = entry.name.lastIndexOf('/');
      if (slash > 0 && !directories.has(entry.name.slice(0, slash))) {
        throw new RangeError(`cpio: "${entry.name}" comes before its directory "${entry.name.slice(0, slash)}"`);
      }
    }
    seen.add(entry.name);
    if (entry.type === 'directory') directories.add(entry.name);
    const perm = entry.mode ?? DEFAULT_MODE[entry.type];
    if (!Number.isInteger(perm) || perm < 0 || perm > 0o7777) throw new RangeError(`cpio: "${entry.name}": mode ${perm} is not permission bits (0 to 0o7777)`);
    const data = entry.type === 'file' ? entry.data : entry.type === 'symlink' ? utf8.encode(entry.target) : new Uint8Array(0);
    if (entry.type === 'symlink' && (data.length === 0 || data.includes(0))) throw new RangeError(`cpio: symlink "${entry.name}": empty target or NUL in it`);
    const device = entry.type === 'char-device' || entry.type === 'block-device';
    parts.push(header(entry.name, {
      ino: ino++,
      mode: CPIO_TYPE[entry.type] | perm,
      uid: entry.uid ?? 0,
      gid: entry.gid ?? 0,
      nlink: entry.type === 'directory' ? 2 : 1,
      mtime: entry.mtime ?? 0,
      filesize: data.length,
      rdevmajor: device ? entry.major : 0,
      rdevminor: device ? entry.minor : 0,
    }));
    parts.push(data, zeros(pad4(data.length)));
  }
  parts.push(header(CPIO_TRAILER, { ino: 0, mode: 0, uid: 0, gid: 0, nlink: 1, mtime: 0, filesize: 0, rdevmajor: 0, rdevminor: 0 }));

  let length = 0;
  for (const p of parts) length += p.length;
  const out = new Uint8Array(length);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Bytes of NUL padding that bring `n` to a multiple of 4. */
export function pad4(n: number): number {
  return (4 - (n % 4)) % 4;
}

interface HeaderFields {
  ino: number;
  mode: number;
  uid: number;
  gid: number;
  nlink: number;
  mtime: number;
  filesize: number;
  rdevmajor: number;
  rdevminor: number;
}

/** Header, name, NUL and the padding after them. */
function header(name: string, f: HeaderFields): Uint8Array {
  const nameBytes = utf8.encode(name);
  const namesize = nameBytes.length + 1;
  const fields = [f.ino, f.mode, f.uid, f.gid, f.nlink, f.mtime, f.filesize, 0, 0, f.rdevmajor, f.rdevminor, namesize, 0];
  const text = CPIO_NEWC_MAGIC + fields.map((v, i) => hex8(v, FIELD_NAMES[i]!, name)).join('');
  const out = new Uint8Array(CPIO_HEADER_SIZE + namesize + pad4(CPIO_HEADER_SIZE + namesize));
  for (let i = 0; i < CPIO_HEADER_SIZE; i++) out[i] = text.charCodeAt(i);
  out.set(nameBytes, CPIO_HEADER_SIZE); // the NUL and the padding are the array's zeros
  return out;
}

const FIELD_NAMES = ['ino', 'mode', 'uid', 'gid', 'nlink', 'mtime', 'filesize', 'devmajor', 'devminor', 'rdevmajor', 'rdevminor', 'namesize', 'check'];

function hex8(v: number, field: string, name: string): string {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new RangeError(`cpio: "${name}": ${field} ${v} does not fit 8 hex digits`);
  return v.toString(16).padStart(8, '0');
}

function checkName(name: string, seen: ReadonlySet<string>): void {
  if (name.length === 0) throw new RangeError('cpio: empty name');
  if (name.startsWith('/')) throw new RangeError(`cpio: "${name}": names are relative`);
  if (name.includes('\0')) throw new RangeError(`cpio: "${name}": NUL in name`);
  if (name.split('/').some((c) => c === '' || c === '.' || c === '..')) throw new RangeError(`cpio: "${name}": empty, "." or ".." component`);
  if (name === CPIO_TRAILER) throw new RangeError(`cpio: "${name}" is the trailer's name`);
  if (seen.has(name)) throw new RangeError(`cpio: "${name}" twice`);
}

function zeros(n: number): Uint8Array {
  return new Uint8Array(n);
}
