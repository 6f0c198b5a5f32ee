/**
 * The rtnetlink wire format, built and parsed over Uint8Array/DataView.
 *
 * Theory of operation: a netlink datagram is a run of messages, each a
 * 16-byte nlmsghdr (length, type, flags, sequence, port id) followed by a
 * payload and padded to 4 bytes. rtnetlink payloads start with a fixed
 * family header (ifinfomsg for links, ifaddrmsg for addresses, rtmsg for
 * routes) and go on with attributes: 4-byte rtattr headers (length, type)
 * each followed by a value and padding to 4 bytes. Header fields and integer
 * attributes are in the host's byte order; addresses are in network order.
 *
 * Building appends to a growing buffer and patches the length at the end.
 * Parsing never trusts a length: every one is checked against what is left
 * of the buffer before it is used, and anything that does not fit throws a
 * NetlinkError with code EBADMSG saying what and where. Parsed payloads and
 * values are views into the input, not copies.
 */
import { malformed } from "./errors.js";

// ---- Offsets and sizes (from <linux/netlink.h> and <linux/rtnetlink.h>) ----

/** nlmsghdr: u32 len, u16 type, u16 flags, u32 seq, u32 pid. */
export const NLMSG_HDRLEN = 16;
const NLH_LEN = 0;
const NLH_TYPE = 4;
const NLH_FLAGS = 6;
const NLH_SEQ = 8;
const NLH_PID = 12;

/** rtattr: u16 len, u16 type, then the value. */
export const RTA_HDRLEN = 4;
const RTA_LEN = 0;
const RTA_TYPE = 2;

/** ifinfomsg: u8 family, u8 pad, u16 type, s32 index, u32 flags, u32 change. */
export const IFINFOMSG_LEN = 16;
const IFI_FAMILY = 0;
const IFI_TYPE = 2;
const IFI_INDEX = 4;
const IFI_FLAGS = 8;
const IFI_CHANGE = 12;

/** ifaddrmsg: u8 family, u8 prefixlen, u8 flags, u8 scope, u32 index. */
export const IFADDRMSG_LEN = 8;
const IFA_FAMILY = 0;
const IFA_PREFIXLEN = 1;
const IFA_FLAGS_BYTE = 2;
const IFA_SCOPE = 3;
const IFA_INDEX = 4;

/** rtmsg: u8 family, dst_len, src_len, tos, table, protocol, scope, type; u32 flags. */
export const RTMSG_LEN = 12;
const RTM_FAMILY = 0;
const RTM_DST_LEN = 1;
const RTM_SRC_LEN = 2;
const RTM_TOS = 3;
const RTM_TABLE = 4;
const RTM_PROTOCOL = 5;
const RTM_SCOPE = 6;
const RTM_TYPE = 7;
const RTM_FLAGS = 8;

/** rtnexthop (inside RTA_MULTIPATH): u16 len, u8 flags, u8 hops, s32 ifindex. */
export const RTNH_LEN = 8;
const RTNH_LENGTH = 0;
const RTNH_FLAGS = 2;
const RTNH_HOPS = 3;
const RTNH_IFINDEX = 4;

/** nlmsgerr: s32 error, then the request's nlmsghdr (and maybe more). */
const NLE_ERROR = 0;
const NLE_ORIGINAL = 4;

// ---- Constants ----

export const NLMSG_NOOP = 1;
export const NLMSG_ERROR = 2;
export const NLMSG_DONE = 3;
export const NLMSG_OVERRUN = 4;

export const NLM_F_REQUEST = 0x01;
export const NLM_F_MULTI = 0x02;
export const NLM_F_ACK = 0x04;
export const NLM_F_DUMP_INTR = 0x10;
export const NLM_F_DUMP = 0x300;
export const NLM_F_REPLACE = 0x100;
export const NLM_F_EXCL = 0x200;
export const NLM_F_CREATE = 0x400;
/** In an NLMSG_ERROR: the echoed request was cut to its header. */
export const NLM_F_CAPPED = 0x100;
/** In an NLMSG_ERROR or NLMSG_DONE: extended-ack attributes follow. */
export const NLM_F_ACK_TLVS = 0x200;
export const NLMSGERR_ATTR_MSG = 1;

export const RTM_NEWLINK = 16;
export const RTM_DELLINK = 17;
export const RTM_GETLINK = 18;
export const RTM_NEWADDR = 20;
export const RTM_DELADDR = 21;
export const RTM_GETADDR = 22;
export const RTM_NEWROUTE = 24;
export const RTM_DELROUTE = 25;
export const RTM_GETROUTE = 26;

export const AF_UNSPEC = 0;
export const AF_INET = 2;
export const AF_INET6 = 10;

export const IFF_UP = 0x1;
export const IFF_LOOPBACK = 0x8;
export const IFF_RUNNING = 0x40;
export const IFF_LOWER_UP = 0x10000;

export const IFLA_ADDRESS = 1;
export const IFLA_BROADCAST = 2;
export const IFLA_IFNAME = 3;
export const IFLA_MTU = 4;
export const IFLA_LINK = 5;
export const IFLA_OPERSTATE = 16;
export const IFLA_LINKINFO = 18;
export const IFLA_INFO_KIND = 1;

export const IFA_ADDRESS = 1;
export const IFA_LOCAL = 2;
export const IFA_LABEL = 3;
export const IFA_BROADCAST = 4;
export const IFA_FLAGS = 8;

export const IFA_F_SECONDARY = 0x01;
export const IFA_F_NODAD = 0x02;
export const IFA_F_OPTIMISTIC = 0x04;
export const IFA_F_DADFAILED = 0x08;
export const IFA_F_DEPRECATED = 0x20;
export const IFA_F_TENTATIVE = 0x40;
export const IFA_F_PERMANENT = 0x80;
export const IFA_F_NOPREFIXROUTE = 0x200;

export const RTA_DST = 1;
export const RTA_SRC = 2;
export const RTA_OIF = 4;
export const RTA_GATEWAY = 5;
export const RTA_PRIORITY = 6;
export const RTA_PREFSRC = 7;
export const RTA_MULTIPATH = 9;
export const RTA_TABLE = 15;

export const RT_TABLE_MAIN = 254;
export const RTPROT_BOOT = 3;
export const RTPROT_STATIC = 4;
export const RT_SCOPE_UNIVERSE = 0;
export const RT_SCOPE_SITE = 200;
export const RT_SCOPE_LINK = 253;
export const RT_SCOPE_HOST = 254;
export const RT_SCOPE_NOWHERE = 255;
export const RTN_UNICAST = 1;
export const RTNH_F_ONLINK = 0x4;

/** The type bits of rtattr.type: the top two are the NESTED and NET_BYTEORDER flags. */
const NLA_TYPE_MASK = 0x3fff;
const NLA_F_NESTED = 0x8000;

/** Integers in headers and attributes are in the host's order. */
const LITTLE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export function align4(n: number): number {
  return (n + 3) & ~3;
}

function view(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

// ---- Building ----

/**
 * One request under construction. The family header and attributes are
 * appended in order; `finish` writes the header with the sequence number.
 */
export class MessageBuilder {
  private buf = new Uint8Array(256);
  private len = NLMSG_HDRLEN;

  constructor(
    readonly type: number,
    readonly flags: number,
  ) {}

  private reserve(n: number): number {
    const at = this.len;
    const need = at + align4(n);
    if (need > this.buf.length) {
      const bigger = new Uint8Array(Math.max(need, this.buf.length * 2));
      bigger.set(this.buf.subarray(0, this.len));
      this.buf = bigger;
    }
    this.len = need;
    return at;
  }

  /** Appends raw bytes padded to 4 (the family header). */
  bytes(b: Uint8Array): this {
    const at = this.reserve(b.length);
    this.buf.set(b, at);
    return this;
  }

  attr(type: number, value: Uint8Array): this {
    const total = RTA_HDRLEN + value.length;
    if (total > 0xffff) throw new RangeError(`attribute ${type} of ${value.length} bytes does not fit an rtattr`);
    const at = this.reserve(total);
    const v = view(this.buf);
    v.setUint16(at + RTA_LEN, total, LITTLE);
    v.setUint16(at + RTA_TYPE, type, LITTLE);
    this.buf.set(value, at + RTA_HDRLEN);
    return this;
  }

  u32(type: number, value: number): this {
    const b = new Uint8Array(4);
    view(b).setUint32(0, value >>> 0, LITTLE);
    return this.attr(type, b);
  }

  /** A NUL-terminated string attribute. */
  string(type: number, value: string): this {
    const enc = new TextEncoder().encode(value);
    const b = new Uint8Array(enc.length + 1);
    b.set(enc);
    return this.attr(type, b);
  }

  /** The finished datagram; `extraFlags` are ORed in (the socket adds REQUEST, ACK, DUMP). */
  finish(seq: number, extraFlags = 0): Uint8Array {
    const out = this.buf.slice(0, this.len);
    const v = view(out);
    v.setUint32(NLH_LEN, this.len, LITTLE);
    v.setUint16(NLH_TYPE, this.type, LITTLE);
    v.setUint16(NLH_FLAGS, this.flags | extraFlags, LITTLE);
    v.setUint32(NLH_SEQ, seq >>> 0, LITTLE);
    v.setUint32(NLH_PID, 0, LITTLE);
    return out;
  }
}

export interface IfInfoHeader {
  family: number;
  type: number;
  index: number;
  flags: number;
  change: number;
}

export function ifinfomsg(h: Partial<IfInfoHeader>): Uint8Array {
  const b = new Uint8Array(IFINFOMSG_LEN);
  const v = view(b);
  v.setUint8(IFI_FAMILY, h.family ?? AF_UNSPEC);
  v.setUint16(IFI_TYPE, h.type ?? 0, LITTLE);
  v.setInt32(IFI_INDEX, h.index ?? 0, LITTLE);
  v.setUint32(IFI_FLAGS, (h.flags ?? 0) >>> 0, LITTLE);
  v.setUint32(IFI_CHANGE, (h.change ?? 0) >>> 0, LITTLE);
  return b;
}

export interface IfAddrHeader {
  family: number;
  prefixLen: number;
  flags: number;
  scope: number;
  index: number;
}

export function ifaddrmsg(h: Partial<IfAddrHeader>): Uint8Array {
  const b = new Uint8Array(IFADDRMSG_LEN);
  const v = view(b);
  v.setUint8(IFA_FAMILY, h.family ?? AF_UNSPEC);
  v.setUint8(IFA_PREFIXLEN, h.prefixLen ?? 0);
  v.setUint8(IFA_FLAGS_BYTE, (h.flags ?? 0) & 0xff);
  v.setUint8(IFA_SCOPE, h.scope ?? 0);
  v.setUint32(IFA_INDEX, h.index ?? 0, LITTLE);
  return b;
}

export interface RtHeader {
  family: number;
  dstLen: number;
  srcLen: number;
  tos: number;
  table: number;
  protocol: number;
  scope: number;
  type: number;
  flags: number;
}

export function rtmsg(h: Partial<RtHeader>): Uint8Array {
  const b = new Uint8Array(RTMSG_LEN);
  const v = view(b);
  v.setUint8(RTM_FAMILY, h.family ?? AF_UNSPEC);
  v.setUint8(RTM_DST_LEN, h.dstLen ?? 0);
  v.setUint8(RTM_SRC_LEN, h.srcLen ?? 0);
  v.setUint8(RTM_TOS, h.tos ?? 0);
  v.setUint8(RTM_TABLE, h.table ?? 0);
  v.setUint8(RTM_PROTOCOL, h.protocol ?? 0);
  v.setUint8(RTM_SCOPE, h.scope ?? 0);
  v.setUint8(RTM_TYPE, h.type ?? 0);
  v.setUint32(RTM_FLAGS, (h.flags ?? 0) >>> 0, LITTLE);
  return b;
}

// ---- Parsing ----

export interface NlMessage {
  type: number;
  flags: number;
  seq: number;
  pid: number;
  /** The bytes after the header, a view into the parsed buffer. */
  payload: Uint8Array;
}

/** Splits one datagram into its messages. Throws EBADMSG on any bad length. */
export function parseMessages(data: Uint8Array): NlMessage[] {
  const out: NlMessage[] = [];
  const v = view(data);
  let at = 0;
  while (at < data.length) {
    const left = data.length - at;
    if (left < NLMSG_HDRLEN) malformedAt(`${left} bytes at offset ${at}, too short for a ${NLMSG_HDRLEN}-byte message header`);
    const len = v.getUint32(at + NLH_LEN, LITTLE);
    if (len < NLMSG_HDRLEN) malformedAt(`message at offset ${at} claims length ${len}, less than its header`);
    if (len > left) malformedAt(`message at offset ${at} claims length ${len} but only ${left} bytes are left`);
    out.push({
      type: v.getUint16(at + NLH_TYPE, LITTLE),
      flags: v.getUint16(at + NLH_FLAGS, LITTLE),
      seq: v.getUint32(at + NLH_SEQ, LITTLE),
      pid: v.getUint32(at + NLH_PID, LITTLE),
      payload: data.subarray(at + NLMSG_HDRLEN, at + len),
    });
    at += Math.min(align4(len), left);
  }
  return out;
}

function malformedAt(what: string): never {
  throw malformed(what);
}

export interface Attr {
  /** The type without the NESTED and NET_BYTEORDER flag bits. */
  type: number;
  nested: boolean;
  value: Uint8Array;
}

/** Splits an attribute area into attributes. Throws EBADMSG on any bad length. */
export function parseAttrs(data: Uint8Array): Attr[] {
  const out: Attr[] = [];
  const v = view(data);
  let at = 0;
  while (at < data.length) {
    const left = data.length - at;
    if (left < RTA_HDRLEN) malformedAt(`${left} stray bytes at offset ${at} where an attribute header should be`);
    const len = v.getUint16(at + RTA_LEN, LITTLE);
    const rawType = v.getUint16(at + RTA_TYPE, LITTLE);
    if (len < RTA_HDRLEN) malformedAt(`attribute ${rawType & NLA_TYPE_MASK} at offset ${at} claims length ${len}, less than its header`);
    if (len > left) {
      malformedAt(`attribute ${rawType & NLA_TYPE_MASK} at offset ${at} claims length ${len} but only ${left} bytes are left`);
    }
    out.push({
      type: rawType & NLA_TYPE_MASK,
      nested: (rawType & NLA_F_NESTED) !== 0,
      value: data.subarray(at + RTA_HDRLEN, at + len),
    });
    at += Math.min(align4(len), left);
  }
  return out;
}

/** The first attribute of this type, if any. */
export function findAttr(attrs: readonly Attr[], type: number): Attr | undefined {
  return attrs.find((a) => a.type === type);
}

export function attrU8(a: Attr, what: string): number {
  if (a.value.length < 1) malformedAt(`${what}: empty attribute`);
  return a.value[0] ?? 0;
}

export function attrU32(a: Attr, what: string): number {
  if (a.value.length < 4) malformedAt(`${what}: ${a.value.length}-byte attribute, want 4`);
  return view(a.value).getUint32(0, LITTLE);
}

/** A string attribute, up to its first NUL. */
export function attrString(a: Attr): string {
  const nul = a.value.indexOf(0);
  return new TextDecoder().decode(nul < 0 ? a.value : a.value.subarray(0, nul));
}

/** An address attribute of `family` (AF_INET/AF_INET6): a copy of its bytes. */
export function attrAddress(a: Attr, family: number, what: string): Uint8Array {
  const want = family === AF_INET ? 4 : 16;
  if (a.value.length !== want) malformedAt(`${what}: ${a.value.length}-byte address, want ${want}`);
  return a.value.slice();
}

export interface IfInfo extends IfInfoHeader {
  attrs: Attr[];
}

export function parseIfinfomsg(payload: Uint8Array): IfInfo {
  if (payload.length < IFINFOMSG_LEN) malformedAt(`link message of ${payload.length} bytes, shorter than ifinfomsg (${IFINFOMSG_LEN})`);
  const v = view(payload);
  return {
    family: v.getUint8(IFI_FAMILY),
    type: v.getUint16(IFI_TYPE, LITTLE),
    index: v.getInt32(IFI_INDEX, LITTLE),
    flags: v.getUint32(IFI_FLAGS, LITTLE),
    change: v.getUint32(IFI_CHANGE, LITTLE),
    attrs: parseAttrs(payload.subarray(IFINFOMSG_LEN)),
  };
}

export interface IfAddr extends IfAddrHeader {
  attrs: Attr[];
}

export function parseIfaddrmsg(payload: Uint8Array): IfAddr {
  if (payload.length < IFADDRMSG_LEN) malformedAt(`address message of ${payload.length} bytes, shorter than ifaddrmsg (${IFADDRMSG_LEN})`);
  const v = view(payload);
  return {
    family: v.getUint8(IFA_FAMILY),
    prefixLen: v.getUint8(IFA_PREFIXLEN),
    flags: v.getUint8(IFA_FLAGS_BYTE),
    scope: v.getUint8(IFA_SCOPE),
    index: v.getUint32(IFA_INDEX, LITTLE),
    attrs: parseAttrs(payload.subarray(IFADDRMSG_LEN)),
  };
}

export interface Rt extends RtHeader {
  attrs: Attr[];
}

export function parseRtmsg(payload: Uint8Array): Rt {
  if (payload.length < RTMSG_LEN) malformedAt(`route message of ${payload.length} bytes, shorter than rtmsg (${RTMSG_LEN})`);
  const v = view(payload);
  return {
    family: v.getUint8(RTM_FAMILY),
    dstLen: v.getUint8(RTM_DST_LEN),
    srcLen: v.getUint8(RTM_SRC_LEN),
    tos: v.getUint8(RTM_TOS),
    table: v.getUint8(RTM_TABLE),
    protocol: v.getUint8(RTM_PROTOCOL),
    scope: v.getUint8(RTM_SCOPE),
    type: v.getUint8(RTM_TYPE),
    flags: v.getUint32(RTM_FLAGS, LITTLE),
    attrs: parseAttrs(payload.subarray(RTMSG_LEN)),
  };
}

export interface NextHop {
  flags: number;
  hops: number;
  ifindex: number;
  attrs: Attr[];
}

/** The rtnexthop records of an RTA_MULTIPATH attribute. */
export function parseNextHops(value: Uint8Array): NextHop[] {
  const out: NextHop[] = [];
  const v = view(value);
  let at = 0;
  while (at < value.length) {
    const left = value.length - at;
    if (left < RTNH_LEN) malformedAt(`${left} stray bytes at offset ${at} of a multipath attribute`);
    const len = v.getUint16(at + RTNH_LENGTH, LITTLE);
    if (len < RTNH_LEN || len > left) malformedAt(`next hop at offset ${at} claims length ${len} with ${left} bytes left`);
    out.push({
      flags: v.getUint8(at + RTNH_FLAGS),
      hops: v.getUint8(at + RTNH_HOPS),
      ifindex: v.getInt32(at + RTNH_IFINDEX, LITTLE),
      attrs: parseAttrs(value.subarray(at + RTNH_LEN, at + len)),
    });
    at += Math.min(align4(len), left);
  }
  return out;
}

/** What an NLMSG_ERROR says: errno 0 is an acknowledgement. */
export interface ErrorReply {
  /** Positive errno, 0 for an ack. */
  errno: number;
  /** The sequence number of the request it answers, when echoed. */
  requestSeq: number | undefined;
  /** The kernel's extended-ack text, when it sent one. */
  message: string | undefined;
}

export function parseError(m: NlMessage): ErrorReply {
  const p = m.payload;
  if (p.length < 4) malformedAt(`error message of ${p.length} bytes, too short for its error code`);
  const v = view(p);
  const error = v.getInt32(NLE_ERROR, LITTLE);
  let requestSeq: number | undefined;
  let message: string | undefined;
  if (p.length >= NLE_ORIGINAL + NLMSG_HDRLEN) {
    requestSeq = v.getUint32(NLE_ORIGINAL + NLH_SEQ, LITTLE);
    if (m.flags & NLM_F_ACK_TLVS) {
      // The echoed request is its header alone when capped, else all of it.
      const echoed = m.flags & NLM_F_CAPPED ? NLMSG_HDRLEN : v.getUint32(NLE_ORIGINAL + NLH_LEN, LITTLE);
      const from = NLE_ORIGINAL + align4(echoed);
      if (echoed >= NLMSG_HDRLEN && from <= p.length) {
        const msg = findAttr(parseAttrs(p.subarray(from)), NLMSGERR_ATTR_MSG);
        if (msg) message = attrString(msg);
      }
    }
  }
  return { errno: error < 0 ? -error : error, requestSeq, message };
}

/** The error an NLMSG_DONE carries at the end of a dump (0 when it went well). */
export function parseDone(m: NlMessage): number {
  if (m.payload.length < 4) return 0;
  const e = view(m.payload).getInt32(0, LITTLE);
  return e < 0 ? -e : e;
}
