/**
 * Throwaway PKI for the TLS tests, made with the `openssl` command (Debian: package openssl):
 * a CA, a destination certificate for 127.0.0.1/localhost, a source (client) certificate, and a
 * rogue CA with its own source and destination certificates, all P-256, valid for two days.
 * Each credential set is returned as PEM strings; `writeDir` also lays one out as a directory
 * (ca-cert.pem, cert.pem, key.pem) for `--tls-creds DIR`.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TlsCredentials } from '../../src/transport/index.js';

export interface Pki {
  dir: string;
  /** The good CA's certificate. */
  ca: string;
  /** Destination credentials (server certificate, SAN IP:127.0.0.1 and DNS:localhost, CN=livemig-destination). */
  destination: TlsCredentials;
  /** Source credentials (client certificate, CN=livemig-source). */
  source: TlsCredentials;
  /** A source whose certificate comes from another CA (it trusts the good CA, so it can verify the destination). */
  rogueSource: TlsCredentials;
  /** A destination whose certificate comes from another CA. */
  rogueDestination: TlsCredentials;
  /** A destination with a good certificate for another name only (DNS:elsewhere.example). */
  misnamedDestination: TlsCredentials;
  /** Writes a QEMU-style credentials directory (ca-cert.pem, cert.pem, key.pem) for `creds`. */
  writeDir(name: string, creds: TlsCredentials): string;
  remove(): void;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** Makes the PKI in a fresh temporary directory (about 0.2 s). */
export function makePki(): Pki {
  const dir = mkdtempSync(join(tmpdir(), 'livemig-pki-'));
  const key = (name: string) => openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', `${name}.key`], dir);
  const ca = (name: string, cn: string) => {
    key(name);
    openssl(['req', '-x509', '-new', '-key', `${name}.key`, '-days', '2', '-subj', `/CN=${cn}`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-out', `${name}.pem`], dir);
  };
  const leaf = (name: string, cn: string, issuer: string, ext: string) => {
    key(name);
    writeFileSync(join(dir, `${name}.ext`), ext);
    openssl(['req', '-new', '-key', `${name}.key`, '-subj', `/CN=${cn}`, '-out', `${name}.csr`], dir);
    openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', `${issuer}.pem`, '-CAkey', `${issuer}.key`, '-CAcreateserial', '-days', '2', '-extfile', `${name}.ext`, '-out', `${name}.pem`], dir);
  };
  const server = 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n';
  const client = 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=clientAuth\n';
  ca('ca', 'livemig-test-ca');
  ca('rogue-ca', 'livemig-rogue-ca');
  leaf('dst', 'livemig-destination', 'ca', server);
  leaf('src', 'livemig-source', 'ca', client);
  leaf('rogue-src', 'livemig-source', 'rogue-ca', client);
  leaf('rogue-dst', 'livemig-destination', 'rogue-ca', server);
  leaf('misnamed-dst', 'elsewhere', 'ca', server.replace('IP:127.0.0.1,DNS:localhost', 'DNS:elsewhere.example'));
  const read = (f: string) => readFileSync(join(dir, f), 'utf8');
  const caPem = read('ca.pem');
  const creds = (name: string, trust = caPem): TlsCredentials => ({ ca: trust, cert: read(`${name}.pem`), key: read(`${name}.key`) });
  return {
    dir,
    ca: caPem,
    destination: creds('dst'),
    source: creds('src'),
    rogueSource: creds('rogue-src'),
    rogueDestination: creds('rogue-dst'),
    misnamedDestination: creds('misnamed-dst'),
    writeDir(name, c) {
      const d = join(dir, name);
      mkdirSync(d, { recursive: true });
      writeFileSync(join(d, 'ca-cert.pem'), String(c.ca));
      writeFileSync(join(d, 'cert.pem'), String(c.cert));
      writeFileSync(join(d, 'key.pem'), String(c.key));
      return d;
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
