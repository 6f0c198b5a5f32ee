/**
 * Theory of operation.
 *
 * The guest believes it sits behind a router (the gateway, gw4/gw6). In
 * fact every datagram is re-sent from a host socket, so the gateway's
 * address is free to mean something else: "the host itself". This module
 * holds the address rules that follow from that, written once for both
 * families.
 *
 * Guest -> world, destination (`mapDestination`):
 *   to the gateway (unless mapGw is off)  -> loopback, or the host address
 *                                            remembered by a "local bind"
 *   anything else                         -> unchanged
 *
 * World -> guest, source (`rewriteSource`):
 *   from loopback, from the unspecified address, or from the host's own
 *   address (as configured, or as last seen used by the guest: pasta copies
 *   the host's address into the guest)    -> the gateway; and a local bind
 *                                            is recorded for that port
 *   anything else (incl. link-local)      -> unchanged
 *
 * The local bind is what makes the first rule reversible: when a host
 * process at 203.0.113.5:5353 (the host's own address) sends to the guest,
 * the guest sees it from the gateway, and its reply to gateway:5353 must go
 * back to 203.0.113.5, not to loopback where nobody listens. Each local
 * bind is keyed by (family, host port), carries a timestamp (it lapses
 * after the idle timeout), a loopback flag and the exact host address. The
 * table is flat and preallocated (65536 entries per family).
 *
 * With mapGw off (--no-map-gw) neither rewrite happens: the gateway is an
 * ordinary destination and host sources reach the guest unchanged.
 * `--map-host-loopback ADDR` puts another address in the gateway's place
 * for both rules (and `none` none at all).
 *
 * Two more rules, both guest -> world, both reversed by the flow table
 * (the answer finds the flow the guest started, whose guest side holds the
 * address the guest used):
 *   to the --dns-forward address, port 53 or 853  -> the --dns-host
 *                                                   resolver (by default
 *                                                   the host's first
 *                                                   nameserver)
 *   to the --map-guest-addr address               -> the host's own
 *                                                   address, which the
 *                                                   guest's own address
 *                                                   otherwise shadows
 * and, for datagrams no flow knows, the host's own address reaches the
 * guest as the --map-guest-addr address rather than as the gateway.
 *
 * World -> guest, destination (`guestDestination`): the address the guest
 * really uses. The guest's recent source addresses are tracked (addrSeen
 * per family, and llSeen for IPv6 link-local); a binding remembers the
 * exact address its guest port sent from, which wins when known, so a
 * reply to a socket that used a global address goes to that global
 * address. Without such a memory, a link-local source is answered to the
 * link-local address and anything else to the global one, each falling
 * back to the other when unknown.
 *
 * Destinations from the guest that are loopback or unspecified are never
 * forwarded: they cannot legitimately appear on a link, and honouring them
 * would let a guest reach the host's loopback even with mapGw off.
 */
import { ADDR_STRIDE, bytesEqual, copyBytes, FAMILIES, type AddressFamily } from './address.js';

const PORTS = 65536;

export interface GatewayConfig {
  /** The gateway address the guest uses, per family (4 and 16 bytes). */
  gateway4?: Uint8Array;
  gateway6?: Uint8Array;
  /** Map the gateway to the host (default true); false is --no-map-gw. */
  mapGw?: boolean;
  /** The host's own addresses (what pasta copies into the guest). */
  hostAddress4?: Uint8Array;
  hostAddress6?: Uint8Array;
  /** The guest's addresses if known in advance (DHCP lease, copied address); refined by traffic. */
  guestAddress4?: Uint8Array;
  guestAddress6?: Uint8Array;
  guestLinkLocal6?: Uint8Array;
  /** --map-host-loopback: the address that reaches the host's loopback instead of the gateway; null is `none`. */
  mapHostLoopback4?: Uint8Array | null;
  mapHostLoopback6?: Uint8Array | null;
  /** --map-guest-addr: an address the guest reaches the host's own address at. */
  mapGuestAddr4?: Uint8Array;
  mapGuestAddr6?: Uint8Array;
  /** --dns-forward: DNS (ports 53 and 853) to this address goes to dnsHost. */
  dnsForward4?: Uint8Array;
  dnsForward6?: Uint8Array;
  dnsHost4?: Uint8Array;
  dnsHost6?: Uint8Array;
}

const DNS_PORT = 53;
const DNS_TLS_PORT = 853;

/**
 * Outcome of `mapDestination`: Plain (forward as is), Mapped (was the
 * gateway, now loopback or the host's address), LinkLocal (IPv6 link-local:
 * the socket needs a scope id), Refused (loopback or unspecified from the
 * guest: drop).
 */
export const DestKind = { Plain: 0, Mapped: 1, LinkLocal: 2, Refused: 3 } as const;
export type DestKind = (typeof DestKind)[keyof typeof DestKind];

/** A fixed-size address slot with a "known" flag, one per family. */
class AddrSlot {
  readonly bytes = new Uint8Array(ADDR_STRIDE);
  known = false;
  set(src: Uint8Array, at: number, len: number): void {
    copyBytes(this.bytes, 0, src, at, len);
    this.known = true;
  }
}

function slotFrom(a: Uint8Array | undefined, fam: AddressFamily, what: string): AddrSlot {
  const s = new AddrSlot();
  if (a !== undefined) {
    if (a.length !== fam.addrLen) throw new RangeError(`${what} must be ${fam.addrLen} bytes, got ${a.length}`);
    s.set(a, 0, fam.addrLen);
  }
  return s;
}

export class AddressMap {
  readonly mapGw: boolean;
  /** The address that stands for the host's loopback: the gateway, --map-host-loopback, or nothing. */
  private readonly loop: readonly [AddrSlot, AddrSlot];
  private readonly guestAddrMap: readonly [AddrSlot, AddrSlot];
  private readonly dnsForward: readonly [AddrSlot, AddrSlot];
  private readonly dnsHost: readonly [AddrSlot, AddrSlot];
  private readonly host: readonly [AddrSlot, AddrSlot];
  /** addrSeen per family: the guest's last non-link-local source. */
  private readonly seen: readonly [AddrSlot, AddrSlot];
  /** The guest's last IPv6 link-local source. */
  private readonly llSeen: AddrSlot;

  /**
   * Local binds, indexed by family.index * 65536 + host port. A time of 0
   * is "never" (a bind at time 0 is stored as the smallest positive
   * number), so that the table stays unwritten, and not resident, until used.
   */
  private readonly localTs = new Float64Array(2 * PORTS);
  private readonly localLoopback = new Uint8Array(2 * PORTS);
  private readonly localAddr = new Uint8Array(2 * PORTS * ADDR_STRIDE);

  constructor(
    cfg: GatewayConfig,
    private readonly timeoutMs: number,
  ) {
    const [v4, v6] = FAMILIES;
    this.mapGw = cfg.mapGw ?? true;
    // The gateway stands for the host's loopback unless another address (or none) was given, or --no-map-gw.
    const gateway = [slotFrom(cfg.gateway4, v4, 'gateway4'), slotFrom(cfg.gateway6, v6, 'gateway6')] as const;
    const loopOf = (given: Uint8Array | null | undefined, gw: AddrSlot, fam: AddressFamily, what: string): AddrSlot => {
      if (given === null) return new AddrSlot();
      if (given !== undefined) return slotFrom(given, fam, what);
      return this.mapGw ? gw : new AddrSlot();
    };
    this.loop = [loopOf(cfg.mapHostLoopback4, gateway[0], v4, 'mapHostLoopback4'), loopOf(cfg.mapHostLoopback6, gateway[1], v6, 'mapHostLoopback6')];
    this.guestAddrMap = [slotFrom(cfg.mapGuestAddr4, v4, 'mapGuestAddr4'), slotFrom(cfg.mapGuestAddr6, v6, 'mapGuestAddr6')];
    this.dnsForward = [slotFrom(cfg.dnsForward4, v4, 'dnsForward4'), slotFrom(cfg.dnsForward6, v6, 'dnsForward6')];
    this.dnsHost = [slotFrom(cfg.dnsHost4, v4, 'dnsHost4'), slotFrom(cfg.dnsHost6, v6, 'dnsHost6')];
    this.host = [slotFrom(cfg.hostAddress4, v4, 'hostAddress4'), slotFrom(cfg.hostAddress6, v6, 'hostAddress6')];
    this.seen = [slotFrom(cfg.guestAddress4, v4, 'guestAddress4'), slotFrom(cfg.guestAddress6, v6, 'guestAddress6')];
    this.llSeen = slotFrom(cfg.guestLinkLocal6, v6, 'guestLinkLocal6');
  }

  /** Records the source address of a datagram from the guest (addrSeen / llSeen). */
  noteGuestSource(fam: AddressFamily, b: Uint8Array, at: number): void {
    if (fam.isUnspecified(b, at)) return;
    const slot = fam.isLinkLocal(b, at) ? this.llSeen : this.seen[fam.index];
    if (!slot.known || !bytesEqual(slot.bytes, 0, b, at, fam.addrLen)) slot.set(b, at, fam.addrLen);
  }

  /**
   * Decides where a datagram the guest sent to `b[at..]`, port `dstPort`,
   * really goes, writing the address to `out[outAt..]`.
   */
  mapDestination(
    fam: AddressFamily,
    b: Uint8Array,
    at: number,
    dstPort: number,
    now: number,
    out: Uint8Array,
    outAt: number,
  ): DestKind {
    const len = fam.addrLen;
    if (fam.isLoopback(b, at) || fam.isUnspecified(b, at)) return DestKind.Refused;
    const dns = this.dnsForward[fam.index];
    const resolver = this.dnsHost[fam.index];
    if (dns.known && resolver.known && (dstPort === DNS_PORT || dstPort === DNS_TLS_PORT) && bytesEqual(b, at, dns.bytes, 0, len)) {
      copyBytes(out, outAt, resolver.bytes, 0, len);
      return fam.isLinkLocal(out, outAt) ? DestKind.LinkLocal : DestKind.Mapped;
    }
    const mg = this.guestAddrMap[fam.index];
    const host = this.host[fam.index];
    if (mg.known && host.known && bytesEqual(b, at, mg.bytes, 0, len)) {
      copyBytes(out, outAt, host.bytes, 0, len);
      return DestKind.Mapped;
    }
    const gw = this.loop[fam.index];
    if (gw.known && bytesEqual(b, at, gw.bytes, 0, len)) {
      const k = fam.index * PORTS + dstPort;
      const ts = this.localTs[k] as number;
      if (ts !== 0 && now - ts <= this.timeoutMs && this.localLoopback[k] === 0) {
        copyBytes(out, outAt, this.localAddr, k * ADDR_STRIDE, len);
      } else {
        copyBytes(out, outAt, fam.loopback, 0, len);
      }
      return DestKind.Mapped;
    }
    copyBytes(out, outAt, b, at, len);
    return fam.isLinkLocal(b, at) ? DestKind.LinkLocal : DestKind.Plain;
  }

  /**
   * Chooses the source address the guest sees for a datagram from
   * `b[at..]`:`srcPort`, writing it to `out[outAt..]`. Records a local bind
   * when the source is the host itself.
   * @returns true when the source was rewritten to the gateway
   */
  rewriteSource(
    fam: AddressFamily,
    b: Uint8Array,
    at: number,
    srcPort: number,
    now: number,
    out: Uint8Array,
    outAt: number,
  ): boolean {
    const len = fam.addrLen;
    const resolver = this.dnsHost[fam.index];
    const dns = this.dnsForward[fam.index];
    if (dns.known && resolver.known && (srcPort === DNS_PORT || srcPort === DNS_TLS_PORT) && bytesEqual(b, at, resolver.bytes, 0, len)) {
      copyBytes(out, outAt, dns.bytes, 0, len);
      return true;
    }
    const host = this.host[fam.index];
    const mg = this.guestAddrMap[fam.index];
    if (mg.known && host.known && bytesEqual(b, at, host.bytes, 0, len)) {
      copyBytes(out, outAt, mg.bytes, 0, len);
      return true;
    }
    const gw = this.loop[fam.index];
    if (gw.known) {
      const loop = fam.isLoopback(b, at) || fam.isUnspecified(b, at);
      const seen = this.seen[fam.index];
      if (
        loop ||
        (host.known && bytesEqual(b, at, host.bytes, 0, len)) ||
        (seen.known && bytesEqual(b, at, seen.bytes, 0, len))
      ) {
        const k = fam.index * PORTS + srcPort;
        this.localTs[k] = now === 0 ? Number.MIN_VALUE : now;
        this.localLoopback[k] = loop ? 1 : 0;
        copyBytes(this.localAddr, k * ADDR_STRIDE, b, at, len);
        copyBytes(out, outAt, gw.bytes, 0, len);
        return true;
      }
    }
    copyBytes(out, outAt, b, at, len);
    return false;
  }

  /**
   * Writes the guest address a frame should go to, given the (rewritten)
   * source, when no binding remembers a better one.
   * @returns false when no guest address of this family is known yet
   */
  guestDestination(fam: AddressFamily, src: Uint8Array, srcAt: number, out: Uint8Array, outAt: number): boolean {
    const global = this.seen[fam.index];
    const ll = fam.family === 6 ? this.llSeen : global;
    const preferLl = fam.isLinkLocal(src, srcAt);
    const first = preferLl ? ll : global;
    const second = preferLl ? global : ll;
    const pick = first.known ? first : second.known ? second : undefined;
    if (pick === undefined) return false;
    copyBytes(out, outAt, pick.bytes, 0, fam.addrLen);
    return true;
  }
}
