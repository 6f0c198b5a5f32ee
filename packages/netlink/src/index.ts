/**
 * @x/netlink: rtnetlink (NETLINK_ROUTE) spoken from TypeScript.
 *
 * Theory of operation: the only native piece is the socket, opened by
 * @x/syscalls in Node's own network namespace or, on a short-lived helper
 * thread, inside another one (the main thread never moves, see
 * ARCHITECTURE.md decision 4). Everything on the wire is built and parsed
 * here in TypeScript (messages.ts); socket.ts matches answers to requests;
 * links.ts, addresses.ts and routes.ts speak one object kind each;
 * template.ts finds the host interface pasta and passt copy. An `Rtnl` owns
 * one socket and offers all of it as async methods; every failure is a
 * NetlinkError whose `code` is the errno name.
 */
import { netlinkSocket, netnsNetlinkSocket } from "@x/syscalls";
import { asNetlinkError } from "./errors.js";
import { addAddress, deleteAddress, listAddresses, type AddAddressOptions, type Address } from "./addresses.js";
import { linkByName, listLinks, resolveIndex, setLinkAddress, setLinkUp, setMtu, type Link } from "./links.js";
import { addRoute, deleteRoute, listRoutes, type Route, type RouteSpec } from "./routes.js";
import { NetlinkSocket, type SocketOptions } from "./socket.js";
import { templateInterface, type Template, type TemplateOptions } from "./template.js";
import type { Family, IpInput } from "./ip.js";

export { NetlinkError, isNetlinkError, errnoName } from "./errors.js";
export { formatIp, formatMac, parseIp, macBytes, type Family, type Ip, type IpInput } from "./ip.js";
export type { Link } from "./links.js";
export type { Address, AddAddressOptions, Scope } from "./addresses.js";
export type { Route, RouteSpec, NextHopInfo } from "./routes.js";
export type { Template, FamilyTemplate, Ip6Template, TemplateOptions } from "./template.js";
export type { SocketOptions } from "./socket.js";
export { parseLink } from "./links.js";
export { parseAddress } from "./addresses.js";
export { parseRoute } from "./routes.js";
export * as wire from "./messages.js";

/** A link given by index or by name. */
export type LinkRef = number | string;

/** An rtnetlink connection to one network namespace's kernel tables. */
export class Rtnl {
  private readonly sock: NetlinkSocket;

  private constructor(fd: number, options?: SocketOptions) {
    this.sock = new NetlinkSocket(fd, options);
  }

  /**
   * Opens a socket in Node's own network namespace, or inside the namespace
   * `nsFd` (a descriptor from openNamespace) without moving this thread.
   */
  static open(nsFd?: number, options?: SocketOptions): Rtnl {
    let fd: number;
    try {
      fd = nsFd === undefined ? netlinkSocket() : netnsNetlinkSocket(nsFd);
    } catch (e) {
      throw asNetlinkError(e, nsFd === undefined ? "open rtnetlink socket" : `open rtnetlink socket in namespace fd ${nsFd}`);
    }
    return new Rtnl(fd, options);
  }

  /** The socket's descriptor (for diagnostics; do not close it yourself). */
  get fd(): number {
    return this.sock.fd;
  }

  close(): void {
    this.sock.close();
  }

  links(): Promise<Link[]> {
    return listLinks(this.sock);
  }

  /** The link called `name`, or undefined when there is none. */
  linkByName(name: string): Promise<Link | undefined> {
    return linkByName(this.sock, name);
  }

  /** Addresses of both families, or of one. */
  addresses(family?: Family): Promise<Address[]> {
    return listAddresses(this.sock, family);
  }

  /** Routes of the main table. */
  routes(family: Family): Promise<Route[]> {
    return listRoutes(this.sock, family);
  }

  templateInterface(options?: TemplateOptions): Promise<Template> {
    return templateInterface(this.sock, options);
  }

  setLinkUp(link: LinkRef, up = true): Promise<void> {
    return setLinkUp(this.sock, link, up);
  }

  setLinkDown(link: LinkRef): Promise<void> {
    return setLinkUp(this.sock, link, false);
  }

  setMtu(link: LinkRef, mtu: number): Promise<void> {
    return setMtu(this.sock, link, mtu);
  }

  setLinkAddress(link: LinkRef, mac: string | Uint8Array): Promise<void> {
    return setLinkAddress(this.sock, link, mac);
  }

  async addAddress(link: LinkRef, family: Family, address: IpInput, prefixLen: number, options?: AddAddressOptions): Promise<void> {
    return addAddress(this.sock, await resolveIndex(this.sock, link), family, address, prefixLen, options);
  }

  async deleteAddress(link: LinkRef, family: Family, address: IpInput, prefixLen: number): Promise<void> {
    return deleteAddress(this.sock, await resolveIndex(this.sock, link), family, address, prefixLen);
  }

  /** Adds a route; the default route when `spec.dst` is omitted. */
  addRoute(family: Family, spec: RouteSpec): Promise<void> {
    return addRoute(this.sock, family, spec);
  }

  deleteRoute(family: Family, spec: RouteSpec): Promise<void> {
    return deleteRoute(this.sock, family, spec);
  }
}
