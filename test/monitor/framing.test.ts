/** The QMP JSON framer and the HMP line reader: splitting, limits, recovery. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { JsonFramer, readMonitorLines } from '../../src/monitor/index.js';
import type { FramedItem } from '../../src/monitor/index.js';

function frame(chunks: (string | Buffer)[], framer = new JsonFramer()): FramedItem[] {
  const out: FramedItem[] = [];
  for (const c of chunks) out.push(...framer.push(typeof c === 'string' ? Buffer.from(c) : c));
  return out;
}
const messages = (items: FramedItem[]) => items.map((i) => (i.kind === 'message' ? i.text : `ERROR ${i.desc}`));

describe('JsonFramer', () => {
  const stream = '{"execute": "qmp_capabilities"}\n{"execute":"query-status","id":{"a":[1,"}"]}}\r\n  {"x": "br{ace\\"}"}{"y":[]}\n[1,2]\n';
  const expected = ['{"execute": "qmp_capabilities"}', '{"execute":"query-status","id":{"a":[1,"}"]}}', '{"x": "br{ace\\"}"}', '{"y":[]}', '[1,2]'];

  test('whole stream at once: brackets in strings and escaped quotes do not count', () => {
    assert.deepEqual(messages(frame([stream])), expected);
  });

  test('split at every offset, and byte by byte', () => {
    const bytes = Buffer.from(stream);
    for (let i = 0; i <= bytes.length; i++) assert.deepEqual(messages(frame([bytes.subarray(0, i), bytes.subarray(i)])), expected, `split at ${i}`);
    assert.deepEqual(messages(frame([...bytes].map((b) => Buffer.from([b])))), expected);
  });

  test('an object across several lines is one message', () => {
    assert.deepEqual(messages(frame(['{"execute":\n', '  "query-status"\n', '}\n'])), ['{"execute":\n  "query-status"\n}']);
  });

  test('multi-byte UTF-8 split across chunks survives', () => {
    const b = Buffer.from('{"k":"é€😀"}');
    assert.deepEqual(messages(frame([b.subarray(0, 7), b.subarray(7, 9), b.subarray(9)])), ['{"k":"é€😀"}']);
  });

  test('junk outside a message is handed on line by line (for JSON.parse to judge)', () => {
    assert.deepEqual(messages(frame(['hello world\n', '42\n', '}\n', '{"ok":1}\n'])), ['hello world', '42', '}', '{"ok":1}']);
  });

  test('a line break inside a string ends the broken message; the next line frames', () => {
    assert.deepEqual(messages(frame(['{"execute": "que\n', '{"execute":"cont"}\n'])), ['ERROR JSON parse error, missing closing quote (a string may not contain a line break)', '{"execute":"cont"}']);
  });

  test('a message over the cap: one error, bytes dropped to its end, then framing goes on', () => {
    const f = new JsonFramer(1000);
    const big = `{"execute":"x","arguments":{"s":"${'a'.repeat(5000)}"}}\n`;
    const out = frame([big.slice(0, 700), big.slice(700, 3000), big.slice(3000), '{"execute":"cont"}\n'], f);
    assert.deepEqual(messages(out), ['ERROR JSON parse error, message longer than 1000 bytes (dropped)', '{"execute":"cont"}']);
  });

  test('a junk line over the cap: one error, then the next line', () => {
    const out = frame(['x'.repeat(3000), 'y'.repeat(3000), '\n{"a":1}\n'], new JsonFramer(1000));
    assert.deepEqual(messages(out), ['ERROR JSON parse error, message longer than 1000 bytes (dropped)', '{"a":1}']);
  });

  test('nesting deeper than the limit: one error, then framing goes on', () => {
    const deep = '['.repeat(50) + ']'.repeat(50);
    assert.deepEqual(messages(frame([deep + '\n{"a":1}'], new JsonFramer(1 << 20, 10))), ['ERROR JSON parse error, nesting deeper than 10 levels', '{"a":1}']);
    assert.deepEqual(messages(frame([deep], new JsonFramer(1 << 20, 50))), [deep]);
  });

  test('an unfinished message is pending, not emitted', () => {
    const f = new JsonFramer();
    assert.deepEqual(frame(['{"execute":'], f), []);
    assert.equal(f.pending, true);
    assert.deepEqual(messages(frame(['"cont"}'], f)), ['{"execute":"cont"}']);
    assert.equal(f.pending, false);
  });
});

async function lines(chunks: (string | Buffer)[], max?: number) {
  const out: unknown[] = [];
  for await (const l of readMonitorLines(Readable.from(chunks.map((c) => Buffer.from(c))), max)) out.push(l);
  return out;
}

describe('readMonitorLines', () => {
  test('lines split anywhere, CR LF, a last line without newline', async () => {
    assert.deepEqual(await lines(['info st', 'atus\r\nquit\n\n', 'help']), [{ line: 'info status' }, { line: 'quit' }, { line: '' }, { line: 'help' }]);
  });
  test('a line over the cap is reported once and skipped to its newline', async () => {
    assert.deepEqual(await lines(['a'.repeat(60), 'b'.repeat(60), 'c'.repeat(60), '\ninfo status\n'], 100), [{ tooLong: 100 }, { line: 'info status' }]);
    assert.deepEqual(await lines(['x'.repeat(150)], 100), [{ tooLong: 100 }]);
    assert.deepEqual(await lines(['x'.repeat(100) + '\n'], 100), [{ line: 'x'.repeat(100) }]);
  });
});
