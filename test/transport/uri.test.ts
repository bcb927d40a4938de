/** Migration URI parsing and formatting: every good form, and a clear error for every bad one. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { formatMigrationUri, parseMigrationUri, TransportError, type MigrationUri } from '../../src/transport/index.js';

function rejects(uri: string, pattern: RegExp): void {
  assert.throws(
    () => parseMigrationUri(uri),
    (err: unknown) => {
      assert.ok(err instanceof TransportError, `expected a TransportError for ${JSON.stringify(uri)}`);
      assert.equal(err.code, 'TRANSPORT_INVALID');
      assert.match(err.message, pattern);
      return true;
    },
  );
}

describe('parseMigrationUri', () => {
  const good: Array<[string, MigrationUri]> = [
    ['tcp:127.0.0.1:4444', { kind: 'tcp', host: '127.0.0.1', port: 4444 }],
    ['tcp:localhost:0', { kind: 'tcp', host: 'localhost', port: 0 }],
    ['tcp:dst-host.example.com:65535', { kind: 'tcp', host: 'dst-host.example.com', port: 65535 }],
    ['tcp:[::1]:4444', { kind: 'tcp', host: '::1', port: 4444 }],
    ['tcp:[::]:0', { kind: 'tcp', host: '::', port: 0 }],
    ['tcp:[fe80::1%eth0]:5', { kind: 'tcp', host: 'fe80::1%eth0', port: 5 }],
    ['tcp::4444', { kind: 'tcp', host: '', port: 4444 }],
    ['tcp:0.0.0.0:0', { kind: 'tcp', host: '0.0.0.0', port: 0 }],
    ['unix:/run/livemig.sock', { kind: 'unix', path: '/run/livemig.sock' }],
    ['unix:relative.sock', { kind: 'unix', path: 'relative.sock' }],
    ['exec:cat > /tmp/vm', { kind: 'exec', command: 'cat > /tmp/vm' }],
    ['exec:gzip -c | ssh host "gunzip > f: x"', { kind: 'exec', command: 'gzip -c | ssh host "gunzip > f: x"' }],
    ['fd:0', { kind: 'fd', fd: 0 }],
    ['fd:42', { kind: 'fd', fd: 42 }],
    ['file:/var/lib/vm.mig', { kind: 'file', path: '/var/lib/vm.mig' }],
    ['file:with:colons', { kind: 'file', path: 'with:colons' }],
  ];
  for (const [text, expected] of good) {
    it(`parses ${text}`, () => {
      assert.deepEqual({ ...parseMigrationUri(text) }, expected);
    });
  }

  it('formats back to the same text (IPv6 hosts in brackets)', () => {
    for (const [text, parsed] of good) assert.equal(formatMigrationUri(parsed), text);
    assert.equal(formatMigrationUri({ kind: 'tcp', host: '::1', port: 7 }), 'tcp:[::1]:7');
  });

  it('rejects unknown protocols with QEMU\'s wording and the supported list', () => {
    for (const uri of ['', 'foo:bar', 'TCP:1.2.3.4:5', 'http://x', 'localhost:4444', ' tcp:1.2.3.4:5']) {
      rejects(uri, /^Parameter 'uri' expects a valid migration protocol: .*supported: tcp:host:port, unix:path, exec:command, fd:N, file:path, tls:host:port$/);
    }
    rejects('foo:bar', /"foo:bar" has unknown protocol "foo"/);
    rejects('', /the URI is empty/);
    rejects('nocolon', /no "protocol:" prefix/);
  });

  it('names QEMU protocols it does not implement', () => {
    rejects('vsock:3:4444', /uses vsock:, a QEMU protocol livemig does not implement/);
    rejects('rdma:host:4444', /uses rdma:/);
  });

  it('rejects bad tcp URIs, naming the URI and the problem', () => {
    rejects('tcp:', /^tcp:: missing port/);
    rejects('tcp:host', /^tcp:host: missing port; expected tcp:host:port/);
    rejects('tcp:host:', /port must be a whole number from 0 to 65535, got ""/);
    rejects('tcp:host:65536', /^tcp:host:65536: tcp port must be a whole number from 0 to 65535, got 65536/);
    rejects('tcp:host:123456', /port must be a whole number from 0 to 65535, got "123456"/);
    rejects('tcp:host:-1', /got "-1"/);
    rejects('tcp:host:12a', /got "12a"/);
    rejects('tcp:host:1.5', /got "1.5"/);
    rejects('tcp:host:http', /got "http"/);
    rejects('tcp:::1:4444', /IPv6 address must be written in brackets/);
    rejects('tcp:[::1:4444', /unclosed "\["/);
    rejects('tcp:[::1]4444', /expected ":port" after the "\]"/);
    rejects('tcp:[not-v6]:4444', /"not-v6" in brackets is not an IPv6 address/);
    rejects('tcp:[127.0.0.1]:4444', /not an IPv6 address/);
    rejects('tcp:999.1.1.1:4444', /"999.1.1.1" is not a valid IPv4 address/);
    rejects('tcp:bad host:4444', /"bad host" is not a host name or IP address/);
    rejects('tcp:-bad:4444', /not a host name/);
    rejects('tcp:a..b:4444', /not a host name/);
  });

  it('rejects empty paths and commands, and bad descriptors', () => {
    rejects('unix:', /^unix:: unix socket path is empty$/);
    rejects(`unix:/tmp/${'x'.repeat(200)}`, /unix socket path is 205 bytes long; the OS allows at most 10[37]/);
    rejects('unix:/tmp/a\0b', /contains a NUL character/);
    rejects('exec:', /^exec:: exec: needs a command/);
    rejects('exec:   ', /needs a command/);
    rejects('file:', /^file:: file path is empty$/);
    rejects('file:/tmp/x,offset=4096', /offsets .* are not supported/);
    rejects('fd:', /expects fd:N with N a file descriptor number/);
    rejects('fd:-1', /got "-1"/);
    rejects('fd:3.5', /got "3.5"/);
    rejects('fd:migfd', /named monitor descriptors are not supported/);
    rejects('fd:99999999999', /from 0 to 2147483647, got 99999999999/);
  });

  it('rejects non-string input', () => {
    assert.throws(() => parseMigrationUri(42 as unknown as string), /must be text, got 42/);
  });

  it('validates URI objects in formatMigrationUri', () => {
    const bad: Array<[unknown, RegExp]> = [
      [{ kind: 'tcp', host: 'h', port: 70000 }, /tcp port must be a whole number from 0 to 65535, got 70000/],
      [{ kind: 'tcp', host: 'h', port: 1.5 }, /got 1.5/],
      [{ kind: 'tcp', host: '[::1]', port: 1 }, /not a valid IPv6 address/],
      [{ kind: 'unix', path: '' }, /unix socket path is empty/],
      [{ kind: 'exec', command: '' }, /needs a command/],
      [{ kind: 'fd', fd: -2 }, /file descriptor number/],
      [{ kind: 'file' }, /file path must be a string, got undefined/],
      [{ kind: 'ftp', path: 'x' }, /unknown kind "ftp"/],
      [null, /must be a string or an object/],
    ];
    for (const [u, pattern] of bad) {
      assert.throws(() => formatMigrationUri(u as MigrationUri), (err: unknown) => err instanceof TransportError && err.code === 'TRANSPORT_INVALID' && pattern.test(err.message));
    }
  });
});
