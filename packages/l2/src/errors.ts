/**
 * Theory of operation.
 *
 * Every parser in this package is fed bytes that came off a wire we do not
 * control, so a malformed frame is an ordinary outcome, not an exceptional
 * one. Parsers therefore *return* a `WireError` instead of throwing: the
 * caller is forced by the type system to look at the result, there is no
 * stack capture on the hot path, and a fuzzer can assert "never throws".
 *
 * The four kinds are deliberately coarse; they say what the caller should
 * do (drop a truncated frame, count a malformed one, count a checksum
 * failure separately, ignore an unsupported feature). `what` is a human
 * readable detail for logs and tests, never something to switch on.
 */

export type WireErrorKind = 'Truncated' | 'Malformed' | 'BadChecksum' | 'Unsupported';

export type WireError = { readonly kind: WireErrorKind; readonly what: string };

/**
 * Errors are instances of one private class so that `isWireError` can tell
 * them apart from representations with a cheap prototype check; a plain
 * object of the right shape is still accepted for callers that build their
 * own.
 */
class WireFault implements WireError {
  constructor(
    readonly kind: WireErrorKind,
    readonly what: string,
  ) {}
  toString(): string {
    return `${this.kind}: ${this.what}`;
  }
}

export function wireError(kind: WireErrorKind, what: string): WireError {
  return new WireFault(kind, what);
}

export const truncated = (what: string): WireError => new WireFault('Truncated', what);
export const malformed = (what: string): WireError => new WireFault('Malformed', what);
export const badChecksum = (what: string): WireError => new WireFault('BadChecksum', what);
export const unsupported = (what: string): WireError => new WireFault('Unsupported', what);

const KINDS: ReadonlySet<string> = new Set(['Truncated', 'Malformed', 'BadChecksum', 'Unsupported']);

export function isWireError(x: unknown): x is WireError {
  if (x instanceof WireFault) return true;
  if (typeof x !== 'object' || x === null) return false;
  if (ArrayBuffer.isView(x)) return false;
  const o = x as { kind?: unknown; what?: unknown };
  return typeof o.kind === 'string' && KINDS.has(o.kind) && typeof o.what === 'string';
}
