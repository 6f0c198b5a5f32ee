/**
 * Theory of operation.
 *
 * The small address-family abstraction: most code above the IP layer only
 * needs "the source and destination address bytes, the upper protocol and
 * its payload", and both representations carry exactly those under the
 * same names except the protocol (IPv4 `protocol`, IPv6 `nextHeader` after
 * the extension-header walk). `IpRepr` is the discriminated union on
 * `version`, and `parseIp` picks the family from the version nibble so a
 * tap/stream reader can hand an EtherType-less buffer straight to it.
 */
import { malformed, truncated, type WireError } from './errors.js';
import { parseIpv4Bytes, type Ipv4Repr } from './ipv4.js';
import { parseIpv6Bytes, type Ipv6Repr } from './ipv6.js';

export type IpRepr = Ipv4Repr | Ipv6Repr;

export function parseIp(bytes: Uint8Array, verifyChecksum = true): IpRepr | WireError {
  if (bytes.length < 1) return truncated('empty IP packet');
  const version = (bytes[0] as number) >>> 4;
  if (version === 4) return parseIpv4Bytes(bytes, verifyChecksum);
  if (version === 6) return parseIpv6Bytes(bytes);
  return malformed(`IP version ${version}`);
}

/** The upper-layer protocol number, whichever the family. */
export function ipProtocolOf(repr: IpRepr): number {
  return repr.version === 4 ? repr.protocol : repr.nextHeader;
}
