/**
 * @x/udp-core: passt's UDP translation (guest frames <-> host sockets,
 * gateway mapping, port forwards with remap, pasta's loopback splice,
 * aging and caps), over injected socket, frame, clock and logger
 * interfaces. See README.md and each module's theory of operation.
 */
export {
  UdpEngine,
  type ForwardDirection,
  type ForwardFailure,
  type UdpEngineConfig, type UdpEngineDeps, type UdpEngineStats } from './engine.js';
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
} from './sockets.js';
export { systemClock, silentLogger, type Clock, type FrameSink, type Logger, type TimerHandle } from './platform.js';
export { PortForwards, PortForwardError, type Listener, type PortForwardEntry, type PortRange } from './ports.js';
export { createCounters, type DirectionCounters, type UdpCounters } from './counters.js';
export {
  appendGuestFrame,
  createGuestDatagrams,
  FrameVerdict,
  type GuestDatagrams,
} from './guest-input.js';
export { QemuStreamSink, type QemuStreamOptions, type StreamStats, type StreamWriter } from './stream-writer.js';
export { FRAME_SLOT_SIZE, PAYLOAD_AT, PREFIX_ROOM, MAX_PAYLOAD } from './frames.js';
export { ADDR_STRIDE, IPV4, IPV6, familyOf, type AddressFamily, type Family } from './family.js';
export type { GatewayConfig } from './gateway.js';
