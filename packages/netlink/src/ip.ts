/**
 * Addresses as bytes and as text.
 *
 * Theory of operation: the kernel speaks addresses as network-order bytes
 * (4 for IPv4, 16 for IPv6, 6 for a MAC), people and `ip` speak text. Every
 * address this package returns carries both (the `Ip` shape), and every
 * address it takes may be either, so callers never convert by hand. The text
 * is canonical: dotted quad, RFC 5952 for IPv6 (lower case, the longest run
 * of zero groups folded into "::"), colon-separated lower-case MACs. Kept here
 * rather than borrowed from @x/l2 so the package depends on @x/syscalls only.
 */
import { invalid } from "./errors.js";

import type { Family } from "@x/l2";
export type { Family };

/** An IP address in both spellings. */
export interface Ip {
  family: Family;
  /** Network byte order: 4 or 16 bytes. */
  bytes: Uint8Array;
  /** Canonical text: "203.0.113.2", "2001:db8::1". */
  text: string;
}

/** What the API accepts where an address is wanted. */
export type IpInput = string | Uint8Array;

export function addressLength(family: Family): number {
  return family === 4 ? 4 : 16;
}

export function formatIp(bytes: Uint8Array): string {
  if (bytes.length === 4) return Array.from(bytes).join(".");
  if (bytes.length !== 16) return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join(":");
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0));
  // The longest run of two or more zero groups, the first one on a tie.
  let bestAt = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestAt = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (g: number[]): string => g.map((x) => x.toString(16)).join(":");
  if (bestAt < 0) return hex(groups);
  return `${hex(groups.slice(0, bestAt))}::${hex(groups.slice(bestAt + bestLen))}`;
}

export function ipFromBytes(bytes: Uint8Array): Ip {
  return { family: bytes.length === 4 ? 4 : 6, bytes, text: formatIp(bytes) };
}

function parseIpv4(text: string): Uint8Array | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i] ?? "";
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p)) return undefined;
    const v = Number(p);
    if (v > 255) return undefined;
    out[i] = v;
  }
  return out;
}

function parseIpv6(text: string): Uint8Array | undefined {
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const toGroups = (s: string, allowV4: boolean): number[] | undefined => {
    if (s === "") return [];
    const parts = s.split(":");
    const out: number[] = [];
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i] ?? "";
      if (allowV4 && i === parts.length - 1 && p.includes(".")) {
        const v4 = parseIpv4(p);
        if (!v4) return undefined;
        out.push(((v4[0] ?? 0) << 8) | (v4[1] ?? 0), ((v4[2] ?? 0) << 8) | (v4[3] ?? 0));
        continue;
      }
      if (!/^[0-9a-fA-F]{1,4}$/.test(p)) return undefined;
      out.push(parseInt(p, 16));
    }
    return out;
  };
  const head = toGroups(halves[0] ?? "", halves.length === 1);
  const tail = halves.length === 2 ? toGroups(halves[1] ?? "", true) : [];
  if (!head || !tail) return undefined;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  const groups = [...head, ...new Array<number>(halves.length === 2 ? missing : 0).fill(0), ...tail];
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    out[2 * i] = g >> 8;
    out[2 * i + 1] = g & 0xff;
  });
  return out;
}

/** Parses text of either family; undefined when it is neither. */
export function parseIp(text: string): Ip | undefined {
  const bytes = text.includes(":") ? parseIpv6(text) : parseIpv4(text);
  return bytes ? ipFromBytes(bytes) : undefined;
}

/** An address argument as bytes of `family`, or EINVAL saying what was wrong. */
export function ipBytes(input: IpInput, family: Family, what: string): Uint8Array {
  if (typeof input === "string") {
    const ip = parseIp(input);
    if (!ip || ip.family !== family) throw invalid(`${what}: '${input}' is not an IPv${family} address`);
    return ip.bytes;
  }
  if (input.length !== addressLength(family)) {
    throw invalid(`${what}: ${input.length} bytes is not an IPv${family} address`);
  }
  return input;
}

export function formatMac(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join(":");
}

/** "02:00:00:00:00:01" (or its bytes) as 6 bytes. */
export function macBytes(input: string | Uint8Array): Uint8Array {
  if (typeof input !== "string") {
    if (input.length !== 6) throw invalid(`MAC address: ${input.length} bytes, want 6`);
    return input;
  }
  const parts = input.split(":");
  if (parts.length !== 6 || !parts.every((p) => /^[0-9a-fA-F]{1,2}$/.test(p))) {
    throw invalid(`MAC address: '${input}' is not six hex bytes separated by ':'`);
  }
  return Uint8Array.from(parts, (p) => parseInt(p, 16));
}
