/**
 * file: — the migration stream saved to, or loaded from, a file (QEMU 8.2+'s `file:path`). The
 * source creates or truncates the file; its `end()` resolves once the file is closed, so a
 * reader started afterwards sees every byte. The destination reads it; a missing, unreadable
 * file or a directory fails `accept()` with TRANSPORT_CLOSED naming the path and the cause.
 */
import { open, type FileHandle } from 'node:fs/promises';
import type { Readable, Writable } from 'node:stream';
import { StreamChannel, type Channel } from './channel.js';
import { withDeadline, type Deadline } from './deadline.js';
import { TransportError, closedTransport } from './errors.js';
import { formatChecked, type MigrationUri } from './uri.js';

type FileUri = Extract<MigrationUri, { kind: 'file' }>;

/** Source side: creates or truncates the file and writes the stream into it. */
export async function openFileForWriting(uri: FileUri, deadline: Deadline): Promise<Channel> {
  const text = formatChecked(uri);
  const handle = await openWithin(uri, deadline, 'w', 'cannot open the file for writing');
  const output = handle.createWriteStream();
  return new StreamChannel({
    uri,
    description: `file ${uri.path} (writing)`,
    output,
    input: null,
    hasReturnPath: false,
    afterFinish: () => closed(output, text),
  });
}

/** Destination side: opens the file and reads the stream from it. */
export async function openFileForReading(uri: FileUri, deadline: Deadline): Promise<Channel> {
  const text = formatChecked(uri);
  const handle = await openWithin(uri, deadline, 'r', 'cannot open the file for reading');
  try {
    const st = await handle.stat();
    if (st.isDirectory()) throw new TransportError('TRANSPORT_CLOSED', `${text}: ${uri.path} is a directory`, { uri: text, osCode: 'EISDIR' });
  } catch (err) {
    await handle.close().catch(() => undefined);
    throw err instanceof TransportError ? err : closedTransport(text, 'cannot read the file', err);
  }
  return new StreamChannel({
    uri,
    description: `file ${uri.path} (reading)`,
    output: null,
    input: handle.createReadStream(),
    hasReturnPath: false,
  });
}

/** Opens within the deadline; a handle that arrives after a timeout or abort is closed. */
function openWithin(uri: FileUri, deadline: Deadline, flags: 'r' | 'w', failure: string): Promise<FileHandle> {
  const text = formatChecked(uri);
  return withDeadline<FileHandle>(text, 'opening the file', deadline, (outcome) => {
    open(uri.path, flags).then(
      (handle) => {
        if (!outcome.resolve(handle)) void handle.close().catch(() => undefined);
      },
      (err: unknown) => outcome.reject(closedTransport(text, failure, err)),
    );
    return () => undefined;
  });
}

/** Resolves when the stream closed its descriptor (all data is then in the file). */
export function closed(stream: Readable | Writable, uriText: string): Promise<void> {
  if (stream.closed) return Promise.resolve();
  return new Promise<void>((resolve, reject) => {
    stream.once('close', () => resolve());
    stream.once('error', (err) => reject(closedTransport(uriText, 'closing failed', err)));
  });
}
