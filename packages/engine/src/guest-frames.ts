/**
 * The one parse and dispatch of every frame from the guest.
 *
 * Theory of operation
 *
 * Frames arrive in batches (a tap read by pasta, qemu's stream decoded by
 * passt). Each is parsed once, by @x/l2's `parseFrameHeaders`: Ethernet,
 * then the IPv4 or IPv6 header validated (version, lengths, header
 * checksum, extension headers walked, fragments recognised) into one
 * reusable record of offsets. Then it goes to exactly one place:
 *
 *   ARP (also VLAN-tagged)            the responders
 *   UDP to port 67 (v4) / 547 (v6)    the responders (DHCP, DHCPv6)
 *   ICMPv6 router/neighbour messages  the responders (NDP)
 *   other UDP                         udp-core, queued and sent as a burst
 *   ICMP, other ICMPv6                the echo handler (icmp-echo.ts)
 *   TCP                               tcp-core
 *   anything else                     counted by its reason
 *
 * Every frame is counted exactly once: delivered to a transport, answered
 * or ignored by a responder, or dropped as `malformed`, `unknownEtherType`, `unknownProtocol`, `fragment`
 * (passt does not reassemble) or `notForUs` (ARP and DHCP the responders
 * passed over). The transports and the responders receive the
 * parsed record and read only their own headers: nothing after this reads
 * an IP header again.
 *
 * The guest's MAC is learnt from the same parse, but only from a frame
 * whose headers hang together (an IP header that passed, or an ARP packet
 * whose sender is the frame's source): garbage written into the link must
 * not redirect every frame we send to whatever MAC it carried.
 */
import {
  ArpHdr,
  DHCPV4_SERVER_PORT,
  DHCPV6_SERVER_PORT,
  EthHdr,
  FrameClass,
  FrameHeaders,
  IpProtocol,
  UdpHdr,
  get16,
  parseFrameHeaders,
} from "@x/l2";

/** Why frames were not handed to a transport or a responder. */
export interface DropCounters {
  unknownEtherType: number;
  unknownProtocol: number;
  fragment: number;
  notForUs: number;
}

/** Where the dispatcher sends each kind of frame. */
export interface FrameTargets {
  /** A frame for the responders, with its parse; returns how they took it. */
  responders(slab: Uint8Array, at: number, len: number, h: FrameHeaders): "answered" | "consumed" | "malformed" | "pass";
  udp(slab: Uint8Array, h: FrameHeaders): void;
  icmp(slab: Uint8Array, h: FrameHeaders): void;
  tcp(slab: Uint8Array, h: FrameHeaders): void;
  /** After the last frame of a batch: send what was queued. */
  flush(): void;
  /** A frame whose headers vouch for its source MAC. */
  learnMac(slab: Uint8Array, macAt: number): void;
}

export interface DispatchCounters {
  framesIn: number;
  answered: number;
  /** Taken by a responder without an answer (a gratuitous ARP, duplicate address detection...). */
  ignored: number;
  malformed: number;
  dropped: DropCounters;
}

/** NDP's message types: router solicitation to redirect (RFC 4861). */
const NDP_FIRST = 133;
const NDP_LAST = 137;

export class GuestFrames {
  readonly counters: DispatchCounters = {
    framesIn: 0,
    answered: 0,
    ignored: 0,
    malformed: 0,
    dropped: { unknownEtherType: 0, unknownProtocol: 0, fragment: 0, notForUs: 0 },
  };
  private readonly h = new FrameHeaders();

  constructor(private readonly to: FrameTargets) {}

  /** A batch of frames from the guest: slab[offsets[i], + lengths[i]). */
  fromGuest(slab: Uint8Array, offsets: ArrayLike<number>, lengths: ArrayLike<number>, count: number): void {
    for (let i = 0; i < count; i++) this.one(slab, offsets[i] as number, lengths[i] as number);
    this.to.flush();
  }

  private one(slab: Uint8Array, at: number, len: number): void {
    const c = this.counters;
    const h = this.h;
    c.framesIn++;
    switch (parseFrameHeaders(slab, at, len, h)) {
      case FrameClass.Malformed:
        c.malformed++;
        return;
      case FrameClass.UnknownEtherType:
        // A VLAN-tagged ARP request is still the responders' to answer.
        this.respond(slab, at, len, true);
        return;
      case FrameClass.Arp:
        if (arpSenderIsSource(slab, at, len)) this.to.learnMac(slab, at + EthHdr.SRC);
        this.respond(slab, at, len);
        return;
      case FrameClass.Fragment:
        this.to.learnMac(slab, at + EthHdr.SRC);
        c.dropped.fragment++;
        return;
      default:
        break;
    }
    this.to.learnMac(slab, at + EthHdr.SRC);
    switch (h.protocol) {
      case IpProtocol.Udp: {
        if (h.l4At + UdpHdr.LEN <= h.l4End) {
          const port = get16(slab, h.l4At + UdpHdr.DST_PORT);
          if (port === (h.family === 4 ? DHCPV4_SERVER_PORT : DHCPV6_SERVER_PORT)) {
            this.respond(slab, at, len);
            return;
          }
        }
        this.to.udp(slab, h);
        return;
      }
      case IpProtocol.Icmpv6: {
        const type = h.l4At < h.l4End ? (slab[h.l4At] as number) : 0;
        if (type >= NDP_FIRST && type <= NDP_LAST) {
          this.respond(slab, at, len);
          return;
        }
        if (h.family === 6) this.to.icmp(slab, h);
        else c.dropped.unknownProtocol++;
        return;
      }
      case IpProtocol.Icmp:
        if (h.family === 4) this.to.icmp(slab, h);
        else c.dropped.unknownProtocol++;
        return;
      case IpProtocol.Tcp:
        this.to.tcp(slab, h);
        return;
      default:
        c.dropped.unknownProtocol++;
    }
  }

  /** Offers a frame to the responders and counts how they took it; `unknown`: a pass means an EtherType nobody handles. */
  private respond(slab: Uint8Array, at: number, len: number, unknown = false): void {
    const c = this.counters;
    const r = this.to.responders(slab, at, len, this.h);
    if (r === "answered") c.answered++;
    else if (r === "malformed") c.malformed++;
    else if (r === "consumed") c.ignored++;
    else if (unknown) c.dropped.unknownEtherType++;
    else c.dropped.notForUs++;
  }
}

/** An Ethernet/IPv4 ARP packet whose sender hardware address is the frame's source. */
function arpSenderIsSource(b: Uint8Array, at: number, len: number): boolean {
  const arp = at + EthHdr.LEN;
  if (len < EthHdr.LEN + ArpHdr.LEN || b[arp + ArpHdr.HLEN] !== 6 || b[arp + ArpHdr.PLEN] !== 4) return false;
  for (let k = 0; k < 6; k++) if (b[arp + ArpHdr.SHA + k] !== b[at + EthHdr.SRC + k]) return false;
  return true;
}
