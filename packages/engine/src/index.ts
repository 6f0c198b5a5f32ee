/**
 * @x/engine: what passt and pasta share.
 *
 * The frame loop between a guest link (tap or qemu stream) and the UDP
 * translation (GuestSession), the ARP/NDP/DHCP/DHCPv6 responders, the host's
 * template interface and the configuration derived from it, the command
 * line both commands accept, logging and --pcap. The apps add only what is
 * theirs: pasta its namespaces, tap and netlink configuration; passt its
 * UNIX socket and qemu's framing.
 */
export { parseOptions, pastaDetaches, helpText, manPage, type Options, type Mode } from "./options.js";
export { parsePortSpec, mergePortSpecs, type PortSpec } from "@x/flow";
export { UsageError } from "./usage-error.js";
export {
  AutoForwarder,
  parseProcNetUdp,
  readUdpTables,
  readTables,
  parseProcNetTcpListen,
  socketInodes,
  type AutoForwardOptions,
  type BoundUdpSocket,
  type ForwardTarget,
} from "./auto-forward.js";
export { Log, type Level } from "./log.js";
export { PcapFile } from "./pcap-file.js";
export { SyscallSockets, type HostSocketPolicy } from "./socket-layer.js";
export { TapReader, TapSink, TAP_SLOT, VNET_HDR_LEN, type FramesHandler } from "./tap-io.js";
export { GuestSession, forwardsOf, type GuestSink, type SessionOptions, type SessionCounters, type SessionStats } from "./guest-session.js";
export { GuestFrames, type DispatchCounters, type DropCounters, type FrameTargets } from "./guest-frames.js";
export { IcmpEcho, type IcmpCounters, type IcmpDeps, type IcmpOptions } from "./icmp-echo.js";
// The link layer the apps drive, from @x/flow, so that they need no package below this one.
export {
  QemuStreamReader,
  QemuStreamSink,
  type QemuStreamOptions,
  type QemuStreamReaderOptions,
  type StreamStats,
  type StreamWriter,
} from "@x/flow";
export { STREAM_LENGTH_PREFIX, STREAM_DEFAULT_MAX_FRAME as STREAM_MAX_FRAME } from "@x/l2";
export {
  buildNetConfig,
  parseResolvConf,
  readResolvConf,
  ConfigError,
  DEFAULT_OUR_MAC,
  DEFAULT_MTU,
  type NetConfig,
  type HostTemplate,
  type Family4,
  type Family6,
  type Resolv,
} from "./net-config.js";
export { hostTemplate } from "./host-template.js";
export * from "./responders/index.js";
export { Cleanups, logFor, logLevel, hostSocketPolicy, templateIfname, checkUser, switchUser, sessionFor, bindFailure, describeConfig, countersOnSignal, defaultMaxBindings } from "./run-context.js";
