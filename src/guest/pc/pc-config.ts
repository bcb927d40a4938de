/**
 * The x86 PC's configuration: what `livemig run --machine pc` was given (RAM, firmware, boot
 * media, kernel), in the form that travels to the destination in the livemig-machine section.
 * Small files (a boot sector, a floppy) travel whole; large ones (a kernel, an initrd, a disk)
 * travel as their size and SHA-256, and the destination reads them from the same path and
 * checks them, so that a missing or different file is named before any RAM is sent.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { InvalidArgumentError, LivemigError } from '../../errors.js';

/** Debian's SeaBIOS, which v86 boots (package `seabios`). */
export const DEFAULT_BIOS_PATH = '/usr/share/seabios/bios.bin';
/** Files up to this size travel inside the configuration. */
export const INLINE_FILE_MAX_BYTES = 256 * 1024;
/** v86 allocates RAM in 128 KiB units; livemig takes whole MiB, 16 MiB to 2 GiB. */
export const PC_MIN_RAM_BYTES = 16 * 1024 * 1024;
export const PC_MAX_RAM_BYTES = 2047 * 1024 * 1024;

/** A file the PC needs, as it travels: always its size and digest, its bytes when small. */
export interface PcFile {
  /** The source's absolute path (where the destination looks for a large file). */
  path: string;
  sizeBytes: number;
  sha256: string;
  /** Base64 bytes, for files up to {@link INLINE_FILE_MAX_BYTES}. */
  data?: string;
}

/** The PC's configuration (JSON). */
export interface PcConfig {
  ramBytes: number;
  bios: PcFile;
  fda?: PcFile;
  hda?: PcFile;
  kernel?: PcFile;
  initrd?: PcFile;
  append?: string;
  /** A boot-sector guest of livemig's own, by name ('stride', 'load2011'), when one was booted. */
  bootImage?: string;
}

/** What the user names on the command line (or in the library), before the files are read. */
export interface PcOptions {
  ramBytes: number;
  /** Default {@link DEFAULT_BIOS_PATH}. */
  bios?: string;
  fda?: string;
  hda?: string;
  kernel?: string;
  initrd?: string;
  append?: string;
  /** Boot one of livemig's boot-sector guests from a floppy (instead of `fda`). */
  bootImage?: { name: string; floppy: Uint8Array };
}

/** The files' bytes, read once on each side. */
export interface PcMedia {
  bios: Uint8Array;
  fda?: Uint8Array;
  hda?: Uint8Array;
  kernel?: Uint8Array;
  initrd?: Uint8Array;
}

const FILE_ROLES = ['bios', 'fda', 'hda', 'kernel', 'initrd'] as const;
type FileRole = (typeof FILE_ROLES)[number];

const ROLE_FLAG: Record<FileRole, string> = { bios: '--bios', fda: '--fda', hda: '--hda', kernel: '--kernel', initrd: '--initrd' };

/**
 * Reads every file the options name and makes the configuration that travels.
 * @throws InvalidArgumentError for a bad RAM size, a missing file (the BIOS: naming Debian's
 *   `seabios` package), or options that do not go together.
 */
export function resolvePcOptions(o: PcOptions): { config: PcConfig; media: PcMedia } {
  checkPcRam(o.ramBytes);
  if (o.initrd !== undefined && o.kernel === undefined) throw new InvalidArgumentError('--initrd needs --kernel');
  if (o.append !== undefined && o.kernel === undefined) throw new InvalidArgumentError('--append needs --kernel');
  if (o.bootImage !== undefined && o.fda !== undefined) throw new InvalidArgumentError('a boot-sector guest boots from the floppy: leave out --fda');
  if (o.bootImage === undefined && o.fda === undefined && o.hda === undefined && o.kernel === undefined) {
    throw new InvalidArgumentError('the PC has nothing to boot: give --fda, --hda or --kernel (or a boot-sector guest)');
  }
  const media: Partial<PcMedia> = {};
  const config: Partial<PcConfig> = { ramBytes: o.ramBytes };
  const biosPath = o.bios ?? DEFAULT_BIOS_PATH;
  if (!existsSync(biosPath)) {
    throw new InvalidArgumentError(o.bios === undefined
      ? `no BIOS at ${DEFAULT_BIOS_PATH}: install Debian's seabios package (apt-get install seabios) or give --bios FILE`
      : `--bios ${biosPath}: no such file`);
  }
  for (const role of FILE_ROLES) {
    const path = role === 'bios' ? biosPath : o[role];
    if (path === undefined) continue;
    const bytes = readUserFile(path, ROLE_FLAG[role]);
    media[role] = bytes;
    config[role] = describeFile(resolve(path), bytes);
  }
  if (o.bootImage !== undefined) {
    media.fda = o.bootImage.floppy;
    config.fda = describeFile(`(livemig boot image ${o.bootImage.name})`, o.bootImage.floppy);
    config.bootImage = o.bootImage.name;
  }
  if (o.append !== undefined) config.append = o.append;
  return { config: config as PcConfig, media: media as PcMedia };
}

/**
 * The destination's side: checks a configuration that arrived and finds each file's bytes
 * (inline, or at the source's path with the same digest).
 * @throws LivemigError GUEST_STATE naming the file that is missing or differs.
 */
export function pcMediaFromConfig(value: unknown): { config: PcConfig; media: PcMedia } {
  const config = checkPcConfig(value);
  const media: Partial<PcMedia> = {};
  for (const role of FILE_ROLES) {
    const f = config[role];
    if (f === undefined) continue;
    media[role] = fileBytes(f, role);
  }
  return { config, media: media as PcMedia };
}

/** @throws InvalidArgumentError unless `ramBytes` is whole MiB within the PC's bounds. */
export function checkPcRam(ramBytes: number): number {
  if (!Number.isSafeInteger(ramBytes) || ramBytes % (1024 * 1024) !== 0 || ramBytes < PC_MIN_RAM_BYTES || ramBytes > PC_MAX_RAM_BYTES) {
    throw new InvalidArgumentError(`the PC's RAM must be whole MiB from ${PC_MIN_RAM_BYTES >> 20} MiB to ${PC_MAX_RAM_BYTES >> 20} MiB, got ${ramBytes} bytes`);
  }
  return ramBytes;
}

function readUserFile(path: string, flag: string): Uint8Array {
  try {
    return new Uint8Array(readFileSync(path));
  } catch (e) {
    throw new InvalidArgumentError(`${flag} ${path}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`, { cause: e });
  }
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function describeFile(path: string, bytes: Uint8Array): PcFile {
  const f: PcFile = { path, sizeBytes: bytes.length, sha256: sha256(bytes) };
  if (bytes.length <= INLINE_FILE_MAX_BYTES) f.data = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('base64');
  return f;
}

function fileBytes(f: PcFile, role: FileRole): Uint8Array {
  const what = `the guest's ${role} (${basename(f.path)}, ${f.sizeBytes} bytes, sha256 ${f.sha256.slice(0, 16)}…)`;
  let bytes: Uint8Array;
  if (f.data !== undefined) {
    bytes = new Uint8Array(Buffer.from(f.data, 'base64'));
  } else {
    try {
      bytes = new Uint8Array(readFileSync(f.path));
    } catch {
      throw new LivemigError('GUEST_STATE', `${what} is not at ${f.path} on this host: copy it there to receive this PC`);
    }
  }
  if (bytes.length !== f.sizeBytes || sha256(bytes) !== f.sha256) {
    throw new LivemigError('GUEST_STATE', `${what}: ${f.data !== undefined ? 'the inline copy' : `the file at ${f.path}`} differs (${bytes.length} bytes, sha256 ${sha256(bytes).slice(0, 16)}…)`);
  }
  return bytes;
}

function checkPcConfig(v: unknown): PcConfig {
  const bad = (why: string): never => {
    throw new LivemigError('STREAM_INVALID', `PC configuration: ${why}`);
  };
  if (typeof v !== 'object' || v === null) return bad('not an object');
  const c = v as Record<string, unknown>;
  if (typeof c['ramBytes'] !== 'number') return bad('ramBytes is not a number');
  try {
    checkPcRam(c['ramBytes']);
  } catch (e) {
    return bad((e as Error).message);
  }
  if (c['bios'] === undefined) return bad('no bios');
  for (const role of FILE_ROLES) {
    const f = c[role];
    if (f === undefined) continue;
    if (typeof f !== 'object' || f === null) return bad(`${role} is not an object`);
    const { path, sizeBytes, sha256: digest, data } = f as Record<string, unknown>;
    if (typeof path !== 'string' || typeof sizeBytes !== 'number' || !Number.isSafeInteger(sizeBytes) || sizeBytes < 0 || typeof digest !== 'string' || !/^[0-9a-f]{64}$/.test(digest)) return bad(`${role} needs path, sizeBytes and sha256`);
    if (data !== undefined && (typeof data !== 'string' || data.length > ((INLINE_FILE_MAX_BYTES + 2) / 3) * 4 + 4)) return bad(`${role}.data is not base64 of at most ${INLINE_FILE_MAX_BYTES} bytes`);
  }
  if (c['append'] !== undefined && typeof c['append'] !== 'string') return bad('append is not a string');
  if (c['bootImage'] !== undefined && typeof c['bootImage'] !== 'string') return bad('bootImage is not a string');
  return c as unknown as PcConfig;
}
