/**
 * @x/flow: what every transport shares, below udp-core and tcp-core and
 * above @x/l2, with no file descriptor in it: the flow table (table.ts),
 * address translation (nat.ts), port-forward specs (forwards.ts), the
 * socket layer as an interface (sockets.ts), and the link layer: the frame
 * slab's layout and the one writer of link headers (headers.ts), frame
 * sinks (platform.ts) and qemu's length-prefixed stream (qemu-stream-*.ts).
 * See README.md and each module's theory of operation.
 */
export {
  ADDR_STRIDE,
  FAMILIES,
  IPV4,
  IPV6,
  bytesEqual,
  copyBytes,
  familyOf,
  formatAddress,
  loadMapped,
  storeMapped,
  type AddressFamily,
  type Family,
} from './address.js';
export { LruList, RateLimitedLog } from './aging.js';
export {
  FlowTable,
  FlowType,
  INITIATOR,
  Pif,
  TARGET,
  type FlowTableOptions,
  type FlowTypeRule,
  type ReleaseReason,
  type SideIndex,
} from './table.js';
export { listFlows, type FlowInfo, type FlowSideInfo } from './listing.js';
export { AddressMap, DestKind, type GatewayConfig } from './nat.js';
export { PortForwards, PortForwardError, type Listener, type PortForwardEntry, type PortRange } from './forwards.js';
export {
  createRecvBatch,
  createSendBatch,
  errorCode,
  type RecvBatch,
  type SendBatch,
  type Side,
  type SocketHandle,
  type SocketLayer,
  type SocketSpec,
  type SocketProtocol,
} from './sockets.js';
export { systemClock, silentLogger, type Clock, type FrameSink, type Logger, type TimerHandle } from './platform.js';
export { fold, L4_AT, linkHeaderLength, PREFIX_ROOM, pseudoHeaderSum, writeIpFrame, type LinkFields } from './headers.js';
export { QemuStreamSink, type QemuStreamOptions, type StreamStats, type StreamWriter } from './qemu-stream-writer.js';
export { mergePortSpecs, parsePortSpec, PortSpecError, type PortSpec } from './forward-spec.js';
export { QemuStreamReader, type QemuStreamReaderOptions, type StreamFramesHandler } from './qemu-stream-reader.js';
export { TapSink, VNET_HDR_LEN, type TapWriter } from './tap-sink.js';
