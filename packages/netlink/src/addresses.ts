/**
 * Interface addresses: list, add, delete.
 *
 * Theory of operation: RTM_GETADDR with NLM_F_DUMP lists addresses as
 * RTM_NEWADDR messages: an ifaddrmsg (family, prefix length, scope, index
 * and the low 8 flag bits) then attributes. IFA_LOCAL is the address of the
 * interface itself and IFA_ADDRESS the peer's on point-to-point links; on
 * ordinary links only one of them is present or both are equal, so we read
 * IFA_LOCAL first. IFA_FLAGS, when present, carries all 32 flag bits and
 * wins over the header's 8. Adding sends both IFA_LOCAL and IFA_ADDRESS with
 * NLM_F_CREATE|NLM_F_EXCL, as `ip addr add` does, so a duplicate is EEXIST
 * rather than a silent success; IFA_F_NODAD skips IPv6 duplicate address
 * detection so the address is usable at once.
 */
import { invalid, malformed } from "./errors.js";
import { addressLength, ipBytes, ipFromBytes, type Family, type Ip, type IpInput } from "./ip.js";
import {
  AF_INET,
  AF_INET6,
  AF_UNSPEC,
  attrAddress,
  attrString,
  attrU32,
  findAttr,
  ifaddrmsg,
  IFA_ADDRESS,
  IFA_F_DADFAILED,
  IFA_F_DEPRECATED,
  IFA_F_NODAD,
  IFA_F_NOPREFIXROUTE,
  IFA_F_PERMANENT,
  IFA_F_SECONDARY,
  IFA_F_TENTATIVE,
  IFA_FLAGS,
  IFA_LABEL,
  IFA_LOCAL,
  MessageBuilder,
  NLM_F_CREATE,
  NLM_F_EXCL,
  parseIfaddrmsg,
  RT_SCOPE_HOST,
  RT_SCOPE_LINK,
  RT_SCOPE_NOWHERE,
  RT_SCOPE_SITE,
  RT_SCOPE_UNIVERSE,
  RTM_DELADDR,
  RTM_GETADDR,
  RTM_NEWADDR,
  type NlMessage,
} from "./messages.js";
import type { NetlinkSocket } from "./socket.js";

/** rtnetlink scopes by name; "other" for the user-defined values in between. */
export type Scope = "global" | "site" | "link" | "host" | "nowhere" | "other";

export function scopeName(scope: number): Scope {
  switch (scope) {
    case RT_SCOPE_UNIVERSE:
      return "global";
    case RT_SCOPE_SITE:
      return "site";
    case RT_SCOPE_LINK:
      return "link";
    case RT_SCOPE_HOST:
      return "host";
    case RT_SCOPE_NOWHERE:
      return "nowhere";
    default:
      return "other";
  }
}

export interface Address {
  ifindex: number;
  family: Family;
  /** The interface's own address (IFA_LOCAL, else IFA_ADDRESS). */
  address: Ip;
  /** The peer of a point-to-point address, when it differs. */
  peer: Ip | undefined;
  prefixLen: number;
  scope: Scope;
  /** The raw scope number (0 global, 253 link, 254 host...). */
  scopeValue: number;
  /** IFA_F_* bits, all 32 of them when the kernel sent IFA_FLAGS. */
  flags: number;
  /** Still undergoing IPv6 duplicate address detection. */
  tentative: boolean;
  dadFailed: boolean;
  deprecated: boolean;
  /** Not from autoconfiguration (added by hand). */
  permanent: boolean;
  secondary: boolean;
  nodad: boolean;
  /** The IPv4 label ("eth0:1"), if any. */
  label: string | undefined;
}

export function familyCode(family: Family): number {
  return family === 4 ? AF_INET : AF_INET6;
}

export function checkFamily(family: unknown): asserts family is Family {
  if (family !== 4 && family !== 6) throw invalid(`family must be 4 or 6, not ${String(family)}`);
}

/** Decodes one RTM_NEWADDR message; undefined for families other than IPv4/IPv6. */
export function parseAddress(m: NlMessage): Address | undefined {
  if (m.type !== RTM_NEWADDR) throw malformed(`expected an address message (type ${RTM_NEWADDR}), got type ${m.type}`);
  const a = parseIfaddrmsg(m.payload);
  if (a.family !== AF_INET && a.family !== AF_INET6) return undefined;
  const family: Family = a.family === AF_INET ? 4 : 6;
  const localAttr = findAttr(a.attrs, IFA_LOCAL);
  const addrAttr = findAttr(a.attrs, IFA_ADDRESS);
  const main = localAttr ?? addrAttr;
  if (!main) throw malformed(`address message for link ${a.index} has neither IFA_LOCAL nor IFA_ADDRESS`);
  const local = attrAddress(main, a.family, "address");
  const other = localAttr && addrAttr ? attrAddress(addrAttr, a.family, "peer address") : undefined;
  const peer = other && !other.every((b, i) => b === local[i]) ? ipFromBytes(other) : undefined;
  const flagsAttr = findAttr(a.attrs, IFA_FLAGS);
  const flags = flagsAttr ? attrU32(flagsAttr, "IFA_FLAGS") : a.flags;
  const labelAttr = findAttr(a.attrs, IFA_LABEL);
  const maxPrefix = addressLength(family) * 8;
  if (a.prefixLen > maxPrefix) throw malformed(`prefix length ${a.prefixLen} for an IPv${family} address`);
  return {
    ifindex: a.index,
    family,
    address: ipFromBytes(local),
    peer,
    prefixLen: a.prefixLen,
    scope: scopeName(a.scope),
    scopeValue: a.scope,
    flags,
    tentative: (flags & IFA_F_TENTATIVE) !== 0,
    dadFailed: (flags & IFA_F_DADFAILED) !== 0,
    deprecated: (flags & IFA_F_DEPRECATED) !== 0,
    permanent: (flags & IFA_F_PERMANENT) !== 0,
    secondary: (flags & IFA_F_SECONDARY) !== 0,
    nodad: (flags & IFA_F_NODAD) !== 0,
    label: labelAttr ? attrString(labelAttr) : undefined,
  };
}

export async function listAddresses(sock: NetlinkSocket, family?: Family): Promise<Address[]> {
  if (family !== undefined) checkFamily(family);
  const af = family === undefined ? AF_UNSPEC : familyCode(family);
  const b = new MessageBuilder(RTM_GETADDR, 0).bytes(ifaddrmsg({ family: af }));
  const replies = await sock.dump(b, `list ${family ? `IPv${family} ` : ""}addresses`);
  const out: Address[] = [];
  for (const m of replies) {
    if (m.type !== RTM_NEWADDR) continue;
    const a = parseAddress(m);
    // Older kernels ignore the family filter in the request: apply it here.
    if (a && (family === undefined || a.family === family)) out.push(a);
  }
  return out;
}

export interface AddAddressOptions {
  /** IFA_F_NODAD: usable at once, without IPv6 duplicate address detection. */
  nodad?: boolean;
  /** IFA_F_NOPREFIXROUTE: do not add the route to the prefix. */
  noprefixroute?: boolean;
}

function checkPrefix(family: Family, prefixLen: number): void {
  const max = addressLength(family) * 8;
  if (!Number.isInteger(prefixLen) || prefixLen < 0 || prefixLen > max) {
    throw invalid(`prefix length ${prefixLen} is not within 0..${max} for IPv${family}`);
  }
}

function addressMessage(
  type: number,
  flags: number,
  ifindex: number,
  family: Family,
  bytes: Uint8Array,
  prefixLen: number,
  ifaFlags: number,
): MessageBuilder {
  const b = new MessageBuilder(type, flags).bytes(
    ifaddrmsg({ family: familyCode(family), prefixLen, flags: ifaFlags & 0xff, index: ifindex }),
  );
  b.attr(IFA_LOCAL, bytes).attr(IFA_ADDRESS, bytes);
  // Flags beyond the header's 8 bits travel in IFA_FLAGS.
  if (ifaFlags > 0xff) b.u32(IFA_FLAGS, ifaFlags);
  return b;
}

export async function addAddress(
  sock: NetlinkSocket,
  ifindex: number,
  family: Family,
  address: IpInput,
  prefixLen: number,
  options: AddAddressOptions = {},
): Promise<void> {
  checkFamily(family);
  checkPrefix(family, prefixLen);
  const bytes = ipBytes(address, family, "address");
  const flags = (options.nodad ? IFA_F_NODAD : 0) | (options.noprefixroute ? IFA_F_NOPREFIXROUTE : 0);
  const b = addressMessage(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, ifindex, family, bytes, prefixLen, flags);
  await sock.request(b, `add address ${ipFromBytes(bytes).text}/${prefixLen} to link ${ifindex}`);
}

export async function deleteAddress(
  sock: NetlinkSocket,
  ifindex: number,
  family: Family,
  address: IpInput,
  prefixLen: number,
): Promise<void> {
  checkFamily(family);
  checkPrefix(family, prefixLen);
  const bytes = ipBytes(address, family, "address");
  const b = addressMessage(RTM_DELADDR, 0, ifindex, family, bytes, prefixLen, 0);
  await sock.request(b, `delete address ${ipFromBytes(bytes).text}/${prefixLen} from link ${ifindex}`);
}
