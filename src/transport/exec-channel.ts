/**
 * exec: — the migration stream through a shell command, QEMU style: the source writes the
 * stream to the command's stdin (`exec:gzip > vm.gz`), the destination reads it from the
 * command's stdout (`exec:gunzip < vm.gz`). No return path. A command's success is its exit
 * status: the source's `end()` waits for it, and the destination's input only ends cleanly if
 * the command exits 0; any other ending is a TransportError naming the status and the command's
 * last stderr lines.
 */
import { PassThrough } from 'node:stream';
import { StreamChannel, type Channel } from './channel.js';
import { Command, describeEnd, succeeded } from './command.js';
import { withDeadline, type Deadline } from './deadline.js';
import { closedTransport, describeCause, TransportError } from './errors.js';
import { formatChecked, type MigrationUri } from './uri.js';

type ExecUri = Extract<MigrationUri, { kind: 'exec' }>;

/** How long a failed stdin write waits for the exit status to explain it. */
const EXPLAIN_WAIT_MS = 1000;

/** Source side: starts the command with the stream as its stdin. */
export function startOutgoingCommand(uri: ExecUri, deadline: Deadline): Promise<Channel> {
  const text = formatChecked(uri);
  return withDeadline<Channel>(text, 'starting the command', deadline, (outcome) => {
    const command = new Command(uri.command, 0);
    const exited = new Error('the command exited');
    const stdin = command.child.stdin;
    if (stdin === null) throw closedTransport(text, 'the command has no stdin pipe');
    const channel = new StreamChannel({
      uri,
      description: `exec "${uri.command}" (pid ${command.child.pid ?? '?'}, stream to its stdin)`,
      output: stdin,
      input: null,
      hasReturnPath: false,
      explain: async (cause) => {
        const end = await command.endedWithin(EXPLAIN_WAIT_MS);
        if (end === undefined) return closedTransport(text, "writing to the command's stdin failed", cause);
        const early = succeeded(end) ? ' before taking the whole stream' : '';
        const how = cause === exited ? '' : ` (writing its stdin: ${describeCause(cause)})`;
        return new TransportError('TRANSPORT_CLOSED', `${text}: the command ${describeEnd(end)}${early}${how}${command.stderrSuffix()}`, { uri: text, cause });
      },
      afterFinish: async () => {
        const end = await command.ended;
        if (!succeeded(end)) throw new TransportError('TRANSPORT_CLOSED', `${text}: the command ${describeEnd(end)}${command.stderrSuffix()}`, { uri: text });
      },
      teardown: () => command.kill(),
    });
    // A command that fails while its stdin is still open fails the channel now, not at end().
    void command.ended.then((end) => {
      if (!succeeded(end)) channel.fail(exited);
    });
    command.started().then(
      () => {
        if (!outcome.resolve(channel)) channel.destroy();
      },
      (err: unknown) => outcome.reject(closedTransport(text, 'cannot start the command', err)),
    );
    return () => channel.destroy();
  });
}

/** Destination side: starts the command and reads the stream from its stdout. */
export function startIncomingCommand(uri: ExecUri, deadline: Deadline): Promise<Channel> {
  const text = formatChecked(uri);
  return withDeadline<Channel>(text, 'starting the command', deadline, (outcome) => {
    const command = new Command(uri.command, 1);
    const stdout = command.child.stdout;
    if (stdout === null) throw closedTransport(text, 'the command has no stdout pipe');
    // The input ends (or fails) only when the command's exit status is known.
    const input = new PassThrough();
    stdout.pipe(input, { end: false });
    void command.ended.then((end) => {
      if (succeeded(end)) input.end();
      else input.destroy(new TransportError('TRANSPORT_CLOSED', `${text}: the command ${describeEnd(end)}${command.stderrSuffix()}`, { uri: text }));
    });
    const channel = new StreamChannel({
      uri,
      description: `exec "${uri.command}" (pid ${command.child.pid ?? '?'}, stream from its stdout)`,
      output: null,
      input,
      hasReturnPath: false,
      teardown: () => {
        stdout.destroy();
        command.kill();
      },
    });
    command.started().then(
      () => {
        if (!outcome.resolve(channel)) channel.destroy();
      },
      (err: unknown) => outcome.reject(closedTransport(text, 'cannot start the command', err)),
    );
    return () => channel.destroy();
  });
}
