/**
 * Theory of operation.
 *
 * The flow table's hash of one side's tuple: protocol, interface, the
 * endpoint's address and port, ours. It is keyed (a random seed per table)
 * so that a guest choosing its ports and addresses cannot aim for one long
 * probe chain, and it reads addresses as the table stores them, 16 bytes
 * with IPv4 v4-mapped, whether they come from the table (`stored`) or from
 * a packet's own 4 bytes: the same tuple hashes the same either way, and
 * nothing is copied to look a flow up. The mixing is murmur3's 32-bit body
 * and finaliser over ten words.
 */
import { bytesEqual, type AddressFamily } from './address.js';

export function randomSeed(): number {
  const a = new Uint32Array(1);
  globalThis.crypto.getRandomValues(a);
  return a[0] as number;
}

/** Reads 32-bit word `w` (0..3) of an address as if mapped to 16 bytes. */
function word(family: number, b: Uint8Array, at: number, w: number, stored: boolean): number {
  if (family === 4 && !stored) {
    if (w < 2) return 0;
    if (w === 2) return 0xffff;
    return (((b[at] as number) << 24) | ((b[at + 1] as number) << 16) | ((b[at + 2] as number) << 8) | (b[at + 3] as number)) >>> 0;
  }
  const o = at + 4 * w;
  return (((b[o] as number) << 24) | ((b[o + 1] as number) << 16) | ((b[o + 2] as number) << 8) | (b[o + 3] as number)) >>> 0;
}

function mix(h: number, k: number): number {
  k = Math.imul(k, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, 0x1b873593);
  h ^= k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

/** Seeded 32-bit hash (murmur3's mixing) of a side's tuple. */
export function hashTuple(
  seed: number,
  protocol: number,
  pif: number,
  family: number,
  endAddr: Uint8Array,
  endAt: number,
  endPort: number,
  ourAddr: Uint8Array,
  ourAt: number,
  ourPort: number,
  stored = false,
): number {
  let h = seed | 0;
  for (let w = 0; w < 4; w++) h = mix(h, word(family, endAddr, endAt, w, stored));
  for (let w = 0; w < 4; w++) h = mix(h, word(family, ourAddr, ourAt, w, stored));
  h = mix(h, ((endPort << 16) | ourPort) >>> 0);
  h = mix(h, (protocol << 8) | pif);
  h ^= 40;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Compares a stored (mapped) address with a packet's 4 or 16 bytes. */
export function mappedEquals(fam: AddressFamily, stored: Uint8Array, storedAt: number, b: Uint8Array, at: number): boolean {
  if (fam.family === 6) return bytesEqual(stored, storedAt, b, at, 16);
  return bytesEqual(stored, storedAt + 12, b, at, 4);
}
