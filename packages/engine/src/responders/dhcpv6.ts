/**
 * Theory of operation.
 *
 * Like our DHCPv4 server, this one has exactly one address to give: the
 * guest's configured global address, the same for every identity
 * association the client asks about. A client that only wants settings
 * (INFORMATION-REQUEST, what a SLAAC guest sends when the router
 * advertisement sets the O flag) gets resolvers and search domains. The
 * exchange follows RFC 8415 section 18.3:
 *
 *   SOLICIT              -> ADVERTISE with the address, or REPLY at once
 *                           when the client offered rapid commit
 *   REQUEST/RENEW/REBIND -> REPLY with the address
 *   CONFIRM              -> REPLY saying whether the client's addresses
 *                           are still on our link (Success / NotOnLink)
 *   RELEASE/DECLINE      -> REPLY with Success: the client waits for it
 *   INFORMATION-REQUEST  -> REPLY with DNS servers and domain list
 *
 * Addresses a client still holds but that are not ours to give (it moved
 * from another network) are returned in the REPLY with zero lifetimes,
 * which is how RFC 8415 18.3.4 tells the client to drop them.
 *
 * A message carrying a server identifier that is not ours was meant for
 * another server and is ignored. Ours is a DUID-LL (type 3) built from our
 * MAC: stable for as long as the MAC is, which is all a client needs to
 * match replies with its earlier exchanges.
 *
 * Our ADVERTISE carries a Preference option of 255, the highest: RFC 8415
 * 18.2.1 lets a client that sees it go straight to REQUEST instead of
 * waiting a second or more for better offers that will never come.
 *
 * Lifetimes and renewal times are infinite, since the address never
 * changes while we run. Replies travel between link-local addresses, from
 * our link-local port 547 to the client's source address port 546, with
 * hop limit 255.
 */
import {
  DHCPV6_CLIENT_PORT,
  DHCPV6_SERVER_PORT,
  Dhcpv6MessageType,
  Dhcpv6StatusCode,
  addrEquals,
  dhcpv6BufferLength,
  dhcpv6Reply,
  emitDhcpv6,
  isWireError,
  parseDhcpv6Bytes,
  prefixMatches,
  type Dhcpv6Lease,
  type Dhcpv6Repr,
  type Dhcpv6Status,
  type EthernetRepr,
} from '@x/l2';
import type { Ipv6LinkConfig, LinkConfig } from './config.js';
import { ipv6UdpFrame, replyLink } from './frame.js';
import type { Ipv6Fields } from './ndp.js';
import { fromParseError, ignored, replied, replyFailed, type Outcome } from './result.js';

const INFINITE = 0xffffffff;
/** RFC 8415 21.8, Preference: not in @x/l2's representation, so appended by `withPreference`. */
const OPTION_PREFERENCE = 7;
const PREFERENCE_OPTION_LEN = 5;
const HIGHEST_PREFERENCE = 255;
const DUID_LL = 3;
const HW_ETHERNET = 1;

/** ff02::1:2, All_DHCP_Relay_Agents_and_Servers: where clients send. */
export function allDhcpServersAddress(): Uint8Array {
  const a = new Uint8Array(16);
  a[0] = 0xff;
  a[1] = 0x02;
  a[13] = 1;
  a[15] = 2;
  return a;
}

/** Our DUID-LL (RFC 8415 11.4): type 3, hardware type 1 (Ethernet), our MAC. */
export function serverDuid(ourMac: Uint8Array): Uint8Array {
  const d = new Uint8Array(4 + 6);
  d[1] = DUID_LL;
  d[3] = HW_ETHERNET;
  d.set(ourMac.subarray(0, 6), 4);
  return d;
}

function leaseFor(cfg: LinkConfig, v6: Ipv6LinkConfig, withAddress: boolean, status: Dhcpv6Status | null): Dhcpv6Lease {
  return {
    serverId: serverDuid(cfg.ourMac),
    addresses: withAddress ? [v6.address] : [],
    preferredLifetime: INFINITE,
    validLifetime: INFINITE,
    t1: INFINITE,
    t2: INFINITE,
    dnsServers: [...v6.dns],
    domainList: [...cfg.searchDomains],
    status,
  };
}

/** Adds, to each IA of `reply`, the addresses the client listed for it that are not ours, with zero lifetimes. */
function withdrawForeign(req: Dhcpv6Repr, reply: Dhcpv6Repr, v6: Ipv6LinkConfig): void {
  reply.iaNa.forEach((ia, k) => {
    const asked = req.iaNa[k];
    if (asked === undefined) return;
    for (const a of asked.addresses) {
      if (addrEquals(a.addr, v6.address)) continue;
      ia.addresses.push({ addr: a.addr, preferredLifetime: 0, validLifetime: 0, status: null });
    }
  });
}

function success(message: string): Dhcpv6Status {
  return { code: Dhcpv6StatusCode.Success, message };
}

/** The reply RFC 8415 18.3 asks for, or why there is none. */
function replyTo(req: Dhcpv6Repr, cfg: LinkConfig, v6: Ipv6LinkConfig): Dhcpv6Repr | string {
  const { Advertise, Reply } = Dhcpv6MessageType;
  switch (req.messageType) {
    case Dhcpv6MessageType.Solicit: {
      if (req.iaNa.length === 0) {
        // Only prefix delegation or temporary addresses asked for: nothing we hand out.
        const status = { code: Dhcpv6StatusCode.NoAddrsAvail, message: 'only IA_NA is served' };
        return dhcpv6Reply(req, Advertise, leaseFor(cfg, v6, false, status));
      }
      return dhcpv6Reply(req, req.rapidCommit ? Reply : Advertise, leaseFor(cfg, v6, true, null));
    }
    case Dhcpv6MessageType.Request:
    case Dhcpv6MessageType.Renew:
    case Dhcpv6MessageType.Rebind: {
      const reply = dhcpv6Reply(req, Reply, leaseFor(cfg, v6, true, null));
      withdrawForeign(req, reply, v6);
      return reply;
    }
    case Dhcpv6MessageType.Confirm: {
      const addrs = req.iaNa.flatMap((ia) => ia.addresses.map((a) => a.addr));
      if (addrs.length === 0) return 'CONFIRM without addresses'; // RFC 8415 18.3.3: no reply.
      const onLink = addrs.every((a) => prefixMatches(a, v6.address, v6.prefixLen));
      const status = onLink
        ? success('addresses are on link')
        : { code: Dhcpv6StatusCode.NotOnLink, message: 'addresses are not on this link' };
      return dhcpv6Reply({ ...req, iaNa: [] }, Reply, leaseFor(cfg, v6, false, status));
    }
    case Dhcpv6MessageType.Release:
    case Dhcpv6MessageType.Decline:
      return dhcpv6Reply({ ...req, iaNa: [] }, Reply, { serverId: serverDuid(cfg.ourMac), status: success('done') });
    case Dhcpv6MessageType.InformationRequest:
      return dhcpv6Reply({ ...req, iaNa: [] }, Reply, leaseFor(cfg, v6, false, null));
    default:
      return `server message ${req.messageType} from the guest`;
  }
}

/** Appends a Preference option (code 7, length 1, value 255) at `at`; returns the new end. */
function appendPreference(into: Uint8Array, at: number): number {
  into[at] = 0;
  into[at + 1] = OPTION_PREFERENCE;
  into[at + 2] = 0;
  into[at + 3] = 1;
  into[at + 4] = HIGHEST_PREFERENCE;
  return at + PREFERENCE_OPTION_LEN;
}

/**
 * Answers one DHCPv6 message (the payload of a UDP datagram to port 547).
 * @param eth the frame it came in (the reply goes back to its source MAC)
 * @param ip the IPv6 packet (the reply goes back to its source address)
 * @param payload the UDP payload
 * @param cfg the link facts; DHCPv6 stays silent without IPv6
 * @param out receives the reply frame, if any
 */
export function respondDhcpv6(
  eth: EthernetRepr,
  ip: Ipv6Fields,
  payload: Uint8Array,
  cfg: LinkConfig,
  out: (reply: Uint8Array) => void
): Outcome {
  const req = parseDhcpv6Bytes(payload);
  if (isWireError(req)) return fromParseError('dhcpv6', req);
  const v6 = cfg.v6;
  if (v6 === undefined) return ignored('dhcpv6', 'no IPv6 on this link');
  if (req.serverId !== null && !addrEquals(req.serverId, serverDuid(cfg.ourMac))) {
    return ignored('dhcpv6', 'message for another server');
  }
  const reply = replyTo(req, cfg, v6);
  if (typeof reply === 'string') return ignored('dhcpv6', reply);
  const base = dhcpv6BufferLength(reply);
  if (isWireError(base)) return replyFailed('dhcpv6', base);
  const preferred = reply.messageType === Dhcpv6MessageType.Advertise;
  const len = base + (preferred ? PREFERENCE_OPTION_LEN : 0);
  const frame = ipv6UdpFrame(
    replyLink(eth, cfg.ourMac, eth.src),
    v6.ourLinkLocal,
    ip.src,
    DHCPV6_SERVER_PORT,
    DHCPV6_CLIENT_PORT,
    len,
    (into) => {
      const n = emitDhcpv6(reply, into);
      if (isWireError(n) || !preferred) return n;
      return appendPreference(into, n);
    }
  );
  if (isWireError(frame)) return replyFailed('dhcpv6', frame);
  out(frame);
  return replied('dhcpv6');
}
