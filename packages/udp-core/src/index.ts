/**
 * @x/udp-core: passt's UDP translation (guest frames <-> host sockets,
 * gateway mapping, port forwards with remap, pasta's loopback splice,
 * aging and caps) on the shared flow layer (@x/flow), over injected
 * socket, frame, clock and logger interfaces. See README.md and each
 * module's theory of operation.
 */
export { UdpEngine, type UdpEngineStats } from './engine.js';
export type { UdpEngineConfig, UdpEngineDeps } from './config.js';
export type { ForwardDirection, ForwardFailure } from './forwarding.js';
export { createCounters, type DirectionCounters, type UdpCounters } from './counters.js';
export { appendGuestFrame, appendParsed, createGuestDatagrams, FrameVerdict, type GuestDatagrams } from './guest-input.js';
export { FRAME_SLOT_SIZE, PAYLOAD_AT, PREFIX_ROOM, MAX_PAYLOAD } from './frames.js';
// The interfaces a UdpEngine is built from, defined by @x/flow and re-exported for its users.
export {
  ADDR_STRIDE,
  IPV4,
  IPV6,
  familyOf,
  createRecvBatch,
  createSendBatch,
  errorCode,
  systemClock,
  silentLogger,
  PortForwards,
  PortForwardError,
  type AddressFamily,
  type Family,
  type GatewayConfig,
  type RecvBatch,
  type SendBatch,
  type Side,
  type SocketHandle,
  type SocketLayer,
  type SocketSpec,
  type Clock,
  type FrameSink,
  type Logger,
  type TimerHandle,
  type Listener,
  type PortForwardEntry,
  type PortRange,
} from '@x/flow';
