/**
 * Theory of operation.
 *
 * The guest's address is decided before it asks (it is the host's own
 * address, or whatever the user configured), so our DHCP server has no
 * pool and no lease table: every DISCOVER gets an OFFER of that one
 * address, every REQUEST for it an ACK, and a REQUEST for anything else a
 * NAK, which sends the client back to DISCOVER and so to the right
 * address. INFORM (a client with a static address asking for the rest)
 * gets an ACK without address or lease time; RELEASE and DECLINE need no
 * answer. A REQUEST naming another server identifier was meant for some
 * other server and is left alone, as RFC 2131 asks.
 *
 * Each ACK and OFFER carries everything a minimal client (busybox udhcpc)
 * needs to be fully configured: mask, router, resolvers, search domains,
 * MTU, and a lease of practically infinite length, since the address will
 * never be taken back. Our server identifier is the gateway address: it is
 * the one address the guest already routes to us, so a renewal unicast to
 * the server reaches us as well.
 *
 * A gateway outside the guest's subnet (a host on a /32, or a gateway on
 * another prefix) cannot be reached through option 3 alone, since the
 * client would find no on-link route to it. For that case we add the
 * classless static routes of RFC 3442: first a host route to the gateway
 * with router 0.0.0.0 (on-link), then the default route through it. A
 * client that understands option 121 ignores option 3, so the default
 * route must be in it too.
 *
 * Where the reply goes follows RFC 2131 4.1: a client that set the
 * broadcast flag cannot receive unicast before it has an address, so it
 * gets a broadcast; otherwise the OFFER and ACK go to the offered address
 * and the client's MAC (raw-socket clients like udhcpc and dhclient read
 * those). A NAK is always broadcast; an ACK to INFORM goes to the address
 * the client already uses.
 */
import {
  DHCPV4_CLIENT_PORT,
  DHCPV4_SERVER_PORT,
  Dhcpv4MessageType,
  addrEquals,
  dhcpv4BufferLength,
  dhcpv4Reply,
  emitDhcpv4,
  isUnspecified,
  isWireError,
  macBroadcast,
  parseDhcpv4Bytes,
  prefixMatches,
  type Dhcpv4Lease,
  type Dhcpv4Repr,
  type Dhcpv4Route,
  type EthernetRepr,
} from '@x/l2';
import { DEFAULT_LEASE_TIME, type Ipv4LinkConfig, type LinkConfig } from './config.js';
import { ipv4UdpFrame, replyLink } from './frame.js';
import { fromParseError, ignored, replied, replyFailed, type Outcome } from './result.js';

/** Smallest MTU an IPv4 host must accept (RFC 791), and so the least option 26 may carry. */
const IPV4_MIN_MTU = 68;

/** The netmask for a prefix length, as 4 address bytes. */
export function netmask(prefixLength: number): Uint8Array {
  const m = new Uint8Array(4);
  for (let k = 0; k < 4; k++) {
    const bits = Math.max(0, Math.min(8, prefixLength - 8 * k));
    m[k] = (0xff << (8 - bits)) & 0xff;
  }
  return m;
}

/** RFC 3442 routes for a gateway outside the guest's subnet, or none when it is on-link. */
export function classlessRoutes(v4: Ipv4LinkConfig): Dhcpv4Route[] {
  if (prefixMatches(v4.address, v4.gateway, v4.prefixLen)) return [];
  return [
    { destination: v4.gateway, prefixLength: 32, router: new Uint8Array(4) },
    { destination: new Uint8Array(4), prefixLength: 0, router: v4.gateway },
  ];
}

/** Everything an OFFER or ACK tells the guest, from the link facts. */
export function dhcpv4Lease(cfg: LinkConfig, v4: Ipv4LinkConfig): Dhcpv4Lease {
  const lease: Dhcpv4Lease = {
    yiaddr: v4.address,
    serverId: v4.gateway,
    subnetMask: netmask(v4.prefixLen),
    routers: [v4.gateway],
    dnsServers: [...v4.dns],
    domainSearch: [...cfg.searchDomains],
    leaseTime: v4.leaseTime ?? DEFAULT_LEASE_TIME,
    classlessRoutes: classlessRoutes(v4),
  };
  if (cfg.mtu >= IPV4_MIN_MTU && cfg.mtu <= 0xffff) lease.mtu = cfg.mtu;
  return lease;
}

type Decision =
  | {
      kind: 'reply';
      type: typeof Dhcpv4MessageType.Offer | typeof Dhcpv4MessageType.Ack | typeof Dhcpv4MessageType.Nak;
    }
  | { kind: 'ignore'; why: string };

/** What RFC 2131 (less the parts about pools) says to do with `req`. */
function decide(req: Dhcpv4Repr, v4: Ipv4LinkConfig): Decision {
  switch (req.messageType) {
    case Dhcpv4MessageType.Discover:
      return { kind: 'reply', type: Dhcpv4MessageType.Offer };
    case Dhcpv4MessageType.Request: {
      if (req.serverId !== null && !addrEquals(req.serverId, v4.gateway)) {
        return { kind: 'ignore', why: 'REQUEST for another server' };
      }
      // SELECTING and INIT-REBOOT name the address in option 50; RENEWING and REBINDING use ciaddr.
      const wanted = req.requestedIp ?? req.ciaddr;
      const ok = !isUnspecified(wanted) && addrEquals(wanted, v4.address);
      return { kind: 'reply', type: ok ? Dhcpv4MessageType.Ack : Dhcpv4MessageType.Nak };
    }
    case Dhcpv4MessageType.Inform:
      return { kind: 'reply', type: Dhcpv4MessageType.Ack };
    case Dhcpv4MessageType.Release:
      return { kind: 'ignore', why: 'RELEASE' };
    case Dhcpv4MessageType.Decline:
      return { kind: 'ignore', why: 'DECLINE' };
    default:
      return { kind: 'ignore', why: `server message ${req.messageType} from the guest` };
  }
}

/** Destination IP and MAC of `reply` to `req` (RFC 2131 4.1, without relays). */
function destination(req: Dhcpv4Repr, reply: Dhcpv4Repr): { ip: Uint8Array; mac: Uint8Array } {
  const broadcast = { ip: new Uint8Array([255, 255, 255, 255]), mac: macBroadcast() };
  if (reply.messageType === Dhcpv4MessageType.Nak) return broadcast;
  if (req.messageType === Dhcpv4MessageType.Inform) {
    return isUnspecified(req.ciaddr) ? broadcast : { ip: req.ciaddr, mac: req.chaddr };
  }
  if (!isUnspecified(req.ciaddr)) return { ip: req.ciaddr, mac: req.chaddr };
  if (req.broadcast) return broadcast;
  return { ip: reply.yiaddr, mac: req.chaddr };
}

/**
 * Answers one DHCP message (the payload of a UDP datagram to port 67).
 * @param eth the frame it came in (for the VLAN)
 * @param payload the UDP payload
 * @param cfg the link facts; DHCP stays silent without IPv4
 * @param out receives the reply frame, if any
 */
export function respondDhcpv4(
  eth: EthernetRepr,
  payload: Uint8Array,
  cfg: LinkConfig,
  out: (reply: Uint8Array) => void
): Outcome {
  const req = parseDhcpv4Bytes(payload);
  if (isWireError(req)) return fromParseError('dhcpv4', req);
  const v4 = cfg.v4;
  if (v4 === undefined) return ignored('dhcpv4', 'no IPv4 on this link');
  const d = decide(req, v4);
  if (d.kind === 'ignore') return ignored('dhcpv4', d.why);
  const reply = dhcpv4Reply(req, d.type, dhcpv4Lease(cfg, v4));
  const len = dhcpv4BufferLength(reply);
  if (isWireError(len)) return replyFailed('dhcpv4', len);
  const to = destination(req, reply);
  const frame = ipv4UdpFrame(
    replyLink(eth, cfg.ourMac, to.mac),
    v4.gateway,
    to.ip,
    DHCPV4_SERVER_PORT,
    DHCPV4_CLIENT_PORT,
    len,
    (into) => emitDhcpv4(reply, into)
  );
  if (isWireError(frame)) return replyFailed('dhcpv4', frame);
  out(frame);
  return replied('dhcpv4');
}
