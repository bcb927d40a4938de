/**
 * A QMP client connection: frames its bytes into JSON messages (json-framer), runs its
 * commands one after another, sends replies and events. Bounded: a message over 1 MiB is an
 * error (then the connection goes on); reading pauses while 64 commands wait; a client that
 * stops reading while 8 MiB of replies and events pile up is disconnected.
 */
import type { Socket } from 'node:net';
import { JsonFramer, MAX_QMP_MESSAGE_BYTES } from './json-framer.js';
import type { FramedItem } from './json-framer.js';
import { toSafeJson } from './json-out.js';
import type { Machine, MachineEvent } from './machine.js';
import { QmpSession } from './qmp.js';

/** Commands read ahead of the one running; past this, reading pauses. */
const MAX_QUEUED_COMMANDS = 64;
/** A client that stops reading is disconnected once this much output waits for it. */
const MAX_UNREAD_OUTPUT_BYTES = 8 * 1024 * 1024;

/** Serves QMP on one connected socket until it closes. */
export function serveQmpConnection(machine: Machine, socket: Socket, maxMessageBytes = MAX_QMP_MESSAGE_BYTES): void {
  const send = (message: object) => {
    if (socket.destroyed || socket.writableEnded) return;
    socket.write(toSafeJson(message) + '\r\n'); // QEMU's monitor ends lines with CR LF
    if (socket.writableLength > MAX_UNREAD_OUTPUT_BYTES) socket.destroy();
  };
  const session = new QmpSession(machine, send);
  const framer = new JsonFramer(maxMessageBytes);
  const queue: FramedItem[] = [];
  let busy = false;
  const onEvent = (e: MachineEvent) => session.event(e);
  machine.on('event', onEvent);
  socket.on('close', () => machine.off('event', onEvent));

  const pump = async () => {
    if (busy) return;
    busy = true;
    try {
      while (queue.length > 0 && !socket.destroyed) {
        await session.handle(queue.shift()!); // never rejects
        if (queue.length < MAX_QUEUED_COMMANDS / 2 && socket.isPaused()) socket.resume();
      }
    } finally {
      busy = false;
    }
  };
  socket.on('data', (chunk: Buffer) => {
    for (const item of framer.push(chunk)) queue.push(item);
    if (queue.length >= MAX_QUEUED_COMMANDS) socket.pause();
    void pump();
  });
  send(session.greeting());
}
