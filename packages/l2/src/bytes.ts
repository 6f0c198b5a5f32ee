/**
 * Theory of operation.
 *
 * Network byte order accessors over a Uint8Array. Reading bytes and
 * shifting avoids creating a DataView per packet (an allocation) and is
 * what V8 compiles best for short fields. These helpers do no bounds
 * checking: every caller sits behind a view's `checked()` which proved the
 * offsets fit, the same contract smoltcp's accessors rely on.
 */

export function get16(b: Uint8Array, o: number): number {
  return ((b[o] as number) << 8) | (b[o + 1] as number);
}

export function set16(b: Uint8Array, o: number, v: number): void {
  b[o] = (v >>> 8) & 0xff;
  b[o + 1] = v & 0xff;
}

export function get32(b: Uint8Array, o: number): number {
  return (
    (((b[o] as number) << 24) | ((b[o + 1] as number) << 16) | ((b[o + 2] as number) << 8) | (b[o + 3] as number)) >>>
    0
  );
}

export function set32(b: Uint8Array, o: number, v: number): void {
  b[o] = (v >>> 24) & 0xff;
  b[o + 1] = (v >>> 16) & 0xff;
  b[o + 2] = (v >>> 8) & 0xff;
  b[o + 3] = v & 0xff;
}

/**
 * Copies `payload` to `bytes[at..]` unless it already lies exactly there,
 * which is how callers build nested packets in place without a copy.
 */
export function placePayload(bytes: Uint8Array, at: number, payload: Uint8Array): void {
  if (payload.buffer === bytes.buffer && payload.byteOffset === bytes.byteOffset + at) return;
  bytes.set(payload, at);
}

/** Copies `src` into `b` at `o`, truncating or zero-filling to exactly `len` bytes. */
export function setBytes(b: Uint8Array, o: number, src: Uint8Array, len: number): void {
  if (src.length >= len) {
    b.set(src.length === len ? src : src.subarray(0, len), o);
  } else {
    b.set(src, o);
    b.fill(0, o + src.length, o + len);
  }
}

/**
 * UTF-8 without TextEncoder/TextDecoder, which are not in the ES2022
 * library this package targets. Used for DHCPv6 status messages only.
 */
export function utf8Length(s: string): number {
  let n = 0;
  for (const ch of s) {
    const c = ch.codePointAt(0) as number;
    n += c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
  }
  return n;
}

export function utf8Encode(s: string, out: Uint8Array, at: number): number {
  let o = at;
  for (const ch of s) {
    let c = ch.codePointAt(0) as number;
    if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd; // lone surrogate
    if (c < 0x80) {
      out[o++] = c;
    } else if (c < 0x800) {
      out[o++] = 0xc0 | (c >>> 6);
      out[o++] = 0x80 | (c & 0x3f);
    } else if (c < 0x10000) {
      out[o++] = 0xe0 | (c >>> 12);
      out[o++] = 0x80 | ((c >>> 6) & 0x3f);
      out[o++] = 0x80 | (c & 0x3f);
    } else {
      out[o++] = 0xf0 | (c >>> 18);
      out[o++] = 0x80 | ((c >>> 12) & 0x3f);
      out[o++] = 0x80 | ((c >>> 6) & 0x3f);
      out[o++] = 0x80 | (c & 0x3f);
    }
  }
  return o;
}

/** Decodes leniently: each invalid sequence becomes U+FFFD, never an error. */
export function utf8Decode(b: Uint8Array): string {
  let s = '';
  let i = 0;
  while (i < b.length) {
    const c = b[i] as number;
    let need = 0;
    let cp = 0;
    let min = 0;
    if (c < 0x80) {
      s += String.fromCharCode(c);
      i++;
      continue;
    } else if ((c & 0xe0) === 0xc0) {
      need = 1;
      cp = c & 0x1f;
      min = 0x80;
    } else if ((c & 0xf0) === 0xe0) {
      need = 2;
      cp = c & 0x0f;
      min = 0x800;
    } else if ((c & 0xf8) === 0xf0) {
      need = 3;
      cp = c & 0x07;
      min = 0x10000;
    } else {
      s += '\ufffd';
      i++;
      continue;
    }
    let k = 1;
    for (; k <= need; k++) {
      const d = b[i + k];
      if (d === undefined || (d & 0xc0) !== 0x80) break;
      cp = (cp << 6) | (d & 0x3f);
    }
    if (k <= need || cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
      s += '\ufffd';
      i += k;
      continue;
    }
    s += String.fromCodePoint(cp);
    i += need + 1;
  }
  return s;
}
