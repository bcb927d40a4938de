/**
 * The PC's command-line flags (QEMU's names where QEMU has one) and the PC they build:
 * `--machine pc` with `--ram`, `--bios`, `--fda`, `--hda`, `--kernel`, `--initrd`, `--append`,
 * `--boot-sector` (one of livemig's boot-sector guests) and `--serial`.
 */
import { Option } from 'commander';
import { InvalidArgumentError } from '../errors.js';
import { BOOT_IMAGES, PcMachine, floppyImage, isBootImageName, resolvePcOptions } from '../guest/index.js';
import { choiceOption } from './options.js';

export type MachineName = 'synthetic' | 'pc';

/** What the PC flags give. */
export interface PcFlags {
  machine: MachineName;
  bios?: string | undefined;
  fda?: string | undefined;
  hda?: string | undefined;
  kernel?: string | undefined;
  initrd?: string | undefined;
  append?: string | undefined;
  bootSector?: string | undefined;
  serial: string;
}

/** `--machine`, then the PC's own flags. */
export function pcFlagOptions(): Option[] {
  return [
    new Option('--machine <kind>', 'synthetic (worker threads writing patterns) or pc (an x86 PC emulated by v86)').default('synthetic').argParser(choiceOption('--machine', ['synthetic', 'pc'] as const)),
    new Option('--bios <file>', 'pc: the BIOS image (default Debian seabios\'s /usr/share/seabios/bios.bin)'),
    new Option('--fda <file>', 'pc: a floppy image to boot'),
    new Option('--hda <file>', 'pc: a raw hard disk image'),
    new Option('--kernel <bzImage>', 'pc: a Linux kernel to boot'),
    new Option('--initrd <file>', 'pc: an initial ramdisk for --kernel'),
    new Option('--append <cmdline>', 'pc: the kernel command line'),
    new Option('--boot-sector <name>', `pc: boot one of livemig's own boot-sector guests (${Object.keys(BOOT_IMAGES).join(', ')})`),
    new Option('--serial <where>', 'pc: the guest\'s COM1: stdio, file:PATH or none').default('none'),
  ];
}

/**
 * Builds and starts the PC the flags describe.
 * @throws InvalidArgumentError for flags that do not go together or files that are missing.
 */
export async function startPc(f: PcFlags, ramBytes: number, serial: ((byte: number) => void) | undefined): Promise<PcMachine> {
  let bootImage: { name: string; floppy: Uint8Array } | undefined;
  if (f.bootSector !== undefined) {
    if (!isBootImageName(f.bootSector)) throw new InvalidArgumentError(`--boot-sector must be one of ${Object.keys(BOOT_IMAGES).join(', ')}, got '${f.bootSector}'`);
    bootImage = { name: f.bootSector, floppy: floppyImage(f.bootSector) };
  }
  const { config, media } = resolvePcOptions({
    ramBytes,
    ...(f.bios !== undefined ? { bios: f.bios } : {}),
    ...(f.fda !== undefined ? { fda: f.fda } : {}),
    ...(f.hda !== undefined ? { hda: f.hda } : {}),
    ...(f.kernel !== undefined ? { kernel: f.kernel } : {}),
    ...(f.initrd !== undefined ? { initrd: f.initrd } : {}),
    ...(f.append !== undefined ? { append: f.append } : {}),
    ...(bootImage ? { bootImage } : {}),
  });
  return PcMachine.create(config, media, serial ? { serial } : {});
}

/** @throws InvalidArgumentError when a PC flag is given without `--machine pc`. */
export function checkPcFlagsUnused(f: PcFlags): void {
  const given = (['bios', 'fda', 'hda', 'kernel', 'initrd', 'append', 'bootSector'] as const).filter((k) => f[k] !== undefined);
  if (f.serial !== 'none') given.push('serial' as never);
  if (given.length > 0) throw new InvalidArgumentError(`--${given[0]!.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())} needs --machine pc`);
}
