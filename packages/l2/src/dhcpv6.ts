/**
 * Theory of operation.
 *
 * DHCPv6 (RFC 8415) messages are a type byte, a 24-bit transaction id and a
 * flat list of options (16-bit code, 16-bit length), some of which (IA_NA,
 * IA Address) nest further options. As with DHCPv4 we are the server: we
 * parse client messages (SOLICIT, REQUEST, CONFIRM, RENEW, REBIND,
 * RELEASE, DECLINE, INFORMATION-REQUEST) and build ADVERTISE and REPLY.
 * One representation serves both directions so a reply is a filled-in
 * record and round trips are testable.
 *
 * Parsing enforces the presence rules of RFC 8415 section 16 that decide
 * whether a server may answer at all (Client ID where required, Server ID
 * where required and forbidden), checks every option length, and skips
 * unknown options. Relay messages are Unsupported: nothing relays on a VM
 * link.
 */
import { get16, get32, set16, set32, setBytes, utf8Decode, utf8Encode, utf8Length } from './bytes.js';
import { decodeDnsNames, dnsNamesLength, encodeDnsNames } from './dnsname.js';
import { isWireError, malformed, truncated, unsupported, type WireError } from './errors.js';

const MSG_TYPE = 0;
const TRANSACTION_ID = 1;
const OPTIONS = 4;

const OPT_CODE = 0;
const OPT_LEN = 2;
const OPT_HEADER = 4;
const IA_IAID = 0;
const IA_T1 = 4;
const IA_T2 = 8;
const IA_OPTIONS = 12;
const IAADDR_ADDR = 0;
const IAADDR_PREFERRED = 16;
const IAADDR_VALID = 20;
const IAADDR_OPTIONS = 24;
const STATUS_CODE = 0;
const STATUS_MESSAGE = 2;

/** DUIDs are at most 128 bytes of identifier plus the 2-byte type (RFC 8415 11.1). */
const MAX_DUID = 130;

export const DHCPV6_CLIENT_PORT = 546;
export const DHCPV6_SERVER_PORT = 547;

export const Dhcpv6MessageType = {
  Solicit: 1,
  Advertise: 2,
  Request: 3,
  Confirm: 4,
  Renew: 5,
  Rebind: 6,
  Reply: 7,
  Release: 8,
  Decline: 9,
  Reconfigure: 10,
  InformationRequest: 11,
} as const;

export const Dhcpv6Option = {
  ClientId: 1,
  ServerId: 2,
  IaNa: 3,
  IaAddr: 5,
  Oro: 6,
  ElapsedTime: 8,
  StatusCode: 13,
  RapidCommit: 14,
  DnsServers: 23,
  DomainList: 24,
} as const;

export const Dhcpv6StatusCode = {
  Success: 0,
  UnspecFail: 1,
  NoAddrsAvail: 2,
  NoBinding: 3,
  NotOnLink: 4,
  UseMulticast: 5,
} as const;

export type Dhcpv6Status = { code: number; message: string };
export type Dhcpv6IaAddress = {
  addr: Uint8Array;
  preferredLifetime: number;
  validLifetime: number;
  status: Dhcpv6Status | null;
};
export type Dhcpv6IaNa = {
  iaid: number;
  t1: number;
  t2: number;
  addresses: Dhcpv6IaAddress[];
  status: Dhcpv6Status | null;
};

export type Dhcpv6Repr = {
  messageType: number;
  transactionId: number;
  clientId: Uint8Array | null;
  serverId: Uint8Array | null;
  iaNa: Dhcpv6IaNa[];
  /** Option codes the client asked for, or null without an ORO. */
  oro: number[] | null;
  /** Hundredths of a second, or null when absent. */
  elapsedTime: number | null;
  rapidCommit: boolean;
  status: Dhcpv6Status | null;
  dnsServers: Uint8Array[];
  domainList: string[];
};

/** View over the 4-byte message header; the option list is walked by the parser. */
export class Dhcpv6Packet {
  private constructor(readonly bytes: Uint8Array) {}
  static checked(bytes: Uint8Array): Dhcpv6Packet | WireError {
    if (bytes.length < OPTIONS) return truncated(`DHCPv6 header needs ${OPTIONS} bytes, have ${bytes.length}`);
    return new Dhcpv6Packet(bytes);
  }
  static over(bytes: Uint8Array): Dhcpv6Packet {
    return new Dhcpv6Packet(bytes);
  }
  get messageType(): number {
    return this.bytes[MSG_TYPE] as number;
  }
  get transactionId(): number {
    return get32(this.bytes, MSG_TYPE) & 0xffffff;
  }
  get options(): Uint8Array {
    return this.bytes.subarray(OPTIONS);
  }
}

/** Calls `visit(code, value)` for each option; stops at the first error it or the walk reports. */
function walkOptions(
  b: Uint8Array,
  visit: (code: number, value: Uint8Array) => WireError | null,
): WireError | null {
  let i = 0;
  while (i < b.length) {
    if (i + OPT_HEADER > b.length) return truncated('DHCPv6 option header runs past its container');
    const code = get16(b, i + OPT_CODE);
    const len = get16(b, i + OPT_LEN);
    if (i + OPT_HEADER + len > b.length) return truncated(`DHCPv6 option ${code} of ${len} bytes runs past its container`);
    const err = visit(code, b.subarray(i + OPT_HEADER, i + OPT_HEADER + len));
    if (err !== null) return err;
    i += OPT_HEADER + len;
  }
  return null;
}

function parseStatus(v: Uint8Array): Dhcpv6Status | WireError {
  if (v.length < STATUS_MESSAGE) return malformed('DHCPv6 status code option shorter than 2 bytes');
  return { code: get16(v, STATUS_CODE), message: utf8Decode(v.subarray(STATUS_MESSAGE)) };
}

function parseIaAddr(v: Uint8Array): Dhcpv6IaAddress | WireError {
  if (v.length < IAADDR_OPTIONS) return malformed(`DHCPv6 IA address option of ${v.length} bytes`);
  let status: Dhcpv6Status | null = null;
  const err = walkOptions(v.subarray(IAADDR_OPTIONS), (code, value) => {
    if (code !== Dhcpv6Option.StatusCode) return null;
    const s = parseStatus(value);
    if (isWireError(s)) return s;
    status = s;
    return null;
  });
  if (err !== null) return err;
  const preferredLifetime = get32(v, IAADDR_PREFERRED);
  const validLifetime = get32(v, IAADDR_VALID);
  return { addr: v.subarray(IAADDR_ADDR, IAADDR_ADDR + 16), preferredLifetime, validLifetime, status };
}

function parseIaNa(v: Uint8Array): Dhcpv6IaNa | WireError {
  if (v.length < IA_OPTIONS) return malformed(`DHCPv6 IA_NA option of ${v.length} bytes`);
  const addresses: Dhcpv6IaAddress[] = [];
  let status: Dhcpv6Status | null = null;
  const err = walkOptions(v.subarray(IA_OPTIONS), (code, value) => {
    if (code === Dhcpv6Option.IaAddr) {
      const a = parseIaAddr(value);
      if (isWireError(a)) return a;
      addresses.push(a);
    } else if (code === Dhcpv6Option.StatusCode) {
      const s = parseStatus(value);
      if (isWireError(s)) return s;
      status = s;
    }
    return null;
  });
  if (err !== null) return err;
  return { iaid: get32(v, IA_IAID), t1: get32(v, IA_T1), t2: get32(v, IA_T2), addresses, status };
}

const NEEDS_CLIENT_ID: ReadonlySet<number> = new Set([1, 2, 3, 4, 5, 6, 7, 8, 9]);
const NEEDS_SERVER_ID: ReadonlySet<number> = new Set([2, 3, 5, 7, 8, 9]);
const FORBIDS_SERVER_ID: ReadonlySet<number> = new Set([1, 4, 6]);

export function parseDhcpv6(packet: Dhcpv6Packet): Dhcpv6Repr | WireError {
  const messageType = packet.messageType;
  if (messageType < Dhcpv6MessageType.Solicit || messageType > Dhcpv6MessageType.InformationRequest) {
    return unsupported(`DHCPv6 message type ${messageType}`);
  }
  const repr: Dhcpv6Repr = {
    messageType,
    transactionId: packet.transactionId,
    clientId: null,
    serverId: null,
    iaNa: [],
    oro: null,
    elapsedTime: null,
    rapidCommit: false,
    status: null,
    dnsServers: [],
    domainList: [],
  };
  const err = walkOptions(packet.options, (code, v) => {
    switch (code) {
      case Dhcpv6Option.ClientId:
      case Dhcpv6Option.ServerId: {
        if (v.length < 2 || v.length > MAX_DUID) return malformed(`DHCPv6 DUID of ${v.length} bytes`);
        const which = code === Dhcpv6Option.ClientId ? 'clientId' : 'serverId';
        if (repr[which] !== null) return malformed(`DHCPv6 option ${code} appears twice`);
        repr[which] = v;
        return null;
      }
      case Dhcpv6Option.IaNa: {
        const ia = parseIaNa(v);
        if (isWireError(ia)) return ia;
        repr.iaNa.push(ia);
        return null;
      }
      case Dhcpv6Option.Oro: {
        if ((v.length & 1) !== 0) return malformed('DHCPv6 option request list of odd length');
        const oro: number[] = [];
        for (let k = 0; k < v.length; k += 2) oro.push(get16(v, k));
        repr.oro = oro;
        return null;
      }
      case Dhcpv6Option.ElapsedTime:
        if (v.length !== 2) return malformed('DHCPv6 elapsed time option not 2 bytes');
        repr.elapsedTime = get16(v, 0);
        return null;
      case Dhcpv6Option.RapidCommit:
        if (v.length !== 0) return malformed('DHCPv6 rapid commit option with data');
        repr.rapidCommit = true;
        return null;
      case Dhcpv6Option.StatusCode: {
        const s = parseStatus(v);
        if (isWireError(s)) return s;
        repr.status = s;
        return null;
      }
      case Dhcpv6Option.DnsServers:
        if (v.length === 0 || v.length % 16 !== 0) return malformed(`DHCPv6 DNS servers option of ${v.length} bytes`);
        for (let k = 0; k < v.length; k += 16) repr.dnsServers.push(v.subarray(k, k + 16));
        return null;
      case Dhcpv6Option.DomainList: {
        const names = decodeDnsNames(v);
        if (isWireError(names)) return names;
        repr.domainList.push(...names);
        return null;
      }
      default:
        return null;
    }
  });
  if (err !== null) return err;
  if (NEEDS_CLIENT_ID.has(messageType) && repr.clientId === null) {
    return malformed(`DHCPv6 message type ${messageType} without a Client ID`);
  }
  if (NEEDS_SERVER_ID.has(messageType) && repr.serverId === null) {
    return malformed(`DHCPv6 message type ${messageType} without a Server ID`);
  }
  if (FORBIDS_SERVER_ID.has(messageType) && repr.serverId !== null) {
    return malformed(`DHCPv6 message type ${messageType} with a Server ID`);
  }
  return repr;
}

export function parseDhcpv6Bytes(bytes: Uint8Array): Dhcpv6Repr | WireError {
  const p = Dhcpv6Packet.checked(bytes);
  return p instanceof Dhcpv6Packet ? parseDhcpv6(p) : p;
}

function statusLength(s: Dhcpv6Status | null): number {
  return s === null ? 0 : OPT_HEADER + STATUS_MESSAGE + utf8Length(s.message);
}

function iaAddrLength(a: Dhcpv6IaAddress): number {
  return OPT_HEADER + IAADDR_OPTIONS + statusLength(a.status);
}

function iaNaLength(ia: Dhcpv6IaNa): number {
  let n = OPT_HEADER + IA_OPTIONS + statusLength(ia.status);
  for (const a of ia.addresses) n += iaAddrLength(a);
  return n;
}

export function dhcpv6BufferLength(repr: Dhcpv6Repr): number | WireError {
  let n = OPTIONS;
  if (repr.clientId !== null) n += OPT_HEADER + repr.clientId.length;
  if (repr.serverId !== null) n += OPT_HEADER + repr.serverId.length;
  for (const ia of repr.iaNa) n += iaNaLength(ia);
  if (repr.oro !== null) n += OPT_HEADER + 2 * repr.oro.length;
  if (repr.elapsedTime !== null) n += OPT_HEADER + 2;
  if (repr.rapidCommit) n += OPT_HEADER;
  n += statusLength(repr.status);
  if (repr.dnsServers.length > 0) n += OPT_HEADER + 16 * repr.dnsServers.length;
  if (repr.domainList.length > 0) {
    const d = dnsNamesLength(repr.domainList);
    if (typeof d !== 'number') return d;
    n += OPT_HEADER + d;
  }
  return n;
}

function putHeader(b: Uint8Array, at: number, code: number, len: number): number {
  if (len > 0xffff) return -1;
  set16(b, at + OPT_CODE, code);
  set16(b, at + OPT_LEN, len);
  return at + OPT_HEADER;
}

function putStatus(b: Uint8Array, at: number, s: Dhcpv6Status | null): number {
  if (s === null) return at;
  const o = putHeader(b, at, Dhcpv6Option.StatusCode, statusLength(s) - OPT_HEADER);
  set16(b, o + STATUS_CODE, s.code);
  return utf8Encode(s.message, b, o + STATUS_MESSAGE);
}

/** Writes the whole message into `bytes` (at least `dhcpv6BufferLength(repr)`). Returns bytes written. */
export function emitDhcpv6(repr: Dhcpv6Repr, bytes: Uint8Array): number | WireError {
  const total = dhcpv6BufferLength(repr);
  if (typeof total !== 'number') return total;
  if (total > 0xffff) return unsupported('DHCPv6 message over 65535 bytes');
  if (bytes.length < total) return truncated(`DHCPv6 emit needs ${total} bytes, buffer has ${bytes.length}`);
  const b = bytes;
  set32(b, MSG_TYPE, repr.transactionId & 0xffffff);
  b[MSG_TYPE] = repr.messageType;
  let at = OPTIONS;
  if (repr.clientId !== null) {
    at = putHeader(b, at, Dhcpv6Option.ClientId, repr.clientId.length);
    b.set(repr.clientId, at);
    at += repr.clientId.length;
  }
  if (repr.serverId !== null) {
    at = putHeader(b, at, Dhcpv6Option.ServerId, repr.serverId.length);
    b.set(repr.serverId, at);
    at += repr.serverId.length;
  }
  for (const ia of repr.iaNa) {
    at = putHeader(b, at, Dhcpv6Option.IaNa, iaNaLength(ia) - OPT_HEADER);
    set32(b, at + IA_IAID, ia.iaid);
    set32(b, at + IA_T1, ia.t1);
    set32(b, at + IA_T2, ia.t2);
    at += IA_OPTIONS;
    for (const a of ia.addresses) {
      at = putHeader(b, at, Dhcpv6Option.IaAddr, iaAddrLength(a) - OPT_HEADER);
      setBytes(b, at + IAADDR_ADDR, a.addr, 16);
      set32(b, at + IAADDR_PREFERRED, a.preferredLifetime);
      set32(b, at + IAADDR_VALID, a.validLifetime);
      at = putStatus(b, at + IAADDR_OPTIONS, a.status);
    }
    at = putStatus(b, at, ia.status);
  }
  if (repr.oro !== null) {
    at = putHeader(b, at, Dhcpv6Option.Oro, 2 * repr.oro.length);
    for (const c of repr.oro) {
      set16(b, at, c);
      at += 2;
    }
  }
  if (repr.elapsedTime !== null) {
    at = putHeader(b, at, Dhcpv6Option.ElapsedTime, 2);
    set16(b, at, repr.elapsedTime);
    at += 2;
  }
  if (repr.rapidCommit) at = putHeader(b, at, Dhcpv6Option.RapidCommit, 0);
  at = putStatus(b, at, repr.status);
  if (repr.dnsServers.length > 0) {
    at = putHeader(b, at, Dhcpv6Option.DnsServers, 16 * repr.dnsServers.length);
    for (const s of repr.dnsServers) {
      setBytes(b, at, s, 16);
      at += 16;
    }
  }
  if (repr.domainList.length > 0) {
    const d = dnsNamesLength(repr.domainList) as number;
    at = putHeader(b, at, Dhcpv6Option.DomainList, d);
    const w = encodeDnsNames(repr.domainList, b, at);
    if (typeof w !== 'number') return w;
    at = w;
  }
  return at;
}

/** What the server hands out in ADVERTISE/REPLY. */
export type Dhcpv6Lease = {
  serverId: Uint8Array;
  /** Address for each IA_NA the client sent (one address for all of them if shorter). */
  addresses?: Uint8Array[];
  preferredLifetime?: number;
  validLifetime?: number;
  t1?: number;
  t2?: number;
  dnsServers?: Uint8Array[];
  domainList?: string[];
  status?: Dhcpv6Status | null;
};

/**
 * Builds the ADVERTISE or REPLY to `request`: transaction id and Client ID
 * echoed, our Server ID, one IA address per IA_NA the client sent (IAIDs
 * kept), DNS options when given. Rapid commit (RFC 8415 18.3.1) is
 * acknowledged when the request asked for it and the reply is a REPLY.
 */
export function dhcpv6Reply(
  request: Dhcpv6Repr,
  type: typeof Dhcpv6MessageType.Advertise | typeof Dhcpv6MessageType.Reply,
  lease: Dhcpv6Lease,
): Dhcpv6Repr {
  const addrs = lease.addresses ?? [];
  const iaNa: Dhcpv6IaNa[] = request.iaNa.map((ia, k) => {
    const addr = addrs[k] ?? addrs[0];
    return {
      iaid: ia.iaid,
      t1: lease.t1 ?? 0,
      t2: lease.t2 ?? 0,
      addresses:
        addr === undefined
          ? []
          : [
              {
                addr,
                preferredLifetime: lease.preferredLifetime ?? 0xffffffff,
                validLifetime: lease.validLifetime ?? 0xffffffff,
                status: null,
              },
            ],
      status: addr === undefined ? { code: Dhcpv6StatusCode.NoAddrsAvail, message: 'no addresses available' } : null,
    };
  });
  return {
    messageType: type,
    transactionId: request.transactionId,
    clientId: request.clientId,
    serverId: lease.serverId,
    iaNa,
    oro: null,
    elapsedTime: null,
    rapidCommit: type === Dhcpv6MessageType.Reply && request.rapidCommit,
    status: lease.status ?? null,
    dnsServers: lease.dnsServers ?? [],
    domainList: lease.domainList ?? [],
  };
}
