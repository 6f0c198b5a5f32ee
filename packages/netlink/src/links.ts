/**
 * Links (network interfaces): list, look up, bring up, set MTU and MAC.
 *
 * Theory of operation: RTM_GETLINK with NLM_F_DUMP lists every link as an
 * RTM_NEWLINK message (ifinfomsg + attributes: IFLA_IFNAME, IFLA_MTU,
 * IFLA_ADDRESS...). A lookup by name is a single RTM_GETLINK carrying
 * IFLA_IFNAME, which the kernel answers with that one link or ENODEV. Changes
 * are RTM_NEWLINK on an existing index: the kernel applies only what the
 * message carries (the flags selected by ifi_change, the attributes given),
 * so each setter sends exactly one change, as the C passt does.
 */
import { invalid, malformed, NetlinkError } from "./errors.js";
import { formatMac, macBytes } from "./ip.js";
import {
  AF_UNSPEC,
  attrString,
  attrU32,
  findAttr,
  ifinfomsg,
  IFF_LOWER_UP,
  IFF_RUNNING,
  IFF_UP,
  IFLA_ADDRESS,
  IFLA_IFNAME,
  IFLA_INFO_KIND,
  IFLA_LINKINFO,
  IFLA_MTU,
  MessageBuilder,
  parseAttrs,
  parseIfinfomsg,
  RTM_GETLINK,
  RTM_NEWLINK,
  type NlMessage,
} from "./messages.js";
import type { NetlinkSocket } from "./socket.js";

/** The kernel's limit on interface names (IFNAMSIZ less the NUL). */
const IFNAME_MAX = 15;

export interface Link {
  index: number;
  name: string;
  /** IFF_* flags as the kernel reports them. */
  flags: number;
  /** Administratively up (IFF_UP). */
  up: boolean;
  /** Carrier present and operational (IFF_RUNNING / IFF_LOWER_UP). */
  running: boolean;
  lowerUp: boolean;
  mtu: number | undefined;
  /** Hardware address bytes (6 for Ethernet), if the link has one. */
  mac: Uint8Array | undefined;
  /** The MAC as "02:00:00:00:00:01", if any. */
  macText: string | undefined;
  /** ARPHRD_* type (1 Ethernet, 772 loopback...). */
  type: number;
  /** The driver kind ("veth", "dummy", "tun"...) when the kernel tells it. */
  kind: string | undefined;
}

/** Decodes one RTM_NEWLINK message. */
export function parseLink(m: NlMessage): Link {
  if (m.type !== RTM_NEWLINK) throw malformed(`expected a link message (type ${RTM_NEWLINK}), got type ${m.type}`);
  const info = parseIfinfomsg(m.payload);
  const nameAttr = findAttr(info.attrs, IFLA_IFNAME);
  const mtuAttr = findAttr(info.attrs, IFLA_MTU);
  const macAttr = findAttr(info.attrs, IFLA_ADDRESS);
  const linkInfo = findAttr(info.attrs, IFLA_LINKINFO);
  const kindAttr = linkInfo ? findAttr(parseAttrs(linkInfo.value), IFLA_INFO_KIND) : undefined;
  const mac = macAttr && macAttr.value.length > 0 ? macAttr.value.slice() : undefined;
  return {
    index: info.index,
    name: nameAttr ? attrString(nameAttr) : "",
    flags: info.flags,
    up: (info.flags & IFF_UP) !== 0,
    running: (info.flags & IFF_RUNNING) !== 0,
    lowerUp: (info.flags & IFF_LOWER_UP) !== 0,
    mtu: mtuAttr ? attrU32(mtuAttr, "IFLA_MTU") : undefined,
    mac,
    macText: mac ? formatMac(mac) : undefined,
    type: info.type,
    kind: kindAttr ? attrString(kindAttr) : undefined,
  };
}

export async function listLinks(sock: NetlinkSocket): Promise<Link[]> {
  const b = new MessageBuilder(RTM_GETLINK, 0).bytes(ifinfomsg({ family: AF_UNSPEC }));
  const replies = await sock.dump(b, "list links");
  return replies.filter((m) => m.type === RTM_NEWLINK).map(parseLink);
}

export function checkName(name: string): void {
  const len = new TextEncoder().encode(name).length;
  if (len === 0 || len > IFNAME_MAX || name.includes("/") || /\s/.test(name)) {
    throw invalid(`'${name}' is not a valid interface name (1 to ${IFNAME_MAX} bytes, no '/' or spaces)`);
  }
}

/** The link called `name`, or undefined when there is none. */
export async function linkByName(sock: NetlinkSocket, name: string): Promise<Link | undefined> {
  checkName(name);
  const b = new MessageBuilder(RTM_GETLINK, 0).bytes(ifinfomsg({ family: AF_UNSPEC })).string(IFLA_IFNAME, name);
  try {
    const replies = await sock.request(b, `look up link '${name}'`);
    const m = replies.find((r) => r.type === RTM_NEWLINK);
    return m ? parseLink(m) : undefined;
  } catch (e) {
    if (e instanceof NetlinkError && e.code === "ENODEV") return undefined;
    throw e;
  }
}

/** An index as given, or the index of the named link (ENODEV when none). */
export async function resolveIndex(sock: NetlinkSocket, link: number | string): Promise<number> {
  if (typeof link === "number") {
    if (!Number.isInteger(link) || link <= 0 || link > 0x7fffffff) throw invalid(`${link} is not an interface index`);
    return link;
  }
  const found = await linkByName(sock, link);
  if (!found) throw new NetlinkError("ENODEV", `no interface named '${link}'`, { errno: 19 });
  return found.index;
}

function change(index: number, flags: number, mask: number): MessageBuilder {
  return new MessageBuilder(RTM_NEWLINK, 0).bytes(ifinfomsg({ family: AF_UNSPEC, index, flags, change: mask }));
}

export async function setLinkUp(sock: NetlinkSocket, link: number | string, up: boolean): Promise<void> {
  const index = await resolveIndex(sock, link);
  await sock.request(change(index, up ? IFF_UP : 0, IFF_UP), `set link ${index} ${up ? "up" : "down"}`);
}

export async function setMtu(sock: NetlinkSocket, link: number | string, mtu: number): Promise<void> {
  if (!Number.isInteger(mtu) || mtu < 0 || mtu > 0xffffffff) throw invalid(`${mtu} is not an MTU`);
  const index = await resolveIndex(sock, link);
  await sock.request(change(index, 0, 0).u32(IFLA_MTU, mtu), `set MTU of link ${index} to ${mtu}`);
}

export async function setLinkAddress(sock: NetlinkSocket, link: number | string, mac: string | Uint8Array): Promise<void> {
  const bytes = macBytes(mac);
  const index = await resolveIndex(sock, link);
  await sock.request(change(index, 0, 0).attr(IFLA_ADDRESS, bytes), `set MAC of link ${index} to ${formatMac(bytes)}`);
}
