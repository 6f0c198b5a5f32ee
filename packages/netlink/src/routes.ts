/**
 * Routes of the main table: list, add, delete.
 *
 * Theory of operation: RTM_GETROUTE with NLM_F_DUMP lists routes as
 * RTM_NEWROUTE messages: an rtmsg (family, destination prefix length, table,
 * protocol, scope, type, flags) then attributes: RTA_DST (absent for the
 * default route), RTA_GATEWAY, RTA_OIF, RTA_PRIORITY (the metric), RTA_TABLE
 * (the full table number; rtm_table only holds 8 bits) and RTA_MULTIPATH for
 * routes over several next hops. The kernel may ignore the family and table
 * in a dump request, so both are filtered here; only the main table is kept,
 * which leaves out the local and broadcast routes of the "local" table.
 * Adding sends NLM_F_CREATE|NLM_F_EXCL (EEXIST for a duplicate) with
 * protocol "boot" and scope "link" for a route without a gateway, "universe"
 * with one, as `ip route add` does; RTNH_F_ONLINK lets the gateway lie
 * outside every prefix of the interface.
 */
import { invalid, malformed } from "./errors.js";
import { addressLength, ipBytes, ipFromBytes, type Family, type Ip, type IpInput } from "./ip.js";
import { checkFamily, familyCode } from "./addresses.js";
import {
  AF_INET,
  AF_INET6,
  attrAddress,
  attrU32,
  findAttr,
  MessageBuilder,
  NLM_F_CREATE,
  NLM_F_EXCL,
  parseNextHops,
  parseRtmsg,
  RT_SCOPE_LINK,
  RT_SCOPE_UNIVERSE,
  RT_TABLE_MAIN,
  RTA_DST,
  RTA_GATEWAY,
  RTA_MULTIPATH,
  RTA_OIF,
  RTA_PREFSRC,
  RTA_PRIORITY,
  RTA_TABLE,
  RTM_DELROUTE,
  RTM_GETROUTE,
  RTM_NEWROUTE,
  RTN_UNICAST,
  RTNH_F_ONLINK,
  RTPROT_BOOT,
  rtmsg,
  type NlMessage,
} from "./messages.js";
import type { NetlinkSocket } from "./socket.js";

export interface NextHopInfo {
  oif: number;
  gateway: Ip | undefined;
  /** RTNH_F_* bits (RTNH_F_ONLINK = 4). */
  flags: number;
  /** Weight less one, as the kernel stores it. */
  hops: number;
}

export interface Route {
  family: Family;
  /** The destination; undefined for a default route. */
  dst: Ip | undefined;
  prefixLen: number;
  gateway: Ip | undefined;
  /** Output interface index; undefined for multipath routes (see nextHops). */
  oif: number | undefined;
  /** The metric (RTA_PRIORITY); 0 when the kernel sent none. */
  priority: number;
  /** Preferred source address, if set. */
  prefSrc: Ip | undefined;
  table: number;
  /** RTPROT_*: 2 kernel, 3 boot, 4 static... */
  protocol: number;
  scope: number;
  /** RTN_*: 1 unicast, 6 blackhole, 7 unreachable... */
  type: number;
  /** RTNH_F_* / RTM_F_* bits of rtm_flags. */
  flags: number;
  onlink: boolean;
  /** The next hops of a multipath route; empty otherwise. */
  nextHops: NextHopInfo[];
}

/** Decodes one RTM_NEWROUTE message; undefined for families other than IPv4/IPv6. */
export function parseRoute(m: NlMessage): Route | undefined {
  if (m.type !== RTM_NEWROUTE) throw malformed(`expected a route message (type ${RTM_NEWROUTE}), got type ${m.type}`);
  const r = parseRtmsg(m.payload);
  if (r.family !== AF_INET && r.family !== AF_INET6) return undefined;
  const family: Family = r.family === AF_INET ? 4 : 6;
  if (r.dstLen > addressLength(family) * 8) throw malformed(`destination prefix length ${r.dstLen} for IPv${family}`);
  const addr = (type: number, what: string): Ip | undefined => {
    const a = findAttr(r.attrs, type);
    return a ? ipFromBytes(attrAddress(a, r.family, what)) : undefined;
  };
  const tableAttr = findAttr(r.attrs, RTA_TABLE);
  const oifAttr = findAttr(r.attrs, RTA_OIF);
  const prioAttr = findAttr(r.attrs, RTA_PRIORITY);
  const mp = findAttr(r.attrs, RTA_MULTIPATH);
  const nextHops: NextHopInfo[] = mp
    ? parseNextHops(mp.value).map((h) => {
        const gw = findAttr(h.attrs, RTA_GATEWAY);
        return {
          oif: h.ifindex,
          gateway: gw ? ipFromBytes(attrAddress(gw, r.family, "next hop gateway")) : undefined,
          flags: h.flags,
          hops: h.hops,
        };
      })
    : [];
  return {
    family,
    dst: addr(RTA_DST, "RTA_DST"),
    prefixLen: r.dstLen,
    gateway: addr(RTA_GATEWAY, "RTA_GATEWAY"),
    oif: oifAttr ? attrU32(oifAttr, "RTA_OIF") : undefined,
    priority: prioAttr ? attrU32(prioAttr, "RTA_PRIORITY") : 0,
    prefSrc: addr(RTA_PREFSRC, "RTA_PREFSRC"),
    table: tableAttr ? attrU32(tableAttr, "RTA_TABLE") : r.table,
    protocol: r.protocol,
    scope: r.scope,
    type: r.type,
    flags: r.flags,
    onlink: (r.flags & RTNH_F_ONLINK) !== 0,
    nextHops,
  };
}

/** The routes of `family` in the main table, in the kernel's order. */
export async function listRoutes(sock: NetlinkSocket, family: Family): Promise<Route[]> {
  checkFamily(family);
  const b = new MessageBuilder(RTM_GETROUTE, 0).bytes(rtmsg({ family: familyCode(family), table: RT_TABLE_MAIN }));
  const replies = await sock.dump(b, `list IPv${family} routes`);
  const out: Route[] = [];
  for (const m of replies) {
    if (m.type !== RTM_NEWROUTE) continue;
    const r = parseRoute(m);
    if (r && r.family === family && r.table === RT_TABLE_MAIN) out.push(r);
  }
  return out;
}

export interface RouteSpec {
  /** The destination; the default route when omitted. */
  dst?: IpInput;
  /** Defaults to 0 without dst, to a host route (32/128) with one. */
  prefixLen?: number;
  gateway?: IpInput;
  /** Output interface index. */
  oif: number;
  /** The metric (RTA_PRIORITY). */
  metric?: number;
  /** RTNH_F_ONLINK: the gateway is reachable on the link though outside its prefixes. */
  onlink?: boolean;
  /** Routing table; the main table (254) by default. */
  table?: number;
}

function routeMessage(type: number, flags: number, family: Family, spec: RouteSpec): { b: MessageBuilder; text: string } {
  checkFamily(family);
  const max = addressLength(family) * 8;
  const dst = spec.dst === undefined ? undefined : ipBytes(spec.dst, family, "route destination");
  const prefixLen = spec.prefixLen ?? (dst ? max : 0);
  if (!Number.isInteger(prefixLen) || prefixLen < 0 || prefixLen > max) {
    throw invalid(`prefix length ${prefixLen} is not within 0..${max} for IPv${family}`);
  }
  if (!dst && prefixLen !== 0) throw invalid(`a route without a destination is the default route: prefix length must be 0, not ${prefixLen}`);
  if (!Number.isInteger(spec.oif) || spec.oif <= 0) throw invalid(`${spec.oif} is not an interface index`);
  const gateway = spec.gateway === undefined ? undefined : ipBytes(spec.gateway, family, "gateway");
  const table = spec.table ?? RT_TABLE_MAIN;
  const b = new MessageBuilder(type, flags).bytes(
    rtmsg({
      family: familyCode(family),
      dstLen: prefixLen,
      table: table < 256 ? table : 0,
      protocol: RTPROT_BOOT,
      scope: gateway || family === 6 ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK,
      type: RTN_UNICAST,
      flags: spec.onlink ? RTNH_F_ONLINK : 0,
    }),
  );
  if (dst && prefixLen > 0) b.attr(RTA_DST, dst);
  if (gateway) b.attr(RTA_GATEWAY, gateway);
  b.u32(RTA_OIF, spec.oif);
  if (spec.metric !== undefined) b.u32(RTA_PRIORITY, spec.metric);
  if (table >= 256) b.u32(RTA_TABLE, table);
  const where = dst && prefixLen > 0 ? `${ipFromBytes(dst).text}/${prefixLen}` : "default";
  const via = gateway ? ` via ${ipFromBytes(gateway).text}` : "";
  return { b, text: `IPv${family} route ${where}${via} dev ${spec.oif}` };
}

export async function addRoute(sock: NetlinkSocket, family: Family, spec: RouteSpec): Promise<void> {
  const { b, text } = routeMessage(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, family, spec);
  await sock.request(b, `add ${text}`);
}

export async function deleteRoute(sock: NetlinkSocket, family: Family, spec: RouteSpec): Promise<void> {
  const { b, text } = routeMessage(RTM_DELROUTE, 0, family, spec);
  await sock.request(b, `delete ${text}`);
}
