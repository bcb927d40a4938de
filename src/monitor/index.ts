/**
 * The monitor layer: the human monitor (HMP) and QMP over standard input/output or sockets,
 * both driving a Machine (a guest and its source or destination side of a migration).
 */
export { Machine, CAPABILITY_NAMES, PARAMETER_NAMES } from './machine.js';
export type { MachineTarget, MachineEvent, MachineEventName, RunState, IncomingTransportInfo } from './machine.js';
export { Hmp } from './hmp.js';
export { runHmpSession, PROMPT, BANNER } from './hmp-session.js';
export type { HmpSessionOptions } from './hmp-session.js';
export { tokenize, parseSecondsToMs } from './hmp-args.js';
export { QmpSession, QmpError } from './qmp.js';
export type { QmpErrorClass } from './qmp.js';
export { serveQmpConnection } from './qmp-server.js';
export { JsonFramer, MAX_QMP_MESSAGE_BYTES } from './json-framer.js';
export type { FramedItem } from './json-framer.js';
export { readMonitorLines, MAX_HMP_LINE_BYTES } from './line-reader.js';
export { toSafeJson } from './json-out.js';
export { parseMonitorAddress, formatMonitorAddress } from './monitor-address.js';
export type { MonitorAddress, MonitorAddressKind } from './monitor-address.js';
export { listenMonitor } from './monitor-listener.js';
export type { MonitorListener } from './monitor-listener.js';
export { formatInfoMigrate, formatIncomingInfo } from './info-migrate.js';
export { parseSize, formatSize } from './size.js';
export type { SizeUnit } from './size.js';
export { LIVEMIG_VERSION } from './version.js';
export { startMonitors } from './monitors.js';
export type { Monitors, MonitorsOptions } from './monitors.js';
