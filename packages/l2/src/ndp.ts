/**
 * Theory of operation.
 *
 * Neighbor Discovery (RFC 4861) messages are ICMPv6 messages: a type-
 * specific fixed body followed by TLV options whose length byte counts
 * 8-octet units. A zero length would make a receiver loop forever, so it is
 * Malformed, and every option must fit the message exactly. Options are
 * collected into one `NdpOptions` record (unknown ones are skipped, as the
 * RFC requires) so that builders of router advertisements describe what
 * they want (prefix, MTU, RDNSS, DNSSL) and `emitIcmpv6` lays it out.
 *
 * This module only knows the message bodies; the ICMPv6 header checksum and
 * the dispatch on message type live in icmpv6.ts. Checks that need the
 * IPv6 header (hop limit 255) are left to the caller, who has it; checks
 * that need the addresses (no source link-layer option from the
 * unspecified address, no "solicited" flag to a multicast destination) are
 * done here.
 */
import { get16, get32, set16, set32, setBytes } from './bytes.js';
import { decodeDnsNames, dnsNamesLength, encodeDnsNames } from './dnsname.js';
import { isWireError, malformed, truncated, unsupported, type WireError } from './errors.js';
import { IcmpHdr } from './offsets.js';

// The common ICMPv6 prefix (type, code, checksum) is IcmpHdr's. Router advertisement body.
const RA_CUR_HOP_LIMIT = 4;
const RA_FLAGS = 5;
const RA_ROUTER_LIFETIME = 6;
const RA_REACHABLE_TIME = 8;
const RA_RETRANS_TIMER = 12;
const RA_OPTIONS = 16;
// Router solicitation body: 4 reserved bytes.
const RS_OPTIONS = 8;
// Neighbor solicitation / advertisement body.
const NA_FLAGS = 4;
const NS_NA_TARGET = 8;
const NS_NA_OPTIONS = 24;

const RA_FLAG_MANAGED = 0x80;
const RA_FLAG_OTHER = 0x40;
const NA_FLAG_ROUTER = 0x80;
const NA_FLAG_SOLICITED = 0x40;
const NA_FLAG_OVERRIDE = 0x20;

// Option TLV layout.
const OPT_TYPE = 0;
const OPT_LEN = 1;
const OPT_UNIT = 8;
const OPT_LLADDR = 2;
const OPT_PI_PREFIX_LEN = 2;
const OPT_PI_FLAGS = 3;
const OPT_PI_VALID = 4;
const OPT_PI_PREFERRED = 8;
const OPT_PI_PREFIX = 16;
const OPT_PI_UNITS = 4;
const OPT_MTU_VALUE = 4;
const OPT_DNS_LIFETIME = 4;
const OPT_DNS_DATA = 8;

const PI_FLAG_ON_LINK = 0x80;
const PI_FLAG_AUTONOMOUS = 0x40;

export const NdpType = {
  RouterSolicit: 133,
  RouterAdvert: 134,
  NeighborSolicit: 135,
  NeighborAdvert: 136,
} as const;

export const NdpOptionType = {
  SourceLinkAddr: 1,
  TargetLinkAddr: 2,
  PrefixInfo: 3,
  Mtu: 5,
  Rdnss: 25,
  Dnssl: 31,
} as const;

export type NdpPrefixInfo = {
  prefixLength: number;
  onLink: boolean;
  autonomous: boolean;
  /** Seconds; 0xffffffff is infinity. */
  validLifetime: number;
  preferredLifetime: number;
  prefix: Uint8Array;
};

export type NdpRdnss = { lifetime: number; servers: Uint8Array[] };
export type NdpDnssl = { lifetime: number; domains: string[] };

export type NdpOptions = {
  sourceLinkAddr: Uint8Array | null;
  targetLinkAddr: Uint8Array | null;
  mtu: number | null;
  prefixes: NdpPrefixInfo[];
  rdnss: NdpRdnss[];
  dnssl: NdpDnssl[];
};

export type NdpRepr =
  | { type: 'routerSolicit'; options: NdpOptions }
  | {
      type: 'routerAdvert';
      curHopLimit: number;
      managed: boolean;
      other: boolean;
      /** Seconds; 0 means "not a default router". */
      routerLifetime: number;
      /** Milliseconds; 0 means unspecified. */
      reachableTime: number;
      retransTime: number;
      options: NdpOptions;
    }
  | { type: 'neighborSolicit'; target: Uint8Array; options: NdpOptions }
  | {
      type: 'neighborAdvert';
      router: boolean;
      solicited: boolean;
      override: boolean;
      target: Uint8Array;
      options: NdpOptions;
    };

export function emptyNdpOptions(): NdpOptions {
  return { sourceLinkAddr: null, targetLinkAddr: null, mtu: null, prefixes: [], rdnss: [], dnssl: [] };
}

export function isNdpType(t: number): boolean {
  return t >= NdpType.RouterSolicit && t <= NdpType.NeighborAdvert;
}

function parseOptions(b: Uint8Array, from: number): NdpOptions | WireError {
  const o = emptyNdpOptions();
  let i = from;
  while (i < b.length) {
    if (i + 2 > b.length) return truncated('NDP option header runs past the message');
    const type = b[i + OPT_TYPE] as number;
    const units = b[i + OPT_LEN] as number;
    if (units === 0) return malformed(`NDP option ${type} with length 0`);
    const len = units * OPT_UNIT;
    if (i + len > b.length) return truncated(`NDP option ${type} of ${len} bytes runs past the message`);
    const opt = b.subarray(i, i + len);
    switch (type) {
      case NdpOptionType.SourceLinkAddr:
      case NdpOptionType.TargetLinkAddr: {
        if (units !== 1) return unsupported(`NDP link-layer address option of ${len} bytes (not Ethernet)`);
        const mac = opt.subarray(OPT_LLADDR, OPT_LLADDR + 6);
        if (type === NdpOptionType.SourceLinkAddr) o.sourceLinkAddr = mac;
        else o.targetLinkAddr = mac;
        break;
      }
      case NdpOptionType.PrefixInfo: {
        if (units !== OPT_PI_UNITS) return malformed(`NDP prefix information option of ${len} bytes`);
        const prefixLength = opt[OPT_PI_PREFIX_LEN] as number;
        if (prefixLength > 128) return malformed(`NDP prefix length ${prefixLength}`);
        const flags = opt[OPT_PI_FLAGS] as number;
        o.prefixes.push({
          prefixLength,
          onLink: (flags & PI_FLAG_ON_LINK) !== 0,
          autonomous: (flags & PI_FLAG_AUTONOMOUS) !== 0,
          validLifetime: get32(opt, OPT_PI_VALID),
          preferredLifetime: get32(opt, OPT_PI_PREFERRED),
          prefix: opt.subarray(OPT_PI_PREFIX, OPT_PI_PREFIX + 16),
        });
        break;
      }
      case NdpOptionType.Mtu:
        if (units !== 1) return malformed(`NDP MTU option of ${len} bytes`);
        o.mtu = get32(opt, OPT_MTU_VALUE);
        break;
      case NdpOptionType.Rdnss: {
        if (units < 3 || (units & 1) === 0) return malformed(`NDP RDNSS option of ${units} units`);
        const servers: Uint8Array[] = [];
        for (let s = OPT_DNS_DATA; s < len; s += 16) servers.push(opt.subarray(s, s + 16));
        o.rdnss.push({ lifetime: get32(opt, OPT_DNS_LIFETIME), servers });
        break;
      }
      case NdpOptionType.Dnssl: {
        if (units < 2) return malformed(`NDP DNSSL option of ${units} units`);
        const domains = decodeDnsNames(opt.subarray(OPT_DNS_DATA), { padded: true });
        if (isWireError(domains)) return domains;
        o.dnssl.push({ lifetime: get32(opt, OPT_DNS_LIFETIME), domains });
        break;
      }
      default:
        break; // RFC 4861 4.6: unrecognised options are skipped.
    }
    i += len;
  }
  return o;
}

function isUnspecified(a: Uint8Array): boolean {
  for (let k = 0; k < a.length; k++) if (a[k] !== 0) return false;
  return true;
}

/**
 * `message` is the whole ICMPv6 message (checksum already verified by the
 * caller); `src`/`dst` are the IPv6 addresses.
 */
export function parseNdp(message: Uint8Array, src: Uint8Array, dst: Uint8Array): NdpRepr | WireError {
  if (message.length < 4) return truncated('ICMPv6 header');
  const type = message[IcmpHdr.TYPE] as number;
  if (message[IcmpHdr.CODE] !== 0) return malformed(`NDP message ${type} with code ${message[IcmpHdr.CODE]}`);
  const fixed =
    type === NdpType.RouterAdvert ? RA_OPTIONS : type === NdpType.RouterSolicit ? RS_OPTIONS : NS_NA_OPTIONS;
  if (!isNdpType(type)) return unsupported(`ICMPv6 type ${type} is not NDP`);
  if (message.length < fixed) return truncated(`NDP message ${type} needs ${fixed} bytes, have ${message.length}`);
  const options = parseOptions(message, fixed);
  if (isWireError(options)) return options;
  const fromUnspecified = isUnspecified(src);
  switch (type) {
    case NdpType.RouterSolicit:
      if (fromUnspecified && options.sourceLinkAddr !== null) {
        return malformed('router solicitation from :: with a source link-layer address');
      }
      return { type: 'routerSolicit', options };
    case NdpType.RouterAdvert: {
      const flags = message[RA_FLAGS] as number;
      return {
        type: 'routerAdvert',
        curHopLimit: message[RA_CUR_HOP_LIMIT] as number,
        managed: (flags & RA_FLAG_MANAGED) !== 0,
        other: (flags & RA_FLAG_OTHER) !== 0,
        routerLifetime: get16(message, RA_ROUTER_LIFETIME),
        reachableTime: get32(message, RA_REACHABLE_TIME),
        retransTime: get32(message, RA_RETRANS_TIMER),
        options,
      };
    }
    case NdpType.NeighborSolicit: {
      const target = message.subarray(NS_NA_TARGET, NS_NA_TARGET + 16);
      if (target[0] === 0xff) return malformed('neighbor solicitation for a multicast target');
      if (fromUnspecified && options.sourceLinkAddr !== null) {
        return malformed('neighbor solicitation from :: with a source link-layer address');
      }
      return { type: 'neighborSolicit', target, options };
    }
    default: {
      const target = message.subarray(NS_NA_TARGET, NS_NA_TARGET + 16);
      if (target[0] === 0xff) return malformed('neighbor advertisement for a multicast target');
      const flags = message[NA_FLAGS] as number;
      const solicited = (flags & NA_FLAG_SOLICITED) !== 0;
      if (solicited && dst[0] === 0xff) return malformed('solicited neighbor advertisement to a multicast address');
      return {
        type: 'neighborAdvert',
        router: (flags & NA_FLAG_ROUTER) !== 0,
        solicited,
        override: (flags & NA_FLAG_OVERRIDE) !== 0,
        target,
        options,
      };
    }
  }
}

function dnsslUnits(d: NdpDnssl): number | WireError {
  // The root name would encode as a lone zero byte, indistinguishable from padding.
  if (d.domains.length === 0 || d.domains.some((n) => n === '' || n === '.')) {
    return malformed('DNSSL option needs at least one non-root domain');
  }
  const n = dnsNamesLength(d.domains);
  if (typeof n !== 'number') return n;
  return Math.ceil((OPT_DNS_DATA + n) / OPT_UNIT);
}

function optionsLength(o: NdpOptions): number | WireError {
  let len = 0;
  if (o.sourceLinkAddr !== null) len += OPT_UNIT;
  if (o.targetLinkAddr !== null) len += OPT_UNIT;
  if (o.mtu !== null) len += OPT_UNIT;
  len += o.prefixes.length * OPT_PI_UNITS * OPT_UNIT;
  for (const r of o.rdnss) {
    if (r.servers.length === 0) return malformed('RDNSS option with no servers');
    len += OPT_DNS_DATA + 16 * r.servers.length;
  }
  for (const d of o.dnssl) {
    const u = dnsslUnits(d);
    if (typeof u !== 'number') return u;
    len += u * OPT_UNIT;
  }
  return len;
}

function fixedLength(repr: NdpRepr): number {
  return repr.type === 'routerAdvert' ? RA_OPTIONS : repr.type === 'routerSolicit' ? RS_OPTIONS : NS_NA_OPTIONS;
}

/** Whole ICMPv6 message length for `repr`, or an error for options that cannot be encoded. */
export function ndpBufferLength(repr: NdpRepr): number | WireError {
  const o = optionsLength(repr.options);
  return typeof o === 'number' ? fixedLength(repr) + o : o;
}

function writeOptionHeader(b: Uint8Array, at: number, type: number, units: number): void {
  b[at + OPT_TYPE] = type;
  b[at + OPT_LEN] = units;
}

/**
 * Writes type, code, body and options into `bytes` (exactly
 * `ndpBufferLength(repr)` long) and leaves the checksum field zero for the
 * ICMPv6 layer to fill. Returns bytes written.
 */
export function writeNdp(repr: NdpRepr, bytes: Uint8Array): number | WireError {
  const total = ndpBufferLength(repr);
  if (typeof total !== 'number') return total;
  if (bytes.length < total) return truncated(`NDP emit needs ${total} bytes, buffer has ${bytes.length}`);
  const b = bytes;
  b.fill(0, 0, total);
  let at = fixedLength(repr);
  switch (repr.type) {
    case 'routerSolicit':
      b[IcmpHdr.TYPE] = NdpType.RouterSolicit;
      break;
    case 'routerAdvert':
      b[IcmpHdr.TYPE] = NdpType.RouterAdvert;
      b[RA_CUR_HOP_LIMIT] = repr.curHopLimit;
      b[RA_FLAGS] = (repr.managed ? RA_FLAG_MANAGED : 0) | (repr.other ? RA_FLAG_OTHER : 0);
      set16(b, RA_ROUTER_LIFETIME, repr.routerLifetime);
      set32(b, RA_REACHABLE_TIME, repr.reachableTime);
      set32(b, RA_RETRANS_TIMER, repr.retransTime);
      break;
    case 'neighborSolicit':
      b[IcmpHdr.TYPE] = NdpType.NeighborSolicit;
      setBytes(b, NS_NA_TARGET, repr.target, 16);
      break;
    case 'neighborAdvert':
      b[IcmpHdr.TYPE] = NdpType.NeighborAdvert;
      b[NA_FLAGS] =
        (repr.router ? NA_FLAG_ROUTER : 0) | (repr.solicited ? NA_FLAG_SOLICITED : 0) | (repr.override ? NA_FLAG_OVERRIDE : 0);
      setBytes(b, NS_NA_TARGET, repr.target, 16);
      break;
  }
  const o = repr.options;
  if (o.sourceLinkAddr !== null) {
    writeOptionHeader(b, at, NdpOptionType.SourceLinkAddr, 1);
    setBytes(b, at + OPT_LLADDR, o.sourceLinkAddr, 6);
    at += OPT_UNIT;
  }
  if (o.targetLinkAddr !== null) {
    writeOptionHeader(b, at, NdpOptionType.TargetLinkAddr, 1);
    setBytes(b, at + OPT_LLADDR, o.targetLinkAddr, 6);
    at += OPT_UNIT;
  }
  if (o.mtu !== null) {
    writeOptionHeader(b, at, NdpOptionType.Mtu, 1);
    set32(b, at + OPT_MTU_VALUE, o.mtu);
    at += OPT_UNIT;
  }
  for (const p of o.prefixes) {
    writeOptionHeader(b, at, NdpOptionType.PrefixInfo, OPT_PI_UNITS);
    b[at + OPT_PI_PREFIX_LEN] = p.prefixLength;
    b[at + OPT_PI_FLAGS] = (p.onLink ? PI_FLAG_ON_LINK : 0) | (p.autonomous ? PI_FLAG_AUTONOMOUS : 0);
    set32(b, at + OPT_PI_VALID, p.validLifetime);
    set32(b, at + OPT_PI_PREFERRED, p.preferredLifetime);
    setBytes(b, at + OPT_PI_PREFIX, p.prefix, 16);
    at += OPT_PI_UNITS * OPT_UNIT;
  }
  for (const r of o.rdnss) {
    const units = 1 + 2 * r.servers.length;
    writeOptionHeader(b, at, NdpOptionType.Rdnss, units);
    set32(b, at + OPT_DNS_LIFETIME, r.lifetime);
    r.servers.forEach((s, k) => setBytes(b, at + OPT_DNS_DATA + 16 * k, s, 16));
    at += units * OPT_UNIT;
  }
  for (const d of o.dnssl) {
    const units = dnsslUnits(d) as number;
    writeOptionHeader(b, at, NdpOptionType.Dnssl, units);
    set32(b, at + OPT_DNS_LIFETIME, d.lifetime);
    const w = encodeDnsNames(d.domains, b, at + OPT_DNS_DATA);
    if (typeof w !== 'number') return w;
    at += units * OPT_UNIT;
  }
  return total;
}
