/**
 * The template interface: what pasta and passt copy from the host.
 *
 * Theory of operation, following the C passt: the template is the interface
 * that carries the default route, looked for among IPv4 routes first and
 * IPv6 routes only when there is no IPv4 default route (or the interface
 * named by the caller, as with passt's -i). Among several default routes the
 * one with the lowest metric wins, the kernel's own choice. Only unicast
 * routes count: an "unreachable default" has no interface to copy. From that
 * interface we take:
 * - its MTU and MAC address;
 * - per family, the first global address with its prefix length (IPv6
 *   addresses whose duplicate address detection failed are skipped), and
 *   the gateway of the family's default route through this interface (for
 *   IPv6 often a link-local address, valid on this interface only);
 * - for IPv6 also its link-local address, which passt uses as a source.
 * A family with neither a default route nor a global address on the
 * interface has no template at all (`ip4`/`ip6` undefined), the way pasta
 * leaves IPv6 out on a host without IPv6 connectivity. When no interface
 * qualifies the call fails with ENODEV and says why.
 */
import { NetlinkError } from "./errors.js";
import type { Family, Ip } from "./ip.js";
import type { Address } from "./addresses.js";
import { listAddresses } from "./addresses.js";
import { linkByName, listLinks, type Link } from "./links.js";
import { listRoutes, type Route } from "./routes.js";
import { RTN_UNICAST } from "./messages.js";
import type { NetlinkSocket } from "./socket.js";

export interface FamilyTemplate {
  /** The first global address of the family on the interface. */
  address: Ip | undefined;
  prefixLen: number | undefined;
  /** The gateway of the family's default route through the interface. */
  gateway: Ip | undefined;
}

export interface Ip6Template extends FamilyTemplate {
  /** The interface's link-local address (fe80::/10), if any. */
  linkLocal: Ip | undefined;
}

export interface Template {
  ifindex: number;
  name: string;
  mtu: number | undefined;
  mac: Uint8Array | undefined;
  macText: string | undefined;
  /** Undefined when the interface has no IPv4 default route and no global IPv4 address. */
  ip4: FamilyTemplate | undefined;
  /** Undefined when the interface has no IPv6 default route and no global IPv6 address. */
  ip6: Ip6Template | undefined;
}

export interface TemplateOptions {
  /** Use this interface instead of the one with the default route. */
  ifname?: string;
}

/** The interfaces of a route: its own, or those of its next hops. */
function routeInterfaces(r: Route): number[] {
  if (r.oif !== undefined) return [r.oif];
  return r.nextHops.map((h) => h.oif);
}

function isDefault(r: Route): boolean {
  return r.prefixLen === 0 && r.type === RTN_UNICAST;
}

/** Default routes, lowest metric first (stable, so the kernel's order breaks ties). */
function defaults(routes: Route[]): Route[] {
  return routes.filter(isDefault).sort((a, b) => a.priority - b.priority);
}

function gatewayVia(routes: Route[], ifindex: number): Ip | undefined {
  for (const r of defaults(routes)) {
    if (r.oif === ifindex && r.gateway) return r.gateway;
    const hop = r.nextHops.find((h) => h.oif === ifindex && h.gateway);
    if (hop) return hop.gateway;
  }
  return undefined;
}

function isLinkLocal6(ip: Ip): boolean {
  return ip.bytes[0] === 0xfe && ((ip.bytes[1] ?? 0) & 0xc0) === 0x80;
}

function familyTemplate(family: Family, ifindex: number, addrs: Address[], routes: Route[]): FamilyTemplate | undefined {
  const mine = addrs.filter((a) => a.ifindex === ifindex && a.family === family && !a.dadFailed);
  const global = mine.find((a) => a.scope === "global");
  const gateway = gatewayVia(routes, ifindex);
  if (!global && !gateway) return undefined;
  return { address: global?.address, prefixLen: global?.prefixLen, gateway };
}

export async function templateInterface(sock: NetlinkSocket, options: TemplateOptions = {}): Promise<Template> {
  const [routes4, routes6] = await Promise.all([listRoutes(sock, 4), listRoutes(sock, 6)]);
  let link: Link | undefined;
  if (options.ifname !== undefined) {
    link = await linkByName(sock, options.ifname);
    if (!link) throw new NetlinkError("ENODEV", `template interface: no interface named '${options.ifname}'`, { errno: 19 });
  } else {
    const chosen = [...defaults(routes4), ...defaults(routes6)].flatMap(routeInterfaces)[0];
    if (chosen === undefined) {
      throw new NetlinkError(
        "ENODEV",
        "no template interface: there is no IPv4 or IPv6 default route in the main table (name an interface to use one anyway)",
        { errno: 19 },
      );
    }
    link = (await listLinks(sock)).find((l) => l.index === chosen);
    if (!link) throw new NetlinkError("ENODEV", `template interface: the default route's interface ${chosen} has gone`, { errno: 19 });
  }
  const addrs = await listAddresses(sock);
  const ip4 = familyTemplate(4, link.index, addrs, routes4);
  const v6 = familyTemplate(6, link.index, addrs, routes6);
  const ll = addrs.find((a) => a.ifindex === link.index && a.family === 6 && isLinkLocal6(a.address) && !a.dadFailed);
  return {
    ifindex: link.index,
    name: link.name,
    mtu: link.mtu,
    mac: link.mac,
    macText: link.macText,
    ip4,
    ip6: v6 ? { ...v6, linkLocal: ll?.address } : undefined,
  };
}
