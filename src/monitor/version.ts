/**
 * livemig's version, for the QMP greeting, `query-version` and the HMP banner: read once from
 * the package.json the build sits in (dist/src/monitor → the package root).
 */
import { readFileSync } from 'node:fs';

function readVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { name?: unknown; version?: unknown };
    if (pkg.name === 'livemig' && typeof pkg.version === 'string' && /^\d+\.\d+\.\d+/.test(pkg.version)) return pkg.version;
  } catch {
    /* not in a package layout: fall through */
  }
  return '0.0.0';
}

/** e.g. "0.1.0". */
export const LIVEMIG_VERSION: string = readVersion();

/** The version as QMP's `{major, minor, micro}`. */
export function versionTriple(version = LIVEMIG_VERSION): { major: number; minor: number; micro: number } {
  const [major = 0, minor = 0, micro = 0] = version.split(/[.-]/).slice(0, 3).map((p) => Number.parseInt(p, 10) || 0);
  return { major, minor, micro };
}
