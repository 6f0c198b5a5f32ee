/**
 * Theory of operation.
 *
 * IPv6 does with ICMPv6 what IPv4 does with ARP and part of DHCP, and we
 * play the same part: the one router and every neighbour of the guest.
 *
 * Neighbour solicitations ask "which MAC has this address?". We answer
 * with our MAC for any target except the guest's own address, with the
 * router flag set (we are its router, and a neighbour entry marked as a
 * router is what lets the kernel keep using us as default route), and the
 * override flag (ours is the only answer, it should replace whatever the
 * guest cached). A solicitation from the unspecified address is the guest
 * doing duplicate address detection for an address it wants; answering it
 * would tell the guest the address is taken, so those get silence, as do
 * solicitations for the very address they come from.
 *
 * Router solicitations get a router advertisement, and the engine sends
 * the same advertisement unsolicited on a timer (`routerAdvertFrame`),
 * because a guest that missed the first one, or brought its interface up
 * before we were listening, would otherwise never configure itself. The
 * advertisement carries what the kernel needs for SLAAC and for routing:
 * the guest's /64 as an on-link, autonomous prefix; a router lifetime so
 * we become its default router; the MTU; our MAC in a source link-layer
 * option, so it need not resolve us first; and the resolvers (RDNSS) and
 * search domains (DNSSL) for userspace daemons that read them. Lifetimes
 * are infinite: the prefix is the host's and does not move under the
 * guest while we run.
 *
 * Everything goes out from our link-local address with hop limit 255:
 * RFC 4861 makes receivers drop NDP messages with any other hop limit
 * (that is how they know the sender is on-link) and requires a link-local
 * source for router advertisements. The same rule holds for what we
 * receive: a message that arrives with a lower hop limit was forwarded
 * and is not ours to believe.
 */
import {
  IpProtocol,
  addrEquals,
  emitIcmpv6,
  emptyNdpOptions,
  icmpv6BufferLength,
  ipv6MulticastMac,
  isUnspecified,
  isWireError,
  malformed,
  parseIcmpv6Bytes,
  type EthernetRepr,
  type Icmpv6Repr,
  type Ipv6Repr,
  type NdpOptions,
  type NdpRepr,
  type WireError,
} from '@x/l2';
import { DEFAULT_ROUTER_LIFETIME, type LinkConfig, type Ipv6LinkConfig } from './config.js';
import { ipv6Frame, replyLink, type LinkHeader } from './frame.js';
import { fromParseError, ignored, malformedInput, replied, replyFailed, type Outcome } from './result.js';

/** RFC 4861 6.1: the only hop limit an NDP message may carry. */
const NDP_HOP_LIMIT = 255;
/** Lifetime meaning "forever" in prefix, RDNSS and DNSSL options. */
const INFINITE = 0xffffffff;
/** Hop limit we suggest to the guest for its own traffic: the C implementation's (the field's maximum). */
const SUGGESTED_HOP_LIMIT = 255;
/** IPv6's minimum link MTU; an MTU option below it would be ignored anyway. */
const IPV6_MIN_MTU = 1280;

const FIRST_NDP_TYPE = 133;
const LAST_NDP_TYPE = 136;

/** ff02::1, all nodes on the link: where advertisements go. */
export function allNodesAddress(): Uint8Array {
  const a = new Uint8Array(16);
  a[0] = 0xff;
  a[1] = 0x02;
  a[15] = 1;
  return a;
}

/** Whether an ICMPv6 message type is one of the four NDP messages this module reads. */
export function isNdpMessageType(type: number): boolean {
  return type >= FIRST_NDP_TYPE && type <= LAST_NDP_TYPE;
}

/** The prefix of `addr`, host bits cleared. */
function prefixOf(addr: Uint8Array, prefixLength: number): Uint8Array {
  const p = new Uint8Array(16);
  for (let k = 0; k < 16; k++) {
    const bits = Math.max(0, Math.min(8, prefixLength - 8 * k));
    p[k] = (addr[k] ?? 0) & ((0xff << (8 - bits)) & 0xff);
  }
  return p;
}

/**
 * The router advertisement we send, as a representation: the facts of
 * `cfg` laid out as RFC 4861/8106 options. Exported for tests and for an
 * engine that wants to log what it advertises.
 */
export function routerAdvert(cfg: LinkConfig, v6: Ipv6LinkConfig): NdpRepr {
  const options: NdpOptions = emptyNdpOptions();
  options.sourceLinkAddr = cfg.ourMac;
  if (cfg.mtu >= IPV6_MIN_MTU) options.mtu = cfg.mtu;
  options.prefixes.push({
    prefixLength: v6.prefixLen,
    onLink: true,
    // SLAAC builds a 64-bit interface identifier: any other prefix length cannot be autoconfigured.
    autonomous: v6.prefixLen === 64,
    validLifetime: INFINITE,
    preferredLifetime: INFINITE,
    prefix: prefixOf(v6.address, v6.prefixLen),
  });
  if (v6.dns.length > 0) options.rdnss.push({ lifetime: INFINITE, servers: [...v6.dns] });
  if (cfg.searchDomains.length > 0) options.dnssl.push({ lifetime: INFINITE, domains: [...cfg.searchDomains] });
  return {
    type: 'routerAdvert',
    curHopLimit: SUGGESTED_HOP_LIMIT,
    // M set while our DHCPv6 server answers, as in C: clients that wait for
    // the flag before asking (systemd-networkd, NetworkManager) then ask.
    managed: v6.managed ?? cfg.dhcpv6 !== false,
    other: v6.other ?? false,
    routerLifetime: Math.min(v6.routerLifetime ?? DEFAULT_ROUTER_LIFETIME, 0xffff),
    reachableTime: 0,
    retransTime: 0,
    options,
  };
}

/** Frames an ICMPv6 message from our link-local address with hop limit 255. */
function ndpFrame(link: LinkHeader, v6: Ipv6LinkConfig, dst: Uint8Array, msg: Icmpv6Repr): Uint8Array | WireError {
  const len = icmpv6BufferLength(msg);
  if (isWireError(len)) return len;
  return ipv6Frame(link, v6.ourLinkLocal, dst, IpProtocol.Icmpv6, NDP_HOP_LIMIT, len, (into) =>
    emitIcmpv6(msg, into, v6.ourLinkLocal, dst)
  );
}

/**
 * A router advertisement to all nodes, for the engine's timer (and for
 * the answer to a solicitation, which is the same message). Returns null
 * when the link has no IPv6, or the error when the configuration cannot be
 * encoded (a search domain that is not a valid DNS name).
 */
export function routerAdvertFrame(cfg: LinkConfig): Uint8Array | null | WireError {
  const v6 = cfg.v6;
  if (v6 === undefined || cfg.ra === false || cfg.ndp === false) return null;
  const dst = allNodesAddress();
  const link: LinkHeader = { dst: ipv6MulticastMac(dst), src: cfg.ourMac, vlanId: null, vlanPriority: 0 };
  return ndpFrame(link, v6, dst, routerAdvert(cfg, v6));
}

/** What the IPv6 responders read of a packet: views into the frame, from the dispatcher's one parse. */
export type Ipv6Fields = Pick<Ipv6Repr, 'src' | 'dst' | 'hopLimit' | 'payload'>;

/**
 * Answers one NDP message.
 * @param eth the frame it came in (for the guest's MAC and VLAN)
 * @param ip the parsed IPv6 packet; its payload is the ICMPv6 message
 * @param cfg the link facts; NDP stays silent without IPv6
 * @param out receives the reply frame, if any
 */
export function respondNdp(
  eth: EthernetRepr,
  ip: Ipv6Fields,
  cfg: LinkConfig,
  out: (reply: Uint8Array) => void
): Outcome {
  if (ip.hopLimit !== NDP_HOP_LIMIT)
    return malformedInput('ndp', malformed(`NDP message with hop limit ${ip.hopLimit}`));
  const msg = parseIcmpv6Bytes(ip.payload, ip.src, ip.dst);
  if (isWireError(msg)) return fromParseError('ndp', msg);
  const v6 = cfg.v6;
  if (v6 === undefined) return ignored('ndp', 'no IPv6 on this link');
  switch (msg.type) {
    case 'neighborSolicit': {
      if (isUnspecified(ip.src)) return ignored('ndp', 'duplicate address detection');
      if (addrEquals(msg.target, v6.address)) return ignored('ndp', "solicitation for the guest's own address");
      if (addrEquals(msg.target, ip.src)) return ignored('ndp', 'solicitation for its own source address');
      const options = emptyNdpOptions();
      options.targetLinkAddr = cfg.ourMac;
      const advert: NdpRepr = {
        type: 'neighborAdvert',
        router: true,
        solicited: true,
        override: true,
        target: msg.target,
        options,
      };
      const guestMac = msg.options.sourceLinkAddr ?? eth.src;
      const frame = ndpFrame(replyLink(eth, cfg.ourMac, guestMac), v6, ip.src, advert);
      if (isWireError(frame)) return replyFailed('ndp', frame);
      out(frame);
      return replied('ndp');
    }
    case 'routerSolicit': {
      if (cfg.ra === false) return ignored('ndp', 'router advertisements are disabled');
      const dst = allNodesAddress();
      const frame = ndpFrame(replyLink(eth, cfg.ourMac, ipv6MulticastMac(dst)), v6, dst, routerAdvert(cfg, v6));
      if (isWireError(frame)) return replyFailed('ndp', frame);
      out(frame);
      return replied('ndp');
    }
    case 'routerAdvert':
      return ignored('ndp', 'router advertisement from the guest');
    case 'neighborAdvert':
      return ignored('ndp', 'neighbour advertisement from the guest');
    default:
      return ignored('ndp', `ICMPv6 ${msg.type} is not NDP`);
  }
}
