/**
 * Theory of operation.
 *
 * Addresses travel through this package as plain byte arrays (4 bytes for
 * IPv4, 16 for IPv6, 6 for MAC) because that is how they sit in a frame:
 * a parser can hand out a subarray of the caller's buffer without copying,
 * and an emitter can `set()` them into place. Text forms exist only at the
 * edges (configuration, logs, tests), so parsing text here is strict and
 * returns a `WireError` describing the first thing wrong rather than
 * guessing.
 *
 * The address family is derived from the byte length (4 or 16). Code that
 * must treat IPv4 and IPv6 alike (pseudo-header checksums, UDP) takes the
 * address bytes and never needs a separate family flag.
 */
import { malformed, type WireError } from './errors.js';

export type IpVersion = 4 | 6;

/** An address family as the kernel's APIs and passt's options count them: the one such type in the workspace. */
export type Family = 4 | 6;

export const IPV4_ADDR_LEN = 4;
export const IPV6_ADDR_LEN = 16;
export const MAC_ADDR_LEN = 6;

/** The family of an address is its length; anything else is not an IP address. */
export function ipVersionOf(addr: Uint8Array): IpVersion | null {
  if (addr.length === IPV4_ADDR_LEN) return 4;
  if (addr.length === IPV6_ADDR_LEN) return 6;
  return null;
}

export function addrEquals(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  return -1;
}

/**
 * Writes dotted-quad `text[start, end)` into `out[at..at+4)`. Leading zeros
 * are refused because some resolvers read them as octal; being strict
 * avoids two programs disagreeing on the same configuration string.
 */
function parseDottedQuad(text: string, start: number, end: number, out: Uint8Array, at: number): string | null {
  let part = 0;
  let i = start;
  while (part < 4) {
    const s = i;
    let v = 0;
    while (i < end && isDigit(text.charCodeAt(i))) {
      v = v * 10 + (text.charCodeAt(i) - 0x30);
      i++;
      if (i - s > 3) return `octet ${part + 1} has too many digits`;
    }
    if (i === s) return `octet ${part + 1} is empty or not a number`;
    if (i - s > 1 && text.charCodeAt(s) === 0x30) return `octet ${part + 1} has a leading zero`;
    if (v > 255) return `octet ${part + 1} is ${v}, above 255`;
    out[at + part] = v;
    part++;
    if (part < 4) {
      if (i >= end || text.charCodeAt(i) !== 0x2e) return `expected 4 dot-separated octets, found ${part}`;
      i++;
    }
  }
  if (i !== end) return `unexpected character ${JSON.stringify(text[i])} after the fourth octet`;
  return null;
}

export function parseIpv4Addr(text: string): Uint8Array | WireError {
  const out = new Uint8Array(4);
  const err = parseDottedQuad(text, 0, text.length, out, 0);
  return err === null ? out : malformed(`IPv4 address ${JSON.stringify(text)}: ${err}`);
}

export function formatIpv4Addr(addr: Uint8Array): string {
  return `${addr[0] ?? 0}.${addr[1] ?? 0}.${addr[2] ?? 0}.${addr[3] ?? 0}`;
}

/**
 * RFC 4291 text form: up to eight hex groups, one `::` standing for a run
 * of zero groups, and an optional dotted-quad tail for the last 32 bits.
 * Zone identifiers (`%eth0`) are refused: they are not part of the address
 * bytes and silently dropping them would change meaning.
 */
export function parseIpv6Addr(text: string): Uint8Array | WireError {
  const bad = (why: string): WireError => malformed(`IPv6 address ${JSON.stringify(text)}: ${why}`);
  const out = new Uint8Array(16);
  const n = text.length;
  if (n === 0) return bad('empty');
  if (text.indexOf('%') >= 0) return bad('zone identifiers are not supported');
  const groups: number[] = [];
  let gapAt = -1;
  let i = 0;
  if (text.startsWith('::')) {
    gapAt = 0;
    i = 2;
    if (i === n) return out;
  } else if (text.charCodeAt(0) === 0x3a) {
    return bad('a single leading colon');
  }
  for (;;) {
    // A group is either hex digits, or (last) a dotted quad.
    const s = i;
    let v = 0;
    while (i < n && hexValue(text.charCodeAt(i)) >= 0) {
      v = (v << 4) | hexValue(text.charCodeAt(i));
      i++;
    }
    if (i < n && text.charCodeAt(i) === 0x2e) {
      // Embedded IPv4: it must be the final piece.
      if (groups.length > 6) return bad('an embedded IPv4 tail leaves no room');
      const err = parseDottedQuad(text, s, n, out, 0);
      if (err !== null) return bad(`embedded IPv4 tail: ${err}`);
      groups.push(((out[0] ?? 0) << 8) | (out[1] ?? 0), ((out[2] ?? 0) << 8) | (out[3] ?? 0));
      i = n;
      break;
    }
    if (i === s) return bad(i < n ? `unexpected character ${JSON.stringify(text[i])}` : 'trailing colon');
    if (i - s > 4) return bad('a group has more than 4 hex digits');
    groups.push(v);
    if (i === n) break;
    if (text.charCodeAt(i) !== 0x3a) return bad(`unexpected character ${JSON.stringify(text[i])}`);
    i++;
    if (i < n && text.charCodeAt(i) === 0x3a) {
      if (gapAt >= 0) return bad('more than one "::"');
      gapAt = groups.length;
      i++;
      if (i === n) break;
    } else if (i === n) {
      return bad('trailing colon');
    }
    if (groups.length > 8) return bad('more than 8 groups');
  }
  if (groups.length > 8) return bad('more than 8 groups');
  if (gapAt < 0 && groups.length !== 8) return bad(`expected 8 groups, found ${groups.length}`);
  if (gapAt >= 0 && groups.length > 7) return bad('"::" must stand for at least one group');
  out.fill(0);
  const zeros = 8 - groups.length;
  let g = 0;
  for (let k = 0; k < groups.length; k++) {
    if (k === gapAt) g += zeros;
    const v = groups[k] ?? 0;
    out[g * 2] = v >> 8;
    out[g * 2 + 1] = v & 0xff;
    g++;
  }
  return out;
}

/**
 * RFC 5952 canonical form: lower case, no leading zeros, the longest run
 * (first on ties) of two or more zero groups shortened to `::`, and
 * IPv4-mapped addresses shown with a dotted-quad tail.
 */
export function formatIpv6Addr(addr: Uint8Array): string {
  const g = (k: number): number => ((addr[k * 2] ?? 0) << 8) | (addr[k * 2 + 1] ?? 0);
  let mapped = true;
  for (let k = 0; k < 5; k++) if (g(k) !== 0) mapped = false;
  if (mapped && g(5) === 0xffff) {
    return `::ffff:${addr[12] ?? 0}.${addr[13] ?? 0}.${addr[14] ?? 0}.${addr[15] ?? 0}`;
  }
  let bestStart = -1;
  let bestLen = 1;
  for (let k = 0; k < 8; ) {
    if (g(k) !== 0) {
      k++;
      continue;
    }
    let e = k;
    while (e < 8 && g(e) === 0) e++;
    if (e - k > bestLen) {
      bestStart = k;
      bestLen = e - k;
    }
    k = e;
  }
  let s = '';
  for (let k = 0; k < 8; k++) {
    if (k === bestStart) {
      s += '::';
      k += bestLen - 1;
      continue;
    }
    if (s.length > 0 && !s.endsWith(':')) s += ':';
    s += g(k).toString(16);
  }
  return s;
}

/** Either family, chosen by the presence of a colon. */
export function parseIpAddr(text: string): Uint8Array | WireError {
  return text.indexOf(':') >= 0 ? parseIpv6Addr(text) : parseIpv4Addr(text);
}

export function formatIpAddr(addr: Uint8Array): string {
  return addr.length === IPV4_ADDR_LEN ? formatIpv4Addr(addr) : formatIpv6Addr(addr);
}

/** Accepts `aa:bb:cc:dd:ee:ff` or `aa-bb-cc-dd-ee-ff` with exactly two hex digits per byte, so typos are not silently padded. */
export function parseMac(text: string): Uint8Array | WireError {
  const bad = (why: string): WireError => malformed(`MAC address ${JSON.stringify(text)}: ${why}`);
  if (text.length !== 17) return bad('expected six two-digit hex bytes separated by ":" or "-"');
  const sep = text.charCodeAt(2);
  if (sep !== 0x3a && sep !== 0x2d) return bad('separator must be ":" or "-"');
  const out = new Uint8Array(6);
  for (let k = 0; k < 6; k++) {
    const hi = hexValue(text.charCodeAt(k * 3));
    const lo = hexValue(text.charCodeAt(k * 3 + 1));
    if (hi < 0 || lo < 0) return bad(`byte ${k + 1} is not two hex digits`);
    if (k < 5 && text.charCodeAt(k * 3 + 2) !== sep) return bad('inconsistent or missing separator');
    out[k] = (hi << 4) | lo;
  }
  return out;
}

export function formatMac(mac: Uint8Array): string {
  let s = '';
  for (let k = 0; k < 6; k++) {
    if (k > 0) s += ':';
    s += (mac[k] ?? 0).toString(16).padStart(2, '0');
  }
  return s;
}

export function isMacBroadcast(mac: Uint8Array): boolean {
  for (let k = 0; k < 6; k++) if (mac[k] !== 0xff) return false;
  return true;
}

/** The group bit is the least significant bit of the first octet (IEEE 802). */
export function isMacMulticast(mac: Uint8Array): boolean {
  return ((mac[0] ?? 0) & 1) === 1;
}

export function isUnspecified(addr: Uint8Array): boolean {
  for (let k = 0; k < addr.length; k++) if (addr[k] !== 0) return false;
  return true;
}

export function isIpv4Broadcast(addr: Uint8Array): boolean {
  return addr.length === 4 && addr[0] === 255 && addr[1] === 255 && addr[2] === 255 && addr[3] === 255;
}

export function isIpMulticast(addr: Uint8Array): boolean {
  if (addr.length === 4) return ((addr[0] ?? 0) & 0xf0) === 0xe0;
  return addr[0] === 0xff;
}

export function isIpv6LinkLocal(addr: Uint8Array): boolean {
  return addr.length === 16 && addr[0] === 0xfe && ((addr[1] ?? 0) & 0xc0) === 0x80;
}

/** ff02::1:ffXX:XXXX, where neighbour solicitations for `addr` are sent (RFC 4291 2.7.1). */
export function ipv6SolicitedNode(addr: Uint8Array, out: Uint8Array = new Uint8Array(16)): Uint8Array {
  out.fill(0);
  out[0] = 0xff;
  out[1] = 0x02;
  out[11] = 0x01;
  out[12] = 0xff;
  out[13] = addr[13] ?? 0;
  out[14] = addr[14] ?? 0;
  out[15] = addr[15] ?? 0;
  return out;
}

/** 33:33 + low 32 bits: the Ethernet destination for an IPv6 multicast group (RFC 2464 7). */
export function ipv6MulticastMac(group: Uint8Array, out: Uint8Array = new Uint8Array(6)): Uint8Array {
  out[0] = 0x33;
  out[1] = 0x33;
  out[2] = group[12] ?? 0;
  out[3] = group[13] ?? 0;
  out[4] = group[14] ?? 0;
  out[5] = group[15] ?? 0;
  return out;
}

/** 01:00:5e + low 23 bits: the Ethernet destination for an IPv4 multicast group (RFC 1112 6.4). */
export function ipv4MulticastMac(group: Uint8Array, out: Uint8Array = new Uint8Array(6)): Uint8Array {
  out[0] = 0x01;
  out[1] = 0x00;
  out[2] = 0x5e;
  out[3] = (group[1] ?? 0) & 0x7f;
  out[4] = group[2] ?? 0;
  out[5] = group[3] ?? 0;
  return out;
}

/** fe80::/64 with a modified EUI-64 interface id derived from `mac` (RFC 4291 appendix A). */
export function ipv6LinkLocalFromMac(mac: Uint8Array, out: Uint8Array = new Uint8Array(16)): Uint8Array {
  out.fill(0);
  out[0] = 0xfe;
  out[1] = 0x80;
  out[8] = (mac[0] ?? 0) ^ 0x02;
  out[9] = mac[1] ?? 0;
  out[10] = mac[2] ?? 0;
  out[11] = 0xff;
  out[12] = 0xfe;
  out[13] = mac[3] ?? 0;
  out[14] = mac[4] ?? 0;
  out[15] = mac[5] ?? 0;
  return out;
}

/** Whether `a` and `b` share their first `prefixLen` bits. */
export function prefixMatches(a: Uint8Array, b: Uint8Array, prefixLen: number): boolean {
  if (a.length !== b.length) return false;
  let bits = prefixLen;
  for (let k = 0; k < a.length && bits > 0; k++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((((a[k] ?? 0) ^ (b[k] ?? 0)) & mask) !== 0) return false;
  }
  return true;
}

/** The broadcast address cannot be a shared constant: typed arrays cannot be frozen. */
export function macBroadcast(): Uint8Array {
  return new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
}
