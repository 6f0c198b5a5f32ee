/**
 * Theory of operation.
 *
 * IPv4 and IPv6 differ, for this layer, in a handful of facts: how long an
 * address is, what loopback and "any" look like, how long the IP header is,
 * which EtherType announces it and whether a link-local scope exists. Every
 * other rule (bindings, gateway mapping, splice, aging) is the same, so the
 * rest of the package is written once against the `AddressFamily` record
 * below and never branches on "v4 or v6" except to pick the record.
 *
 * Addresses are plain byte arrays (4 or 16 bytes) as they sit in a packet.
 * Inside the hot paths they are read out of larger arrays (a slab, or a
 * table with a 16-byte stride) at an offset, so the predicates here take
 * `(bytes, at)` rather than a standalone array: no subarray per datagram.
 */

import { formatIpAddr, type Family } from '@x/l2';
export type { Family };

/** Every address slot in a table is 16 bytes wide; IPv4 uses the first 4. */
export const ADDR_STRIDE = 16;

export interface AddressFamily {
  readonly family: Family;
  /** Index 0 for IPv4, 1 for IPv6: the row of per-family tables. */
  readonly index: 0 | 1;
  readonly addrLen: 4 | 16;
  /** IP header length we emit (no options, no extension headers). */
  readonly ipHeaderLen: 20 | 40;
  readonly etherType: number;
  readonly loopback: Uint8Array;
  readonly any: Uint8Array;
  isLoopback(b: Uint8Array, at: number): boolean;
  isUnspecified(b: Uint8Array, at: number): boolean;
  /** Only IPv6 has a link-local scope that needs a scope id on sockets. */
  isLinkLocal(b: Uint8Array, at: number): boolean;
}

function allZero(b: Uint8Array, at: number, len: number): boolean {
  for (let i = 0; i < len; i++) if (b[at + i] !== 0) return false;
  return true;
}

export const IPV4: AddressFamily = {
  family: 4,
  index: 0,
  addrLen: 4,
  ipHeaderLen: 20,
  etherType: 0x0800,
  loopback: Uint8Array.of(127, 0, 0, 1),
  any: new Uint8Array(4),
  // The whole of 127.0.0.0/8 is loopback, not just 127.0.0.1.
  isLoopback: (b, at) => b[at] === 127,
  isUnspecified: (b, at) => allZero(b, at, 4),
  isLinkLocal: () => false,
};

export const IPV6: AddressFamily = {
  family: 6,
  index: 1,
  addrLen: 16,
  ipHeaderLen: 40,
  etherType: 0x86dd,
  loopback: Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1),
  any: new Uint8Array(16),
  isLoopback: (b, at) => allZero(b, at, 15) && b[at + 15] === 1,
  isUnspecified: (b, at) => allZero(b, at, 16),
  isLinkLocal: (b, at) => b[at] === 0xfe && ((b[at + 1] ?? 0) & 0xc0) === 0x80,
};

export const FAMILIES: readonly [AddressFamily, AddressFamily] = [IPV4, IPV6];

/** The family record for 4 or 6, or undefined for anything else (untrusted input). */
export function familyOf(f: number): AddressFamily | undefined {
  return f === 4 ? IPV4 : f === 6 ? IPV6 : undefined;
}

/** Compares `len` bytes of two arrays at two offsets. */
export function bytesEqual(a: Uint8Array, aAt: number, b: Uint8Array, bAt: number, len: number): boolean {
  for (let i = 0; i < len; i++) if (a[aAt + i] !== b[bAt + i]) return false;
  return true;
}

/** Copies `len` bytes without creating a view (the lengths here are 4, 6 or 16). */
export function copyBytes(dst: Uint8Array, dstAt: number, src: Uint8Array, srcAt: number, len: number): void {
  for (let i = 0; i < len; i++) dst[dstAt + i] = src[srcAt + i] as number;
}

/** Text form (RFC 5952, by @x/l2) for log lines only: allocates, never on a per-datagram path. */
export function formatAddress(fam: AddressFamily, b: Uint8Array, at: number): string {
  return formatIpAddr(b.subarray(at, at + fam.addrLen));
}

/**
 * The flow table's one address representation: 16 bytes for both
 * families, IPv4 as a v4-mapped IPv6 address (::ffff:a.b.c.d), so that a
 * flow's sides are compared and hashed by one loop whatever the family.
 * The data paths keep the packet's own 4 or 16 bytes; these two convert at
 * the table's edge.
 */
export function storeMapped(fam: AddressFamily, dst: Uint8Array, dstAt: number, src: Uint8Array, srcAt: number): void {
  if (fam.family === 6) {
    copyBytes(dst, dstAt, src, srcAt, 16);
    return;
  }
  for (let i = 0; i < 10; i++) dst[dstAt + i] = 0;
  dst[dstAt + 10] = 0xff;
  dst[dstAt + 11] = 0xff;
  copyBytes(dst, dstAt + 12, src, srcAt, 4);
}

/** Writes the packet form (4 or 16 bytes) of a mapped address back out. */
export function loadMapped(fam: AddressFamily, dst: Uint8Array, dstAt: number, src: Uint8Array, srcAt: number): void {
  if (fam.family === 6) copyBytes(dst, dstAt, src, srcAt, 16);
  else copyBytes(dst, dstAt, src, srcAt + 12, 4);
}
