/**
 * Theory of operation.
 *
 * Everything a guest learns about its network at boot comes from four
 * small conversations with us: ARP and NDP tell it which MAC reaches an
 * address, DHCP and DHCPv6 hand it an address, a gateway and resolvers, and
 * router advertisements let the kernel build its IPv6 address on its own
 * (SLAAC). All four answer from the same facts, gathered here in one
 * record so that the answers can never disagree with each other: the
 * gateway a DHCP ACK names is the address ARP resolves to our MAC, and the
 * prefix in a router advertisement is the one DHCPv6 leases from.
 *
 * We are one MAC on the link standing in for the whole outside world, so
 * the record holds one MAC of ours, and per family the guest's own address
 * (the one thing we must never claim), the gateway, and the resolvers.
 * A family is absent when the guest gets no connectivity of that kind, and
 * every responder of that family then stays quiet. Each responder can also
 * be switched off, as passt's --no-dhcp, --no-ndp, --no-dhcpv6 and --no-ra
 * do; the frames it would have taken then pass on to the rest of the
 * engine, like any other traffic.
 */
import { ipv6LinkLocalFromMac } from '@x/l2';

/** What the guest is told about IPv4. */
export interface Ipv4LinkConfig {
  /** The guest's address: offered by DHCP, never answered for by ARP. */
  readonly address: Uint8Array;
  /** Length of the guest's on-link prefix (24 for a /24). */
  readonly prefixLen: number;
  /** Default gateway; also our DHCP server identifier and the source of DHCP replies. */
  readonly gateway: Uint8Array;
  /** Resolvers for DHCP option 6, in order of preference. */
  readonly dns: readonly Uint8Array[];
  /** Lease in seconds; passt hands out an unending lease (0xffffffff) because the address never changes. */
  readonly leaseTime?: number;
}

/** What the guest is told about IPv6. */
export interface Ipv6LinkConfig {
  /** The guest's global address: leased by DHCPv6, its /64 advertised for SLAAC. */
  readonly address: Uint8Array;
  /** On-link prefix length; SLAAC on Ethernet only works with 64. */
  readonly prefixLen: number;
  /** The host's gateway; may be link-local. NDP answers for it like for any other neighbour. */
  readonly gateway: Uint8Array;
  /** Our own link-local address: source of every NDP and DHCPv6 message we send (see `ourLinkLocalFor`). */
  readonly ourLinkLocal: Uint8Array;
  /** Resolvers for the RDNSS option and DHCPv6 option 23. */
  readonly dns: readonly Uint8Array[];
  /** Router advertisement M flag: tells the guest to ask DHCPv6 for its address. Default false. */
  readonly managed?: boolean;
  /** Router advertisement O flag: tells the guest to ask DHCPv6 for other settings. Default false. */
  readonly other?: boolean;
  /** Router advertisement lifetime in seconds (at most 65535, the default); 0 means "not a default router". */
  readonly routerLifetime?: number;
}

/** The facts every responder answers from; built by the engine, read-only to us. */
export interface LinkConfig {
  /** The MAC we answer with for every address that is not the guest's. */
  readonly ourMac: Uint8Array;
  /** The guest's MAC once the engine has seen a frame from it. Replies go to the requester's MAC, so this is informative only. */
  readonly guestMac?: Uint8Array | null;
  /** Link MTU, advertised by DHCP option 26 and the NDP MTU option. */
  readonly mtu: number;
  /** DNS search domains, shared by both families as in passt (DHCP 119, DHCPv6 24, NDP DNSSL). */
  readonly searchDomains: readonly string[];
  readonly v4?: Ipv4LinkConfig;
  readonly v6?: Ipv6LinkConfig;
  /** Answer DHCP (default true; false is --no-dhcp). */
  readonly dhcp?: boolean;
  /** Answer NDP at all, solicitations and router solicitations (default true; false is --no-ndp). */
  readonly ndp?: boolean;
  /** Answer DHCPv6 (default true; false is --no-dhcpv6). */
  readonly dhcpv6?: boolean;
  /** Send router advertisements, solicited or not (default true; false is --no-ra). */
  readonly ra?: boolean;
}

/** passt's default MAC, 9a:55:9a:55:9a:55; a fresh array each time since typed arrays cannot be frozen. */
export function passtDefaultMac(): Uint8Array {
  return new Uint8Array([0x9a, 0x55, 0x9a, 0x55, 0x9a, 0x55]);
}

/** fe80:: plus the modified EUI-64 of `mac`: a link-local address no guest will pick for itself. */
export function ourLinkLocalFor(mac: Uint8Array): Uint8Array {
  return ipv6LinkLocalFromMac(mac);
}

/** DHCP lease used when `Ipv4LinkConfig.leaseTime` is absent: "forever", as passt does. */
export const DEFAULT_LEASE_TIME = 0xffffffff;
/** Router lifetime used when `Ipv6LinkConfig.routerLifetime` is absent: the largest the field holds. */
export const DEFAULT_ROUTER_LIFETIME = 65535;
