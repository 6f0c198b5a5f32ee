// Frame builders for tests: whole Ethernet frames from our reprs, built in place (payload first, then each header).
import {
  emitArp,
  emitEthernet,
  emitIcmpv4,
  emitIcmpv6,
  emitIpv4,
  emitIpv6,
  emitUdp,
  icmpv6BufferLength,
  type ArpRepr,
  type Icmpv4Repr,
  type Icmpv6Repr,
} from '../src/index.js';
import { mac, ok } from './helpers.js';

export const GUEST_MAC = mac('52:54:00:12:34:56');
export const HOST_MAC = mac('52:55:0a:00:02:02');

function eth(buf: Uint8Array, hl: number, ethertype: number, l3len: number, src: Uint8Array, dst: Uint8Array, vlanId: number | null): Uint8Array {
  const n = emitEthernet({ dst, src, ethertype, vlanId, vlanPriority: vlanId === null ? 0 : 3, payload: buf.subarray(hl, hl + l3len) }, buf);
  return buf.subarray(0, n);
}

/** IPv4 or IPv6 packet with `build(l4buf)` writing the upper layer; returns the whole frame. */
export function ipFrame(
  src: Uint8Array,
  dst: Uint8Array,
  protocol: number,
  l4len: number,
  build: (l4: Uint8Array) => void,
  opts: { vlanId?: number | null; hopLimit?: number; srcMac?: Uint8Array; dstMac?: Uint8Array } = {},
): Uint8Array {
  const vlanId = opts.vlanId ?? null;
  const hl = vlanId === null ? 14 : 18;
  const v6 = src.length === 16;
  const ipl = v6 ? 40 : 20;
  const buf = new Uint8Array(hl + ipl + l4len);
  const l4 = buf.subarray(hl + ipl);
  build(l4);
  const l3 = buf.subarray(hl);
  if (v6) {
    ok(emitIpv6({ version: 6, src, dst, nextHeader: protocol, hopLimit: opts.hopLimit ?? 64, trafficClass: 0, flowLabel: 0, upperOffset: 40, isFragment: false, fragmentOffset: 0, moreFragments: false, fragmentIdent: 0, payload: l4 }, l3));
  } else {
    ok(emitIpv4({ version: 4, src, dst, protocol, ttl: opts.hopLimit ?? 64, dscp: 0, ecn: 0, ident: 0x4242, dontFragment: true, moreFragments: false, fragmentOffset: 0, options: new Uint8Array(0), payload: l4 }, l3));
  }
  return eth(buf, hl, v6 ? 0x86dd : 0x0800, ipl + l4len, opts.srcMac ?? HOST_MAC, opts.dstMac ?? GUEST_MAC, vlanId);
}

export function udpFrame(
  src: Uint8Array,
  dst: Uint8Array,
  srcPort: number,
  dstPort: number,
  payload: Uint8Array,
  opts: { vlanId?: number | null; hopLimit?: number } = {},
): Uint8Array {
  return ipFrame(src, dst, 17, 8 + payload.length, (l4) => ok(emitUdp({ srcPort, dstPort, payload }, l4, src, dst)), opts);
}

export function icmp4Frame(src: Uint8Array, dst: Uint8Array, r: Icmpv4Repr): Uint8Array {
  return ipFrame(src, dst, 1, 8 + r.data.length, (l4) => ok(emitIcmpv4(r, l4)));
}

export function icmp6Frame(src: Uint8Array, dst: Uint8Array, r: Icmpv6Repr, hopLimit = 255): Uint8Array {
  return ipFrame(src, dst, 58, ok(icmpv6BufferLength(r)), (l4) => ok(emitIcmpv6(r, l4, src, dst)), { hopLimit });
}

export function arpFrame(r: ArpRepr, dstMac: Uint8Array): Uint8Array {
  const buf = new Uint8Array(42);
  ok(emitArp(r, buf.subarray(14)));
  return eth(buf, 14, 0x0806, 28, r.senderMac, dstMac, null);
}
