/**
 * Theory of operation.
 *
 * The engine's dispatcher (guest-frames.ts) parses each guest frame's IP
 * header once and offers the frames that may be ours to `respondParsed`
 * with that parse; `respond` takes a raw frame and runs the same parse
 * first (@x/l2's parseFrameHeaders), so both see the IP header validated
 * the same way and neither reads it again. From there we look only at the
 * EtherType, the protocol, and the UDP destination port or ICMPv6 type, and
 * only the frames that can be ours are parsed further (checksums included):
 *
 *   ARP                                   -> arp.ts
 *   IPv6 ICMPv6 types 133-136 (NDP)       -> ndp.ts
 *   IPv4 UDP 68 -> 67 (DHCP)              -> dhcpv4.ts
 *   IPv6 UDP 546 -> 547 (DHCPv6), sent to
 *     ff02::1:2 or to our link-local      -> dhcpv6.ts
 *   anything else                         -> pass, for the UDP translation
 *
 * DHCP is taken whatever the IP destination, as passt does: a client sends
 * to the broadcast address, and later, renewing, to the server identifier,
 * and either way there is no other server on the link to reach. DHCPv6 is
 * narrower because its destinations are well known.
 *
 * Nothing here throws on input. A frame whose Ethernet or IP header is
 * broken is reported "malformed" and counts as consumed: the layers after
 * us would only drop it again. A fragment passes untouched, as no
 * conversation of ours is ever fragmented and reassembly is not our job.
 * As a last guard, a fault inside a responder (a bug, since none is meant
 * to throw) is caught and reported as malformed rather than taking the
 * frame loop down with it.
 */
import {
  DHCPV4_CLIENT_PORT,
  DHCPV4_SERVER_PORT,
  DHCPV6_CLIENT_PORT,
  DHCPV6_SERVER_PORT,
  EtherType,
  EthernetFrame,
  FrameClass,
  FrameHeaders,
  Ip6Hdr,
  IpProtocol,
  UdpHdr,
  UdpPacket,
  addrEquals,
  get16,
  isWireError,
  malformed,
  parseEthernet,
  parseFrameHeaders,
  parseUdp,
  type EthernetRepr,
  type WireError,
} from '@x/l2';
import { respondArp } from './arp.js';
import type { LinkConfig } from './config.js';
import { allDhcpServersAddress, respondDhcpv6 } from './dhcpv6.js';
import { respondDhcpv4 } from './dhcpv4.js';
import { isNdpMessageType, respondNdp, type Ipv6Fields } from './ndp.js';
import {
  PASS,
  countOutcome,
  handledOf,
  malformedInput,
  type Handled,
  type Outcome,
  type ResponderCounters,
} from './result.js';

export * from './config.js';
export * from './result.js';
export { respondArp } from './arp.js';
export { allNodesAddress, respondNdp, routerAdvert, routerAdvertFrame } from './ndp.js';
export { classlessRoutes, dhcpv4Lease, netmask, respondDhcpv4 } from './dhcpv4.js';
export { allDhcpServersAddress, respondDhcpv6, serverDuid } from './dhcpv6.js';


type Out = (reply: Uint8Array) => void;

/** The parse record `respond` reuses (single-threaded: one is enough). */
const scratch = new FrameHeaders();

/** The UDP ports, if the header's first four bytes are there: enough to tell ours from the rest. */
function udpPorts(l4: Uint8Array): { src: number; dst: number } | null {
  if (l4.length < 4) return null;
  return { src: get16(l4, UdpHdr.SRC_PORT), dst: get16(l4, UdpHdr.DST_PORT) };
}

/** Full UDP parse (length and checksum) once we know the datagram is for us. */
function udpPayload(l4: Uint8Array, src: Uint8Array, dst: Uint8Array): Uint8Array | WireError {
  const p = UdpPacket.checked(l4);
  if (isWireError(p)) return p;
  const u = parseUdp(p, src, dst);
  return isWireError(u) ? u : u.payload;
}

function respondIpv4(eth: EthernetRepr, slab: Uint8Array, h: FrameHeaders, cfg: LinkConfig, out: Out): Outcome {
  if (h.protocol !== IpProtocol.Udp || cfg.dhcp === false) return PASS;
  const l4 = slab.subarray(h.l4At, h.l4End);
  const ports = udpPorts(l4);
  if (ports === null || ports.dst !== DHCPV4_SERVER_PORT || ports.src !== DHCPV4_CLIENT_PORT) return PASS;
  const payload = udpPayload(l4, slab.subarray(h.srcAt, h.srcAt + 4), slab.subarray(h.dstAt, h.dstAt + 4));
  if (isWireError(payload)) return malformedInput('udp', payload);
  return respondDhcpv4(eth, payload, cfg, out);
}

/** DHCPv6 for us: to the all-servers group, or unicast to our link-local once the client knows it. */
function isForOurDhcpv6(ip: Ipv6Fields, cfg: LinkConfig): boolean {
  return (
    addrEquals(ip.dst, allDhcpServersAddress()) || (cfg.v6 !== undefined && addrEquals(ip.dst, cfg.v6.ourLinkLocal))
  );
}

function respondIpv6(eth: EthernetRepr, slab: Uint8Array, h: FrameHeaders, cfg: LinkConfig, out: Out): Outcome {
  const ip: Ipv6Fields = {
    src: slab.subarray(h.srcAt, h.srcAt + 16),
    dst: slab.subarray(h.dstAt, h.dstAt + 16),
    hopLimit: slab[h.l3At + Ip6Hdr.HOP_LIMIT] as number,
    payload: slab.subarray(h.l4At, h.l4End),
  };
  if (h.protocol === IpProtocol.Icmpv6) {
    const type = ip.payload[0];
    if (type === undefined) return malformedInput('icmpv6', malformed('empty ICMPv6 message'));
    return isNdpMessageType(type) && cfg.ndp !== false ? respondNdp(eth, ip, cfg, out) : PASS;
  }
  if (h.protocol !== IpProtocol.Udp || cfg.dhcpv6 === false) return PASS;
  const ports = udpPorts(ip.payload);
  if (ports === null || ports.dst !== DHCPV6_SERVER_PORT || ports.src !== DHCPV6_CLIENT_PORT) return PASS;
  if (!isForOurDhcpv6(ip, cfg)) return PASS;
  const payload = udpPayload(ip.payload, ip.src, ip.dst);
  if (isWireError(payload)) return malformedInput('udp', payload);
  return respondDhcpv6(eth, ip, payload, cfg, out);
}

/**
 * The responders' part of a frame that the engine's dispatcher already
 * parsed (`h`, offsets into `slab`): only the Ethernet header and the
 * upper layers are read here, never the IP header again.
 */
function dispatchParsed(slab: Uint8Array, at: number, len: number, h: FrameHeaders, cfg: LinkConfig, out: Out): Outcome {
  const view = EthernetFrame.checked(slab.subarray(at, at + len));
  if (isWireError(view)) return malformedInput('ethernet', view);
  const eth = parseEthernet(view);
  if (isWireError(eth)) return malformedInput('ethernet', eth);
  if (eth.ethertype === EtherType.Arp) return respondArp(eth, cfg, out);
  if (h.family === 4 && eth.ethertype === EtherType.Ipv4) return respondIpv4(eth, slab, h, cfg, out);
  if (h.family === 6 && eth.ethertype === EtherType.Ipv6) return respondIpv6(eth, slab, h, cfg, out);
  return PASS;
}

function dispatch(frame: Uint8Array, cfg: LinkConfig, out: Out): Outcome {
  const k = parseFrameHeaders(frame, 0, frame.length, scratch);
  if (k === FrameClass.Malformed) {
    const layer = frame.length < 14 ? 'ethernet' : scratch.etherType === EtherType.Ipv6 ? 'ipv6' : 'ipv4';
    return malformedInput(layer, malformed(scratch.detail || 'malformed frame'));
  }
  // Fragments carry no whole message. A VLAN-tagged frame has no IP parse,
  // but ARP is still answered on the VLAN it was asked on.
  if (k === FrameClass.Fragment) return PASS;
  return dispatchParsed(frame, 0, frame.length, scratch, cfg, out);
}

/** Runs a dispatch with the replies held back until it returned, and faults turned into outcomes. */
function guarded(run: (out: Out) => Outcome, out: Out, counters: ResponderCounters | undefined): Outcome {
  // Replies are collected and handed over after dispatch, so that a throw from the engine's own `out`
  // is the engine's to see, not mistaken for a fault of ours below.
  const replies: Uint8Array[] = [];
  let o: Outcome;
  try {
    o = run((r) => replies.push(r));
  } catch (e) {
    // Not expected: every parser returns its errors. Reported rather than rethrown so one bad frame cannot stop the loop.
    o = malformedInput('ethernet', malformed(`responder fault: ${e instanceof Error ? e.message : String(e)}`));
    replies.length = 0;
  }
  if (counters !== undefined) countOutcome(counters, o);
  for (const r of replies) out(r);
  return o;
}

/**
 * Offers a frame the engine's dispatcher has parsed (`h`: Ip or Arp, its
 * offsets into `slab`) to the responders; the same contract as `respond`.
 */
export function respondParsed(
  slab: Uint8Array,
  at: number,
  len: number,
  h: FrameHeaders,
  cfg: LinkConfig,
  out: Out,
  counters?: ResponderCounters,
): Handled {
  return handledOf(guarded((o) => dispatchParsed(slab, at, len, h, cfg, o), out, counters));
}

/**
 * `respond` with the detailed outcome: which protocol, and why a frame
 * got no answer. Same contract otherwise.
 */
export function respondDetailed(frame: Uint8Array, cfg: LinkConfig, out: Out, counters?: ResponderCounters): Outcome {
  return guarded((o) => dispatch(frame, cfg, o), out, counters);
}

/**
 * Offers one frame from the guest to the link-layer responders.
 * @param frame a whole Ethernet frame, without FCS; read, never modified or kept
 * @param cfg what the guest is to be told
 * @param out called with each reply frame (a fresh buffer the caller may keep), before `respond` returns
 * @param counters optional running totals, bumped once per call
 * @returns `pass` when the frame belongs to the rest of the engine; otherwise it is used up
 */
export function respond(frame: Uint8Array, cfg: LinkConfig, out: Out, counters?: ResponderCounters): Handled {
  return handledOf(respondDetailed(frame, cfg, out, counters));
}
