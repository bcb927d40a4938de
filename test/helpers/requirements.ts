/**
 * Tests that need something npm does not install (a browser, openssl, iproute2 and root, QEMU,
 * SeaBIOS, nasm, ...) declare it here, once, as node:test options:
 *
 *     test('renders', requires.chromium(), async () => { ... });
 *     describe('over TLS', requirement('openssl', hasCommand('openssl'), 'apt-get install -y openssl'), () => { ... });
 *
 * When the thing is there, the options are `{}` and the test runs. When it is missing, the test
 * is skipped with a one-line reason (shown by the spec reporter and listed again at the end of
 * `npm test`), so `npm test` passes on a machine with Node alone. With LIVEMIG_REQUIRE_ALL=1
 * (CI sets it) a missing requirement is a failure instead: the test is still skipped, and a
 * failing test "missing requirement: NAME" is declared beside it (once per file), whose error
 * names what is missing and how to install it; the file's other tests run as usual. Call it
 * where tests are declared (top level or a describe callback), not inside a running test.
 */
import { accessSync, constants, existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { test } from 'node:test';

/** The node:test options of a test that has a requirement (`{}` when it is met). */
export interface RequirementOptions {
  skip?: string;
}

/** True when LIVEMIG_REQUIRE_ALL=1: a missing requirement fails instead of skipping. */
export const REQUIRE_ALL = process.env['LIVEMIG_REQUIRE_ALL'] === '1';

/** The error a missing requirement raises under LIVEMIG_REQUIRE_ALL=1. */
export class MissingRequirementError extends Error {
  override readonly name = 'MissingRequirementError';
}

const failed = new Set<string>();

/**
 * Options for a test that needs `name`: `{}` when `present`; otherwise `{ skip: reason }`, and
 * under LIVEMIG_REQUIRE_ALL=1 also a failing test whose MissingRequirementError names `name`
 * and `installHint`.
 */
export function requirement(name: string, present: boolean, installHint: string): RequirementOptions {
  if (present) return {};
  if (REQUIRE_ALL && !failed.has(name)) {
    failed.add(name);
    test(`missing requirement: ${name}`, () => {
      const e = new MissingRequirementError(`LIVEMIG_REQUIRE_ALL=1 and ${name} is missing: ${installHint}`);
      e.stack = `${e.name}: ${e.message}`;
      throw e;
    });
  }
  return { skip: `needs ${name}, not found (${installHint})` };
}

/** The full path of an executable `command` on PATH (or `command` itself when it holds a slash), else undefined. */
export function findCommand(command: string, path = process.env['PATH'] ?? ''): string | undefined {
  const executable = (p: string): boolean => {
    try {
      accessSync(p, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  };
  if (command.includes('/')) return executable(command) ? command : undefined;
  for (const dir of path.split(delimiter)) {
    if (dir !== '' && executable(join(dir, command))) return join(dir, command);
  }
  return undefined;
}

/** True when `command` is an executable on PATH. */
export function hasCommand(command: string): boolean {
  return findCommand(command) !== undefined;
}

/** Chromium for headless rendering: LIVEMIG_CHROMIUM if set, else `chromium` or `chromium-browser` on PATH. */
export function chromiumPath(): string | undefined {
  const forced = process.env['LIVEMIG_CHROMIUM'];
  return forced !== undefined ? findCommand(forced) : findCommand('chromium') ?? findCommand('chromium-browser');
}

/** QEMU's x86 system emulator: LIVEMIG_QEMU if set, else `qemu-system-x86_64` on PATH. */
export function qemuPath(): string | undefined {
  const forced = process.env['LIVEMIG_QEMU'];
  return forced !== undefined ? findCommand(forced) : findCommand('qemu-system-x86_64');
}

/** SeaBIOS's 256 KiB image as Debian installs it (LIVEMIG_SEABIOS overrides the path). */
export function seabiosPath(): string | undefined {
  const p = process.env['LIVEMIG_SEABIOS'] ?? '/usr/share/seabios/bios-256k.bin';
  return existsSync(p) ? p : undefined;
}

const isRoot = (): boolean => process.getuid?.() === 0;

/** The requirements of this suite's tests, each with its Debian package (what `.ci/run` installs). */
export const requires = {
  /** Headless Chromium (renders the HTML reports). */
  chromium: (): RequirementOptions => requirement('Chromium', chromiumPath() !== undefined, 'apt-get install -y chromium, or point LIVEMIG_CHROMIUM at a Chromium binary'),
  /** The openssl command (throwaway TLS certificates). */
  openssl: (): RequirementOptions => requirement('openssl', hasCommand('openssl'), 'apt-get install -y openssl'),
  /** Root and iproute2's ip and tc (network namespaces joined by a shaped veth pair). */
  netns: (): RequirementOptions => requirement('root and iproute2 (ip, tc)', isRoot() && hasCommand('ip') && hasCommand('tc'), 'apt-get install -y iproute2, and run the tests as root'),
  /** script(1) from util-linux (a pseudo-terminal for the monitor). */
  script: (): RequirementOptions => requirement('script(1)', hasCommand('script'), 'apt-get install -y bsdutils'),
  /** mkfifo(1) from coreutils (a named pipe). */
  mkfifo: (): RequirementOptions => requirement('mkfifo(1)', hasCommand('mkfifo'), 'apt-get install -y coreutils'),
  /** /dev/full (writes to it fail with ENOSPC). */
  devFull: (): RequirementOptions => requirement('/dev/full', existsSync('/dev/full'), 'a Linux /dev (mknod -m 666 /dev/full c 1 7)'),
  /** QEMU's x86 system emulator. */
  qemu: (): RequirementOptions => requirement('qemu-system-x86_64', qemuPath() !== undefined, 'apt-get install -y qemu-system-x86, or point LIVEMIG_QEMU at it'),
  /** SeaBIOS's bios-256k.bin. */
  seabios: (): RequirementOptions => requirement('SeaBIOS (bios-256k.bin)', seabiosPath() !== undefined, 'apt-get install -y seabios, or point LIVEMIG_SEABIOS at bios-256k.bin'),
  /** The nasm assembler. */
  nasm: (): RequirementOptions => requirement('nasm', hasCommand('nasm'), 'apt-get install -y nasm'),
};
