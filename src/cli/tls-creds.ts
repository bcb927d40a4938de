/**
 * `--tls-creds DIR`: TLS credentials from a directory laid out like QEMU's tls-creds-x509
 * (`-object tls-creds-x509,dir=DIR`): `ca-cert.pem` (the CA that signs the peer), and this
 * side's certificate and key as `server-cert.pem`/`server-key.pem` (destination) or
 * `client-cert.pem`/`client-key.pem` (source), falling back to `cert.pem`/`key.pem`.
 * Both ends authenticate each other: a destination refuses a source whose certificate the CA
 * did not sign, and a source refuses such a destination.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidArgumentError } from '../errors.js';
import type { TlsCredentials } from '../transport/index.js';

/** Which end loads the credentials: the destination is QEMU's TLS server, the source its client. */
export type TlsRole = 'server' | 'client';

/**
 * Reads the credentials for `role` from `dir`.
 * @throws InvalidArgumentError naming the directory and the missing or unreadable file.
 */
export function loadTlsCreds(dir: string, role: TlsRole): TlsCredentials {
  const read = (names: readonly string[]): string => {
    for (const name of names) {
      try {
        return readFileSync(join(dir, name), 'utf8');
      } catch (e) {
        const code = (e as { code?: string }).code;
        if (code !== 'ENOENT') throw new InvalidArgumentError(`--tls-creds ${dir}: cannot read ${name}: ${(e as Error).message}`, { cause: e });
      }
    }
    throw new InvalidArgumentError(`--tls-creds ${dir}: none of ${names.join(', ')} exists`);
  };
  return {
    ca: read(['ca-cert.pem']),
    cert: read([`${role}-cert.pem`, 'cert.pem']),
    key: read([`${role}-key.pem`, 'key.pem']),
  };
}
