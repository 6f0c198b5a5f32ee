import { isWireError, parseIpAddr } from '@x/l2';

/** An address from its text, for tests. */
export function ip(text: string): Uint8Array {
  const a = parseIpAddr(text);
  if (isWireError(a)) throw new Error(`bad address ${text}`);
  return a;
}
