/**
 * livemig's migration transports: QEMU's migration URIs (`tcp:`, `unix:`, `exec:`, `fd:`,
 * `file:`) and `tls:` (tcp with mutual TLS authentication) opened as channels that carry the stream with backpressure and report every failure
 * as a TransportError naming the URI.
 *
 * Source: `const ch = await openOutgoing('tcp:host:4444'); await ch.write(bytes); await ch.end();`
 * Destination: `const l = await listenIncoming('tcp::0'); tell the source l.address;
 * const ch = await l.accept(); for await (const chunk of readChunks(ch)) ...; await l.close();`
 */
export { parseMigrationUri, formatMigrationUri, SUPPORTED_MIGRATION_URIS } from './uri.js';
export type { MigrationUri } from './uri.js';
export type { Channel, ChannelTimeouts, TimeoutNames } from './channel.js';
export { DEFAULT_READ_TIMEOUT_MS, DEFAULT_WRITE_TIMEOUT_MS } from './channel.js';
export type { TlsCredentials, TlsInfo, TlsPeer, PemInput } from './tls.js';
export { DEFAULT_HANDSHAKE_TIMEOUT_MS } from './tls.js';
export type { OutgoingOptions } from './outgoing.js';
export type { ListenOptions } from './incoming.js';
export type { IncomingListener } from './listener.js';
export { DEFAULT_TIMEOUT_MS } from './deadline.js';
export type { WaitOptions } from './deadline.js';
export { openOutgoing } from './outgoing.js';
export { listenIncoming } from './incoming.js';
export { readChunks } from './read-chunks.js';
export type { ReadChunksOptions } from './read-chunks.js';
export type { PooledReader } from './pooled-reader.js';
export { TransportError } from './errors.js';
export type { TransportErrorCode, TransportErrorDetails } from './errors.js';
