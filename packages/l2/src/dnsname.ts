/**
 * Theory of operation.
 *
 * Domain search lists appear in two places we build: DHCPv4 option 119
 * (RFC 3397) and the NDP DNSSL option (RFC 8106), plus DHCPv6 option 24.
 * All use RFC 1035 wire names: length-prefixed labels ending in a zero
 * byte. We always encode without compression (allowed everywhere, and
 * simpler to verify), and decode with compression only where the format
 * permits it (RFC 3397); a pointer must point strictly backwards, which
 * makes loops impossible without a separate hop counter.
 */
import { malformed, truncated, type WireError } from './errors.js';

const MAX_LABEL = 63;
const MAX_NAME = 255;
const POINTER_MASK = 0xc0;

function labelsOf(name: string): string[] | WireError {
  const trimmed = name.endsWith('.') ? name.slice(0, -1) : name;
  if (trimmed.length === 0) return [];
  const labels = trimmed.split('.');
  for (const l of labels) {
    if (l.length === 0) return malformed(`domain ${JSON.stringify(name)} has an empty label`);
    if (l.length > MAX_LABEL) return malformed(`domain ${JSON.stringify(name)} has a label over 63 bytes`);
    for (let i = 0; i < l.length; i++) {
      const c = l.charCodeAt(i);
      if (c <= 0x20 || c >= 0x7f) return malformed(`domain ${JSON.stringify(name)} has a non-printable or non-ASCII byte`);
    }
  }
  return labels;
}

/** Bytes `encodeDnsNames` will produce, or an error for a name that cannot be encoded. */
export function dnsNamesLength(names: readonly string[]): number | WireError {
  let total = 0;
  for (const n of names) {
    const labels = labelsOf(n);
    if (!Array.isArray(labels)) return labels;
    let len = 1;
    for (const l of labels) len += 1 + l.length;
    if (len > MAX_NAME) return malformed(`domain ${JSON.stringify(n)} is longer than 255 bytes encoded`);
    total += len;
  }
  return total;
}

/** Writes the names uncompressed at `bytes[at..]`; returns the new offset. */
export function encodeDnsNames(names: readonly string[], bytes: Uint8Array, at = 0): number | WireError {
  const need = dnsNamesLength(names);
  if (typeof need !== 'number') return need;
  if (at + need > bytes.length) return truncated(`domain list needs ${need} bytes`);
  let o = at;
  for (const n of names) {
    const labels = labelsOf(n) as string[];
    for (const l of labels) {
      bytes[o++] = l.length;
      for (let i = 0; i < l.length; i++) bytes[o++] = l.charCodeAt(i);
    }
    bytes[o++] = 0;
  }
  return o;
}

/**
 * Reads consecutive names from `bytes`. With `compression`, RFC 1035
 * pointers (relative to `bytes[0]`) are followed. With `padded`, a zero
 * byte where a name would start ends the list, and all remaining bytes must
 * be zero (the NDP DNSSL layout).
 */
export function decodeDnsNames(
  bytes: Uint8Array,
  options: { compression?: boolean; padded?: boolean } = {},
): string[] | WireError {
  const names: string[] = [];
  let pos = 0;
  while (pos < bytes.length) {
    if (options.padded === true && bytes[pos] === 0) {
      for (let i = pos; i < bytes.length; i++) {
        if (bytes[i] !== 0) return malformed('non-zero bytes after the domain list padding');
      }
      break;
    }
    let name = '';
    let encodedLen = 0;
    let cursor = pos;
    let resumeAt = -1;
    for (;;) {
      if (cursor >= bytes.length) return truncated('domain name runs past its option');
      const len = bytes[cursor] as number;
      if (len === 0) {
        cursor++;
        break;
      }
      if ((len & POINTER_MASK) === POINTER_MASK) {
        if (options.compression !== true) return malformed('compression pointer where none is allowed');
        if (cursor + 1 >= bytes.length) return truncated('compression pointer runs past its option');
        const target = ((len & ~POINTER_MASK) << 8) | (bytes[cursor + 1] as number);
        if (target >= cursor) return malformed('compression pointer does not point backwards');
        if (resumeAt < 0) resumeAt = cursor + 2;
        cursor = target;
        continue;
      }
      if ((len & POINTER_MASK) !== 0) return malformed(`reserved label type 0x${len.toString(16)}`);
      if (cursor + 1 + len > bytes.length) return truncated('domain label runs past its option');
      encodedLen += 1 + len;
      if (encodedLen + 1 > MAX_NAME) return malformed('domain name longer than 255 bytes');
      let label = '';
      for (let i = 0; i < len; i++) label += String.fromCharCode(bytes[cursor + 1 + i] as number);
      name = name.length === 0 ? label : `${name}.${label}`;
      cursor += 1 + len;
    }
    names.push(name);
    pos = resumeAt >= 0 ? resumeAt : cursor;
  }
  return names;
}
