/** Plain option and result shapes shared by the modules of this package. */
import type { Family } from "./batch.js";

export interface BindOptions {
  /** IPV6_V6ONLY on IPv6 sockets; the kernel default when absent. */
  v6only?: boolean;
  reuseAddr?: boolean;
  /** Interface index, for link-local IPv6 addresses. */
  scopeId?: number;
  /** IP_FREEBIND / IPV6_FREEBIND: an address the host does not have (yet). */
  freebind?: boolean;
}

export interface SocketName {
  family: Family;
  address: string;
  port: number;
  scopeId: number;
}

export interface TapOptions {
  /** Interface name, or a pattern such as "tap%d". Default "tap0". */
  name?: string;
  vnetHdr?: boolean;
  /** TUNSETOFFLOAD flags; needs vnetHdr. */
  offload?: number;
  /** Bring the link up. */
  up?: boolean;
}

export interface Tap {
  fd: number;
  name: string;
}

