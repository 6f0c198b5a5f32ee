/**
 * Theory of operation.
 *
 * DHCPv4 (RFC 2131) is BOOTP with options: a fixed 236-byte header, the
 * magic cookie, then code/length/value options ended by 255. We act as the
 * server on a VM link: we parse what clients send (DISCOVER, REQUEST,
 * DECLINE, RELEASE, INFORM) and build OFFER, ACK and NAK. One
 * representation serves both directions, with every option we understand
 * as a typed field (null or empty when absent), so that building a reply
 * is filling in a record and round trips are testable.
 *
 * Options may be repeated to carry more than 255 bytes (RFC 3396); parse
 * concatenates repeats and emit splits long values, which matters for
 * domain search lists and classless routes. Option overloading into
 * `sname`/`file` (option 52) is ignored: clients do not use it towards a
 * server. Every option length is checked against what its type needs.
 * Replies are padded to the 300-byte BOOTP minimum some clients expect.
 */
import { get16, get32, set16, set32, setBytes } from './bytes.js';
import { decodeDnsNames, dnsNamesLength, encodeDnsNames } from './dnsname.js';
import { isWireError, malformed, truncated, unsupported, type WireError } from './errors.js';

const OP = 0;
const HTYPE = 1;
const HLEN = 2;
const HOPS = 3;
const XID = 4;
const SECS = 8;
const FLAGS = 10;
const CIADDR = 12;
const YIADDR = 16;
const SIADDR = 20;
const GIADDR = 24;
const CHADDR = 28;
const CHADDR_LEN = 16;
const SNAME = 44;
const COOKIE = 236;
const OPTIONS = 240;
const MIN_BOOTP_LEN = 300;

const MAGIC_COOKIE = 0x63825363;
const FLAG_BROADCAST = 0x8000;
const BOOTREQUEST = 1;
const BOOTREPLY = 2;
const HTYPE_ETHERNET = 1;

export const DHCPV4_SERVER_PORT = 67;
export const DHCPV4_CLIENT_PORT = 68;

export const Dhcpv4MessageType = {
  Discover: 1,
  Offer: 2,
  Request: 3,
  Decline: 4,
  Ack: 5,
  Nak: 6,
  Release: 7,
  Inform: 8,
} as const;

export const Dhcpv4Option = {
  Pad: 0,
  SubnetMask: 1,
  Router: 3,
  DnsServer: 6,
  HostName: 12,
  InterfaceMtu: 26,
  RequestedIp: 50,
  LeaseTime: 51,
  Overload: 52,
  MessageType: 53,
  ServerId: 54,
  ParameterRequestList: 55,
  MaxMessageSize: 57,
  ClientId: 61,
  DomainSearch: 119,
  ClasslessRoutes: 121,
  End: 255,
} as const;

export type Dhcpv4Route = { destination: Uint8Array; prefixLength: number; router: Uint8Array };

export type Dhcpv4Repr = {
  messageType: number;
  xid: number;
  secs: number;
  broadcast: boolean;
  ciaddr: Uint8Array;
  yiaddr: Uint8Array;
  siaddr: Uint8Array;
  giaddr: Uint8Array;
  /** The client's MAC (hardware type 1, length 6 are required). */
  chaddr: Uint8Array;
  requestedIp: Uint8Array | null;
  serverId: Uint8Array | null;
  parameterRequestList: Uint8Array | null;
  clientId: Uint8Array | null;
  maxMessageSize: number | null;
  hostName: string | null;
  subnetMask: Uint8Array | null;
  routers: Uint8Array[];
  dnsServers: Uint8Array[];
  domainSearch: string[];
  leaseTime: number | null;
  mtu: number | null;
  classlessRoutes: Dhcpv4Route[];
};

/** A view only over the fixed BOOTP part; options are walked by `parseDhcpv4`. */
export class Dhcpv4Packet {
  private constructor(readonly bytes: Uint8Array) {}

  /** Proves: the fixed header and the magic cookie position exist. */
  static checked(bytes: Uint8Array): Dhcpv4Packet | WireError {
    if (bytes.length < OPTIONS) return truncated(`DHCPv4 needs ${OPTIONS} bytes before options, have ${bytes.length}`);
    return new Dhcpv4Packet(bytes);
  }
  static over(bytes: Uint8Array): Dhcpv4Packet {
    return new Dhcpv4Packet(bytes);
  }
  get op(): number {
    return this.bytes[OP] as number;
  }
  get htype(): number {
    return this.bytes[HTYPE] as number;
  }
  get hlen(): number {
    return this.bytes[HLEN] as number;
  }
  get xid(): number {
    return get32(this.bytes, XID);
  }
  get secs(): number {
    return get16(this.bytes, SECS);
  }
  get flags(): number {
    return get16(this.bytes, FLAGS);
  }
  get cookie(): number {
    return get32(this.bytes, COOKIE);
  }
  get ciaddr(): Uint8Array {
    return this.bytes.subarray(CIADDR, CIADDR + 4);
  }
  get yiaddr(): Uint8Array {
    return this.bytes.subarray(YIADDR, YIADDR + 4);
  }
  get siaddr(): Uint8Array {
    return this.bytes.subarray(SIADDR, SIADDR + 4);
  }
  get giaddr(): Uint8Array {
    return this.bytes.subarray(GIADDR, GIADDR + 4);
  }
  get chaddr(): Uint8Array {
    return this.bytes.subarray(CHADDR, CHADDR + 6);
  }
  get options(): Uint8Array {
    return this.bytes.subarray(OPTIONS);
  }
}

/** Collects options, concatenating repeats (RFC 3396). */
function collectOptions(opts: Uint8Array): Map<number, Uint8Array> | WireError {
  const found = new Map<number, Uint8Array>();
  let i = 0;
  while (i < opts.length) {
    const code = opts[i] as number;
    if (code === Dhcpv4Option.Pad) {
      i++;
      continue;
    }
    if (code === Dhcpv4Option.End) return found;
    if (i + 2 > opts.length) return truncated(`DHCPv4 option ${code} has no length byte`);
    const len = opts[i + 1] as number;
    if (i + 2 + len > opts.length) return truncated(`DHCPv4 option ${code} of ${len} bytes runs past the message`);
    const value = opts.subarray(i + 2, i + 2 + len);
    const prev = found.get(code);
    if (prev === undefined) {
      found.set(code, value);
    } else {
      const joined = new Uint8Array(prev.length + value.length);
      joined.set(prev, 0);
      joined.set(value, prev.length);
      found.set(code, joined);
    }
    i += 2 + len;
  }
  // A missing End option is tolerated: the datagram length bounds the walk.
  return found;
}

function addrList(v: Uint8Array, code: number): Uint8Array[] | WireError {
  if (v.length === 0 || v.length % 4 !== 0) return malformed(`DHCPv4 option ${code} length ${v.length} is not a nonzero multiple of 4`);
  const out: Uint8Array[] = [];
  for (let k = 0; k < v.length; k += 4) out.push(v.subarray(k, k + 4));
  return out;
}

function fixed(v: Uint8Array | undefined, len: number, code: number): Uint8Array | null | WireError {
  if (v === undefined) return null;
  if (v.length !== len) return malformed(`DHCPv4 option ${code} has length ${v.length}, expected ${len}`);
  return v;
}

function parseRoutes(v: Uint8Array): Dhcpv4Route[] | WireError {
  const routes: Dhcpv4Route[] = [];
  let i = 0;
  while (i < v.length) {
    const prefixLength = v[i] as number;
    if (prefixLength > 32) return malformed(`DHCPv4 classless route prefix length ${prefixLength}`);
    const sig = (prefixLength + 7) >>> 3;
    if (i + 1 + sig + 4 > v.length) return truncated('DHCPv4 classless route runs past its option');
    const destination = new Uint8Array(4);
    destination.set(v.subarray(i + 1, i + 1 + sig));
    routes.push({ destination, prefixLength, router: v.subarray(i + 1 + sig, i + 5 + sig) });
    i += 5 + sig;
  }
  return routes;
}

function latin1(v: Uint8Array): string {
  let s = '';
  for (let k = 0; k < v.length; k++) s += String.fromCharCode(v[k] as number);
  return s;
}

const REPLY_TYPES: ReadonlySet<number> = new Set([Dhcpv4MessageType.Offer, Dhcpv4MessageType.Ack, Dhcpv4MessageType.Nak]);

export function parseDhcpv4(packet: Dhcpv4Packet): Dhcpv4Repr | WireError {
  if (packet.cookie !== MAGIC_COOKIE) return malformed('DHCPv4 magic cookie missing (plain BOOTP?)');
  if (packet.htype !== HTYPE_ETHERNET || packet.hlen !== 6) {
    return unsupported(`DHCPv4 hardware type ${packet.htype} / length ${packet.hlen}`);
  }
  const op = packet.op;
  if (op !== BOOTREQUEST && op !== BOOTREPLY) return malformed(`BOOTP op ${op}`);
  const o = collectOptions(packet.options);
  if (isWireError(o)) return o;
  const mt = fixed(o.get(Dhcpv4Option.MessageType), 1, Dhcpv4Option.MessageType);
  if (isWireError(mt)) return mt;
  if (mt === null) return unsupported('BOOTP message without a DHCP message type');
  const messageType = mt[0] as number;
  if (messageType < Dhcpv4MessageType.Discover || messageType > Dhcpv4MessageType.Inform) {
    return unsupported(`DHCPv4 message type ${messageType}`);
  }
  if ((op === BOOTREPLY) !== REPLY_TYPES.has(messageType)) {
    return malformed(`DHCPv4 message type ${messageType} in a BOOTP ${op === BOOTREPLY ? 'reply' : 'request'}`);
  }
  const requestedIp = fixed(o.get(Dhcpv4Option.RequestedIp), 4, Dhcpv4Option.RequestedIp);
  if (isWireError(requestedIp)) return requestedIp;
  const serverId = fixed(o.get(Dhcpv4Option.ServerId), 4, Dhcpv4Option.ServerId);
  if (isWireError(serverId)) return serverId;
  const subnetMask = fixed(o.get(Dhcpv4Option.SubnetMask), 4, Dhcpv4Option.SubnetMask);
  if (isWireError(subnetMask)) return subnetMask;
  const lease = fixed(o.get(Dhcpv4Option.LeaseTime), 4, Dhcpv4Option.LeaseTime);
  if (isWireError(lease)) return lease;
  const mtu = fixed(o.get(Dhcpv4Option.InterfaceMtu), 2, Dhcpv4Option.InterfaceMtu);
  if (isWireError(mtu)) return mtu;
  const maxSize = fixed(o.get(Dhcpv4Option.MaxMessageSize), 2, Dhcpv4Option.MaxMessageSize);
  if (isWireError(maxSize)) return maxSize;
  const prl = o.get(Dhcpv4Option.ParameterRequestList) ?? null;
  if (prl !== null && prl.length === 0) return malformed('DHCPv4 empty parameter request list');
  const clientId = o.get(Dhcpv4Option.ClientId) ?? null;
  if (clientId !== null && clientId.length < 2) return malformed('DHCPv4 client identifier shorter than 2 bytes');
  const hostNameBytes = o.get(Dhcpv4Option.HostName);
  if (hostNameBytes !== undefined && hostNameBytes.length === 0) return malformed('DHCPv4 empty host name');
  let routers: Uint8Array[] = [];
  const r = o.get(Dhcpv4Option.Router);
  if (r !== undefined) {
    const l = addrList(r, Dhcpv4Option.Router);
    if (isWireError(l)) return l;
    routers = l;
  }
  let dnsServers: Uint8Array[] = [];
  const d = o.get(Dhcpv4Option.DnsServer);
  if (d !== undefined) {
    const l = addrList(d, Dhcpv4Option.DnsServer);
    if (isWireError(l)) return l;
    dnsServers = l;
  }
  let domainSearch: string[] = [];
  const ds = o.get(Dhcpv4Option.DomainSearch);
  if (ds !== undefined) {
    const l = decodeDnsNames(ds, { compression: true });
    if (isWireError(l)) return l;
    domainSearch = l;
  }
  let classlessRoutes: Dhcpv4Route[] = [];
  const cr = o.get(Dhcpv4Option.ClasslessRoutes);
  if (cr !== undefined) {
    const l = parseRoutes(cr);
    if (isWireError(l)) return l;
    classlessRoutes = l;
  }
  return {
    messageType,
    xid: packet.xid,
    secs: packet.secs,
    broadcast: (packet.flags & FLAG_BROADCAST) !== 0,
    ciaddr: packet.ciaddr,
    yiaddr: packet.yiaddr,
    siaddr: packet.siaddr,
    giaddr: packet.giaddr,
    chaddr: packet.chaddr,
    requestedIp,
    serverId,
    parameterRequestList: prl,
    clientId,
    maxMessageSize: maxSize === null ? null : get16(maxSize, 0),
    hostName: hostNameBytes === undefined ? null : latin1(hostNameBytes),
    subnetMask,
    routers,
    dnsServers,
    domainSearch,
    leaseTime: lease === null ? null : get32(lease, 0),
    mtu: mtu === null ? null : get16(mtu, 0),
    classlessRoutes,
  };
}

export function parseDhcpv4Bytes(bytes: Uint8Array): Dhcpv4Repr | WireError {
  const p = Dhcpv4Packet.checked(bytes);
  return p instanceof Dhcpv4Packet ? parseDhcpv4(p) : p;
}

/** Value bytes of each option we emit, in emission order (code, length). */
function optionValueLengths(repr: Dhcpv4Repr): [number, number][] | WireError {
  const list: [number, number][] = [[Dhcpv4Option.MessageType, 1]];
  if (repr.serverId !== null) list.push([Dhcpv4Option.ServerId, 4]);
  if (repr.leaseTime !== null) list.push([Dhcpv4Option.LeaseTime, 4]);
  if (repr.subnetMask !== null) list.push([Dhcpv4Option.SubnetMask, 4]);
  if (repr.routers.length > 0) list.push([Dhcpv4Option.Router, 4 * repr.routers.length]);
  if (repr.dnsServers.length > 0) list.push([Dhcpv4Option.DnsServer, 4 * repr.dnsServers.length]);
  if (repr.mtu !== null) list.push([Dhcpv4Option.InterfaceMtu, 2]);
  if (repr.domainSearch.length > 0) {
    const n = dnsNamesLength(repr.domainSearch);
    if (typeof n !== 'number') return n;
    list.push([Dhcpv4Option.DomainSearch, n]);
  }
  if (repr.classlessRoutes.length > 0) {
    let n = 0;
    for (const r of repr.classlessRoutes) {
      if (r.prefixLength < 0 || r.prefixLength > 32) return malformed(`classless route prefix length ${r.prefixLength}`);
      n += 5 + ((r.prefixLength + 7) >>> 3);
    }
    list.push([Dhcpv4Option.ClasslessRoutes, n]);
  }
  if (repr.requestedIp !== null) list.push([Dhcpv4Option.RequestedIp, 4]);
  if (repr.parameterRequestList !== null) {
    if (repr.parameterRequestList.length === 0) return malformed('empty parameter request list');
    list.push([Dhcpv4Option.ParameterRequestList, repr.parameterRequestList.length]);
  }
  if (repr.clientId !== null) {
    if (repr.clientId.length < 2) return malformed('client identifier shorter than 2 bytes');
    list.push([Dhcpv4Option.ClientId, repr.clientId.length]);
  }
  if (repr.maxMessageSize !== null) list.push([Dhcpv4Option.MaxMessageSize, 2]);
  if (repr.hostName !== null) {
    if (repr.hostName.length === 0) return malformed('empty host name');
    list.push([Dhcpv4Option.HostName, repr.hostName.length]);
  }
  return list;
}

/** Encoded size of a value of `len` bytes, split into 255-byte pieces (RFC 3396). */
function splitLength(len: number): number {
  const pieces = Math.max(1, Math.ceil(len / 255));
  return len + 2 * pieces;
}

export function dhcpv4BufferLength(repr: Dhcpv4Repr): number | WireError {
  const list = optionValueLengths(repr);
  if (isWireError(list)) return list;
  let n = OPTIONS + 1; // End option
  for (const [, len] of list) n += splitLength(len);
  return Math.max(n, MIN_BOOTP_LEN);
}

function optionValue(repr: Dhcpv4Repr, code: number, len: number): Uint8Array {
  const v = new Uint8Array(len);
  switch (code) {
    case Dhcpv4Option.MessageType:
      v[0] = repr.messageType;
      break;
    case Dhcpv4Option.ServerId:
      setBytes(v, 0, repr.serverId as Uint8Array, 4);
      break;
    case Dhcpv4Option.LeaseTime:
      set32(v, 0, repr.leaseTime as number);
      break;
    case Dhcpv4Option.SubnetMask:
      setBytes(v, 0, repr.subnetMask as Uint8Array, 4);
      break;
    case Dhcpv4Option.Router:
      repr.routers.forEach((a, k) => setBytes(v, 4 * k, a, 4));
      break;
    case Dhcpv4Option.DnsServer:
      repr.dnsServers.forEach((a, k) => setBytes(v, 4 * k, a, 4));
      break;
    case Dhcpv4Option.InterfaceMtu:
      set16(v, 0, repr.mtu as number);
      break;
    case Dhcpv4Option.DomainSearch:
      encodeDnsNames(repr.domainSearch, v, 0);
      break;
    case Dhcpv4Option.ClasslessRoutes: {
      let i = 0;
      for (const r of repr.classlessRoutes) {
        const sig = (r.prefixLength + 7) >>> 3;
        v[i] = r.prefixLength;
        setBytes(v, i + 1, r.destination.subarray(0, sig), sig);
        setBytes(v, i + 1 + sig, r.router, 4);
        i += 5 + sig;
      }
      break;
    }
    case Dhcpv4Option.RequestedIp:
      setBytes(v, 0, repr.requestedIp as Uint8Array, 4);
      break;
    case Dhcpv4Option.ParameterRequestList:
      v.set(repr.parameterRequestList as Uint8Array);
      break;
    case Dhcpv4Option.ClientId:
      v.set(repr.clientId as Uint8Array);
      break;
    case Dhcpv4Option.MaxMessageSize:
      set16(v, 0, repr.maxMessageSize as number);
      break;
    case Dhcpv4Option.HostName: {
      const h = repr.hostName as string;
      for (let k = 0; k < h.length; k++) v[k] = h.charCodeAt(k) & 0xff;
      break;
    }
  }
  return v;
}

/**
 * Writes the whole message (BOOTP op derived from the message type) into
 * `bytes`, at least `dhcpv4BufferLength(repr)` long. Returns bytes written.
 * Options are built in small temporary arrays: DHCP is not a hot path.
 */
export function emitDhcpv4(repr: Dhcpv4Repr, bytes: Uint8Array): number | WireError {
  const total = dhcpv4BufferLength(repr);
  if (typeof total !== 'number') return total;
  if (bytes.length < total) return truncated(`DHCPv4 emit needs ${total} bytes, buffer has ${bytes.length}`);
  const list = optionValueLengths(repr) as [number, number][];
  const b = bytes;
  b.fill(0, 0, total);
  b[OP] = REPLY_TYPES.has(repr.messageType) ? BOOTREPLY : BOOTREQUEST;
  b[HTYPE] = HTYPE_ETHERNET;
  b[HLEN] = 6;
  b[HOPS] = 0;
  set32(b, XID, repr.xid);
  set16(b, SECS, repr.secs);
  set16(b, FLAGS, repr.broadcast ? FLAG_BROADCAST : 0);
  setBytes(b, CIADDR, repr.ciaddr, 4);
  setBytes(b, YIADDR, repr.yiaddr, 4);
  setBytes(b, SIADDR, repr.siaddr, 4);
  setBytes(b, GIADDR, repr.giaddr, 4);
  setBytes(b, CHADDR, repr.chaddr, 6);
  set32(b, COOKIE, MAGIC_COOKIE);
  let at = OPTIONS;
  for (const [code, len] of list) {
    const v = optionValue(repr, code, len);
    let k = 0;
    do {
      const piece = Math.min(255, len - k);
      b[at] = code;
      b[at + 1] = piece;
      b.set(v.subarray(k, k + piece), at + 2);
      at += 2 + piece;
      k += piece;
    } while (k < len);
  }
  b[at] = Dhcpv4Option.End;
  return total;
}

/** A blank representation with every option absent, to spread over. */
export function dhcpv4Defaults(): Dhcpv4Repr {
  const z = (): Uint8Array => new Uint8Array(4);
  return {
    messageType: Dhcpv4MessageType.Discover,
    xid: 0,
    secs: 0,
    broadcast: false,
    ciaddr: z(),
    yiaddr: z(),
    siaddr: z(),
    giaddr: z(),
    chaddr: new Uint8Array(6),
    requestedIp: null,
    serverId: null,
    parameterRequestList: null,
    clientId: null,
    maxMessageSize: null,
    hostName: null,
    subnetMask: null,
    routers: [],
    dnsServers: [],
    domainSearch: [],
    leaseTime: null,
    mtu: null,
    classlessRoutes: [],
  };
}

/** What a server puts in an OFFER or ACK beyond the addressing copied from the request. */
export type Dhcpv4Lease = {
  yiaddr: Uint8Array;
  serverId: Uint8Array;
  subnetMask?: Uint8Array;
  routers?: Uint8Array[];
  dnsServers?: Uint8Array[];
  domainSearch?: string[];
  leaseTime?: number;
  mtu?: number;
  classlessRoutes?: Dhcpv4Route[];
};

/**
 * Builds the reply to `request` (RFC 2131 4.3.1, table 3): xid, flags,
 * giaddr, chaddr and ciaddr carried over, the lease fields filled in. For
 * NAK only the server id is sent and yiaddr is zero. An ACK to INFORM
 * carries no lease time and no yiaddr (RFC 2131 3.4).
 */
export function dhcpv4Reply(
  request: Dhcpv4Repr,
  type: typeof Dhcpv4MessageType.Offer | typeof Dhcpv4MessageType.Ack | typeof Dhcpv4MessageType.Nak,
  lease: Dhcpv4Lease,
): Dhcpv4Repr {
  const base = dhcpv4Defaults();
  base.messageType = type;
  base.xid = request.xid;
  base.broadcast = request.broadcast;
  base.giaddr = request.giaddr;
  base.chaddr = request.chaddr;
  base.serverId = lease.serverId;
  if (type === Dhcpv4MessageType.Nak) return base;
  const inform = request.messageType === Dhcpv4MessageType.Inform;
  base.ciaddr = request.messageType === Dhcpv4MessageType.Discover ? base.ciaddr : request.ciaddr;
  base.yiaddr = inform ? base.yiaddr : lease.yiaddr;
  base.subnetMask = lease.subnetMask ?? null;
  base.routers = lease.routers ?? [];
  base.dnsServers = lease.dnsServers ?? [];
  base.domainSearch = lease.domainSearch ?? [];
  base.leaseTime = inform ? null : (lease.leaseTime ?? null);
  base.mtu = lease.mtu ?? null;
  base.classlessRoutes = lease.classlessRoutes ?? [];
  return base;
}
