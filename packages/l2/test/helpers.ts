import { isWireError, parseIpv4Addr, parseIpv6Addr, parseMac, type WireError } from '../src/index.js';

export const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
export const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

export function ok<T>(x: T | WireError): T {
  if (isWireError(x)) throw new Error(`unexpected ${x.kind}: ${x.what}`);
  return x;
}

export const ip = (s: string): Uint8Array => ok(s.includes(':') ? parseIpv6Addr(s) : parseIpv4Addr(s));
export const mac = (s: string): Uint8Array => ok(parseMac(s));

/** Recursively turns Uint8Arrays into plain arrays so toEqual ignores buffer identity/offsets. */
export function plain(x: unknown): unknown {
  if (x instanceof Uint8Array) return Array.from(x);
  if (Array.isArray(x)) return x.map(plain);
  if (x !== null && typeof x === 'object') {
    const o: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(x)) o[k] = plain(v);
    return o;
  }
  return x;
}
