// Shared fixtures: a link configured with documentation addresses, request builders on @x/l2,
// and reply decoders that verify every checksum on the way in.
import {
  EthernetFrame,
  IpProtocol,
  dhcpv4BufferLength,
  dhcpv4Defaults,
  dhcpv6BufferLength,
  emitDhcpv4,
  emitDhcpv6,
  emitIcmpv6,
  icmpv6BufferLength,
  isWireError,
  parseDhcpv4Bytes,
  parseDhcpv6Bytes,
  parseEthernet,
  parseIcmpv6Bytes,
  parseIpv4Bytes,
  parseIpv6Bytes,
  parseIpAddr,
  parseMac,
  parseUdpBytes,
  type Dhcpv4Repr,
  type Dhcpv6Repr,
  type EthernetRepr,
  type Icmpv6Repr,
  type Ipv4Repr,
  type Ipv6Repr,
  type UdpRepr,
  type WireError,
} from '@x/l2';
import { execFileSync } from 'node:child_process';
import { expect } from 'vitest';
import { ipv4UdpFrame, ipv6Frame, ipv6UdpFrame, type LinkHeader } from '../../src/responders/frame.js';
import {
  ourLinkLocalFor,
  passtDefaultMac,
  respondDetailed,
  type Ipv4LinkConfig,
  type Ipv6LinkConfig,
  type LinkConfig,
  type Outcome,
} from '../../src/responders/index.js';

export function ok<T>(x: T | WireError): T {
  if (isWireError(x)) throw new Error(`unexpected ${x.kind}: ${x.what}`);
  return x;
}

/** The family parts of a config, which the fixture always has. */
export function v4Of(cfg: LinkConfig): Ipv4LinkConfig {
  if (cfg.v4 === undefined) throw new Error('fixture without IPv4');
  return cfg.v4;
}
export function v6Of(cfg: LinkConfig): Ipv6LinkConfig {
  if (cfg.v6 === undefined) throw new Error('fixture without IPv6');
  return cfg.v6;
}

export const ip = (s: string): Uint8Array => ok(parseIpAddr(s));
export const mac = (s: string): Uint8Array => ok(parseMac(s));
export const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));

export const GUEST_MAC = mac('52:54:00:12:34:56');
export const OUR_MAC = passtDefaultMac();
export const OUR_LL = ourLinkLocalFor(OUR_MAC);
export const GUEST_LL = ip('fe80::5054:ff:fe12:3456');

export function config(over: Partial<LinkConfig> = {}): LinkConfig {
  return {
    ourMac: OUR_MAC,
    guestMac: GUEST_MAC,
    mtu: 65520,
    searchDomains: ['example.com', 'lab.example.org'],
    v4: {
      address: ip('198.51.100.10'),
      prefixLen: 24,
      gateway: ip('198.51.100.1'),
      dns: [ip('198.51.100.53'), ip('203.0.113.53')],
    },
    v6: {
      address: ip('2001:db8:1::10'),
      prefixLen: 64,
      gateway: ip('fe80::1'),
      ourLinkLocal: OUR_LL,
      dns: [ip('2001:db8:1::53')],
    },
    ...over,
  };
}

export const fromGuest = (dst: Uint8Array): LinkHeader => ({ dst, src: GUEST_MAC, vlanId: null, vlanPriority: 0 });

/** Runs the responder and collects its replies. */
export function run(frame: Uint8Array, cfg: LinkConfig = config()): { outcome: Outcome; replies: Uint8Array[] } {
  const replies: Uint8Array[] = [];
  const outcome = respondDetailed(frame, cfg, (r) => replies.push(r));
  return { outcome, replies };
}

/** Runs and expects exactly one reply. */
export function one(frame: Uint8Array, cfg: LinkConfig = config()): Uint8Array {
  const { outcome, replies } = run(frame, cfg);
  expect(outcome.kind, JSON.stringify(outcome)).toBe('replied');
  expect(replies).toHaveLength(1);
  return replies[0] as Uint8Array;
}

// ---- request builders ----

export function dhcpRequestFrame(
  over: Partial<Dhcpv4Repr>,
  src = ip('0.0.0.0'),
  dst = ip('255.255.255.255')
): Uint8Array {
  const repr: Dhcpv4Repr = { ...dhcpv4Defaults(), xid: 0x1234abcd, chaddr: GUEST_MAC, ...over };
  const len = ok(dhcpv4BufferLength(repr));
  return ok(ipv4UdpFrame(fromGuest(mac('ff:ff:ff:ff:ff:ff')), src, dst, 68, 67, len, (into) => emitDhcpv4(repr, into)));
}

export function dhcpv6RequestFrame(repr: Dhcpv6Repr, dst = ip('ff02::1:2'), src = GUEST_LL): Uint8Array {
  const len = ok(dhcpv6BufferLength(repr));
  return ok(
    ipv6UdpFrame(fromGuest(mac('33:33:00:01:00:02')), src, dst, 546, 547, len, (into) => emitDhcpv6(repr, into))
  );
}

export function icmpv6Frame(
  msg: Icmpv6Repr,
  src: Uint8Array,
  dst: Uint8Array,
  hopLimit = 255,
  dstMac = mac('33:33:00:00:00:02')
): Uint8Array {
  const len = ok(icmpv6BufferLength(msg));
  return ok(
    ipv6Frame(fromGuest(dstMac), src, dst, IpProtocol.Icmpv6, hopLimit, len, (into) => emitIcmpv6(msg, into, src, dst))
  );
}

// ---- reply decoders: every checksum verified ----

export function decodeEth(frame: Uint8Array): EthernetRepr {
  expect(frame.length).toBeGreaterThanOrEqual(60);
  return ok(parseEthernet(ok(EthernetFrame.checked(frame))));
}

export function decodeUdp4(frame: Uint8Array): { eth: EthernetRepr; ip: Ipv4Repr; udp: UdpRepr } {
  const eth = decodeEth(frame);
  expect(eth.ethertype).toBe(0x0800);
  const ip4 = ok(parseIpv4Bytes(eth.payload, true));
  expect(ip4.protocol).toBe(17);
  const udp = ok(parseUdpBytes(ip4.payload, ip4.src, ip4.dst, true));
  return { eth, ip: ip4, udp };
}

export function decodeDhcp(frame: Uint8Array): { eth: EthernetRepr; ip: Ipv4Repr; udp: UdpRepr; dhcp: Dhcpv4Repr } {
  const d = decodeUdp4(frame);
  return { ...d, dhcp: ok(parseDhcpv4Bytes(d.udp.payload)) };
}

export function decodeIpv6(frame: Uint8Array): { eth: EthernetRepr; ip: Ipv6Repr } {
  const eth = decodeEth(frame);
  expect(eth.ethertype).toBe(0x86dd);
  return { eth, ip: ok(parseIpv6Bytes(eth.payload)) };
}

export function decodeIcmpv6(frame: Uint8Array): { eth: EthernetRepr; ip: Ipv6Repr; msg: Icmpv6Repr } {
  const d = decodeIpv6(frame);
  expect(d.ip.nextHeader).toBe(58);
  return { ...d, msg: ok(parseIcmpv6Bytes(d.ip.payload, d.ip.src, d.ip.dst, true)) };
}

export function decodeDhcpv6(frame: Uint8Array): { eth: EthernetRepr; ip: Ipv6Repr; udp: UdpRepr; dhcp: Dhcpv6Repr } {
  const d = decodeIpv6(frame);
  expect(d.ip.nextHeader).toBe(17);
  const udp = ok(parseUdpBytes(d.ip.payload, d.ip.src, d.ip.dst, true));
  return { ...d, udp, dhcp: ok(parseDhcpv6Bytes(udp.payload)) };
}

/**
 * Frames built by scapy (Debian's python3-scapy), one python run for all of them
 * since scapy takes a second to import. Keys name the frames; values are scapy expressions.
 */
export function scapyFrames<K extends string>(exprs: Record<K, string>): Record<K, Uint8Array> {
  const lines = Object.entries<string>(exprs).map(([k, e]) => `print(${JSON.stringify(k)}, bytes(${e}).hex())`);
  const out = execFileSync('/usr/bin/python3', ['-c', ['from scapy.all import *', ...lines].join('\n')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const result: Record<string, Uint8Array> = {};
  for (const line of out.trim().split('\n')) {
    const [k, h] = line.split(' ');
    if (k !== undefined && h !== undefined) result[k] = hex(h);
  }
  return result as Record<K, Uint8Array>;
}
