/** Unit tests of the monitor's parsers: sizes, durations, HMP words, monitor addresses, safe JSON. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { formatMonitorAddress, formatSize, parseMonitorAddress, parseSecondsToMs, parseSize, toSafeJson, tokenize } from '../../src/monitor/index.js';

describe('parseSize', () => {
  const valid: [string, number][] = [
    ['0', 0], ['4096', 4096], ['4096b', 4096], ['4096B', 4096],
    ['1k', 1024], ['1K', 1024], ['4kb', 4096], ['4KiB', 4096], ['64m', 64 * 1024 ** 2], ['64M', 64 * 1024 ** 2], ['256MB', 256 * 1024 ** 2],
    ['1g', 1024 ** 3], ['2G', 2 * 1024 ** 3], ['1.5G', 1.5 * 1024 ** 3], ['0.5k', 512], ['1t', 1024 ** 4], ['3T', 3 * 1024 ** 4],
    [' 8m ', 8 * 1024 ** 2], ['8 m', 8 * 1024 ** 2],
  ];
  for (const [text, bytes] of valid) test(`'${text}' is ${bytes} bytes`, () => assert.equal(parseSize(text, 'size'), bytes));

  test('a bare number takes the default unit (QEMU: max-bandwidth in MiB)', () => {
    assert.equal(parseSize('10', 'max-bandwidth', 'm'), 10 * 1024 ** 2);
    assert.equal(parseSize('10k', 'max-bandwidth', 'm'), 10 * 1024);
    assert.equal(parseSize('10b', 'max-bandwidth', 'm'), 10);
  });

  const invalid: [string, RegExp][] = [
    ['3x', /invalid cache size '3x': expected a number with an optional k, m, g or t suffix/],
    ['', /invalid cache size ''/],
    ['k', /invalid cache size 'k'/],
    ['-1', /invalid cache size '-1'/],
    ['1e6', /invalid cache size '1e6'/],
    ['0x10', /invalid cache size '0x10'/],
    ['1.5', /not a whole number of bytes/],
    ['1.0000001k', /not a whole number of bytes/],
    ['64mm', /invalid cache size/],
    ['64p', /invalid cache size/],
    ['64ib', /invalid cache size/],
    ['99999999t', /too large/],
    ['NaN', /invalid cache size/],
    ['Infinity', /invalid cache size/],
  ];
  for (const [text, re] of invalid) {
    test(`'${text}' is refused, naming the option`, () => {
      assert.throws(() => parseSize(text, 'cache size'), (e: Error & { code?: string }) => {
        assert.equal(e.name, 'InvalidArgumentError');
        assert.equal(e.code, 'INVALID_ARGUMENT');
        assert.match(e.message, re);
        return true;
      });
    });
  }

  test('formatSize keeps the largest whole unit', () => {
    assert.equal(formatSize(64 * 1024 ** 2), '64M');
    assert.equal(formatSize(1536), '1536');
    assert.equal(formatSize(3 * 1024), '3K');
    assert.equal(formatSize(2 * 1024 ** 4), '2T');
  });
});

describe('parseSecondsToMs (migrate_set_downtime)', () => {
  for (const [text, ms] of [['0.3', 300], ['.5', 500], ['2', 2000], ['1.', 1000], ['300ms', 300], ['2s', 2000], ['1500us', 2], ['0', 0]] as const) {
    test(`'${text}' is ${ms} ms`, () => assert.equal(parseSecondsToMs(text, 'downtime'), ms));
  }
  for (const text of ['abc', '', '-1', '1e3', '0.3 s', '1h', '.']) {
    test(`'${text}' is refused`, () => assert.throws(() => parseSecondsToMs(text, 'downtime'), { code: 'INVALID_ARGUMENT', message: new RegExp(`invalid downtime '${text.replace('.', '\\.')}'`) }));
  }
});

describe('tokenize (HMP words)', () => {
  test('blanks split words, quotes keep them', () => {
    assert.deepEqual(tokenize('  migrate   -d  tcp:127.0.0.1:4444 '), ['migrate', '-d', 'tcp:127.0.0.1:4444']);
    assert.deepEqual(tokenize('migrate "exec:cat > /tmp/a b"'), ['migrate', 'exec:cat > /tmp/a b']);
    assert.deepEqual(tokenize("migrate 'exec:gzip -c > f'"), ['migrate', 'exec:gzip -c > f']);
    assert.deepEqual(tokenize('migrate "exec:sh -c \'echo x\'"'), ['migrate', "exec:sh -c 'echo x'"]);
    assert.deepEqual(tokenize('a"b c"d'), ['ab cd']);
    assert.deepEqual(tokenize('x ""'), ['x', '']);
    assert.deepEqual(tokenize(''), []);
    assert.deepEqual(tokenize('\t'), []);
  });
  test('\\" and \\\\ inside double quotes, other backslashes literal', () => {
    assert.deepEqual(tokenize('m "a\\"b\\\\c\\n"'), ['m', 'a"b\\c\\n']);
    assert.deepEqual(tokenize('m a\\b'), ['m', 'a\\b']);
  });
  test('an unterminated quote is an error', () => {
    assert.throws(() => tokenize('migrate "exec:cat'), { code: 'INVALID_ARGUMENT', message: 'unterminated " quote' });
    assert.throws(() => tokenize("migrate 'x"), { message: "unterminated ' quote" });
  });
});

describe('parseMonitorAddress (--monitor, --qmp)', () => {
  const all = ['stdio', 'none', 'unix', 'tcp'] as const;
  test('the four kinds, and QEMU\'s server options', () => {
    assert.deepEqual(parseMonitorAddress('stdio', '--monitor', all), { kind: 'stdio' });
    assert.deepEqual(parseMonitorAddress('none', '--monitor', all), { kind: 'none' });
    assert.deepEqual(parseMonitorAddress('unix:/tmp/m.sock', '--monitor', all), { kind: 'unix', path: '/tmp/m.sock' });
    assert.deepEqual(parseMonitorAddress('unix:/tmp/m.sock,server,nowait', '--monitor', all), { kind: 'unix', path: '/tmp/m.sock' });
    assert.deepEqual(parseMonitorAddress('tcp:127.0.0.1:0', '--qmp', all), { kind: 'tcp', host: '127.0.0.1', port: 0 });
    assert.deepEqual(parseMonitorAddress('tcp:[::1]:4444,server=on,wait=off', '--qmp', all), { kind: 'tcp', host: '::1', port: 4444 });
    assert.equal(formatMonitorAddress({ kind: 'tcp', host: '::1', port: 4444 }), 'tcp:[::1]:4444');
    assert.equal(formatMonitorAddress({ kind: 'unix', path: '/x' }), 'unix:/x');
  });
  const bad: [string, RegExp][] = [
    ['tty', /--qmp: invalid address 'tty': unknown kind; expected unix:PATH, tcp:HOST:PORT/],
    ['stdio', /--qmp: invalid address 'stdio': stdio is not possible here/],
    ['tcp:127.0.0.1', /--qmp: invalid address 'tcp:127.0.0.1': .*missing port/],
    ['tcp:127.0.0.1:99999', /port must be a whole number from 0 to 65535/],
    ['unix:', /--qmp: invalid address 'unix:'.*empty/],
    ['unix:/tmp/x,telnet', /unknown option 'telnet'/],
    ['exec:cat', /unknown kind/],
  ];
  for (const [text, re] of bad) {
    test(`'${text}' is refused naming the option`, () => assert.throws(() => parseMonitorAddress(text, '--qmp', ['unix', 'tcp']), { code: 'INVALID_ARGUMENT', message: re }));
  }
});

describe('toSafeJson', () => {
  test('NaN and Infinity become 0, never null or a bare NaN', () => {
    const text = toSafeJson({ a: NaN, b: Infinity, c: -Infinity, d: [1, NaN], e: { f: 0.5 }, g: 3n });
    assert.equal(text, '{"a":0,"b":0,"c":0,"d":[1,0],"e":{"f":0.5},"g":3}');
  });
});
