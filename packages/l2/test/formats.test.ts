// Literal frames below were produced by scapy 2.5 (python3 -c 'from scapy.all import *; print(bytes(...).hex())'),
// the exact expressions are given next to each one.
import { describe, expect, it } from 'vitest';
import {
  ArpOperation,
  EthernetFrame,
  dhcpv4Defaults,
  dhcpv4Reply,
  dhcpv6Reply,
  emitArp,
  emitDhcpv4,
  emitDhcpv6,
  emitEthernet,
  emitIcmpv4,
  emitIcmpv6,
  formatIpv4Addr,
  formatIpv6Addr,
  formatMac,
  icmpv6BufferLength,
  isWireError,
  parseArpBytes,
  parseDhcpv4Bytes,
  parseDhcpv6Bytes,
  parseEthernet,
  parseIcmpv4Bytes,
  parseIcmpv6Bytes,
  parseIpv4Bytes,
  parseIpv6Bytes,
  pcapHeader,
  pcapRecord,
  dhcpv4BufferLength,
  dhcpv6BufferLength,
  decodeDnsNames,
  encodeDnsNames,
  emptyNdpOptions,
  type Icmpv6Repr,
} from '../src/index.js';
import { hex, ip, mac, ok, plain, toHex } from './helpers.js';

// Ether(src=M1,dst='ff:ff:ff:ff:ff:ff')/ARP(op=1,hwsrc=M1,psrc='10.0.2.15',pdst='10.0.2.2')
const ARP_REQ = hex('ffffffffffff525400123456080600010800060400015254001234560a00020f0000000000000a000202');
// IP(src='10.0.2.15',dst='10.0.2.2',id=7)/ICMP(type=8,id=0x1234,seq=1)/b'abcdefgh'
const ICMP4_ECHO = hex('4500002400070000400162c20a00020f0a00020208005435123400016162636465666768');
// IPv6(src='fe80::1',dst='fe80::2',hlim=64)/ICMPv6EchoRequest(id=0x55,seq=3,data=b'ping')
const ICMP6_ECHO = hex(
  '60000000000c3a40fe800000000000000000000000000001fe8000000000000000000000000000028000a38b0055000370696e67',
);
// IPv6(src='fe80::1',dst='ff02::1',hlim=255)/ICMPv6ND_RA(chlim=64,O=1,routerlifetime=1800)/SrcLLAddr(M2)/MTU(65520)
//   /PrefixInfo(64,L,A,3600,1800,'2001:db8::')/RDNSS(600,['2001:db8::3'])/DNSSL(600,['example.com'])
const RA = hex(
  '6000000000703afffe800000000000000000000000000001ff020000000000000000000000000001860012c0404807080000000000000000010152550a000202050100000000fff0030440c000000e10000007080000000020010db8000000000000000000000000190300000000025820010db80000000000000000000000031f03000000000258076578616d706c6503636f6d00000000',
);
// IPv6(src='fe80::1',dst='ff02::1:ff00:2',hlim=255)/ICMPv6ND_NS(tgt='fe80::2')/ICMPv6NDOptSrcLLAddr(lladdr=M1)
const NS = hex(
  '6000000000203afffe800000000000000000000000000001ff0200000000000000000001ff0000028700f5db00000000fe8000000000000000000000000000020101525400123456',
);
// BOOTP(chaddr=M1,xid=0xdeadbeef,flags=0x8000)/DHCP(options=[discover, client_id 01+M1, param_req_list [1,3,6,15,26,119,121], end])
const DISCOVER = hex(
  '01010600deadbeef00008000' + '00'.repeat(16) + '525400123456' + '00'.repeat(10 + 192) +
    '638253633501013d070152540012345637070103060f1a7779ff',
);
// DHCP6_Solicit(trid=0xabcdef)/ClientId(DUID_LL(M1))/IA_NA(iaid=0x12345678)/OptReq([23,24])/ElapsedTime(0)/RapidCommit()
const SOLICIT = hex(
  '01abcdef0001000a000300015254001234560003000c1234567800000000000000000006000400170018000800020000000e0000',
);

describe('ARP', () => {
  it('takes a scapy request apart and rebuilds it', () => {
    const e = ok(parseEthernet(ok(EthernetFrame.checked(ARP_REQ))));
    expect(e.ethertype).toBe(0x0806);
    const a = ok(parseArpBytes(e.payload));
    expect(a.operation).toBe(ArpOperation.Request);
    expect(formatMac(a.senderMac)).toBe('52:54:00:12:34:56');
    expect(formatIpv4Addr(a.senderIp)).toBe('10.0.2.15');
    expect(formatIpv4Addr(a.targetIp)).toBe('10.0.2.2');
    const out = new Uint8Array(ARP_REQ.length);
    const pl = out.subarray(14);
    ok(emitArp(a, pl));
    emitEthernet({ ...e, payload: pl }, out);
    expect(toHex(out)).toBe(toHex(ARP_REQ));
  });
  it('rejects other hardware and protocol types', () => {
    const b = ARP_REQ.slice(14);
    b[1] = 6;
    expect(parseArpBytes(b)).toMatchObject({ kind: 'Unsupported' });
    expect(parseArpBytes(b.subarray(0, 20))).toMatchObject({ kind: 'Truncated' });
  });
});

describe('ICMPv4 echo', () => {
  it('parses and rebuilds', () => {
    const p = ok(parseIpv4Bytes(ICMP4_ECHO));
    expect(p.protocol).toBe(1);
    const r = ok(parseIcmpv4Bytes(p.payload));
    expect(r).toMatchObject({ type: 'echoRequest', ident: 0x1234, seq: 1 });
    expect(Buffer.from(r.data).toString()).toBe('abcdefgh');
    const out = new Uint8Array(p.payload.length);
    ok(emitIcmpv4(r, out));
    expect(toHex(out)).toBe(toHex(p.payload));
    const bad = p.payload.slice();
    bad[9] = bad[9]! ^ 1;
    expect(parseIcmpv4Bytes(bad)).toMatchObject({ kind: 'BadChecksum' });
  });
});

describe('ICMPv6 and NDP', () => {
  it('echo', () => {
    const p = ok(parseIpv6Bytes(ICMP6_ECHO));
    const r = ok(parseIcmpv6Bytes(p.payload, p.src, p.dst));
    expect(r).toMatchObject({ type: 'echoRequest', ident: 0x55, seq: 3 });
    const out = new Uint8Array(p.payload.length);
    ok(emitIcmpv6(r, out, p.src, p.dst));
    expect(toHex(out)).toBe(toHex(p.payload));
  });
  it('router advertisement with every option', () => {
    const p = ok(parseIpv6Bytes(RA));
    expect(p.hopLimit).toBe(255);
    const r = ok(parseIcmpv6Bytes(p.payload, p.src, p.dst));
    if (r.type !== 'routerAdvert') throw new Error(r.type);
    expect(r.curHopLimit).toBe(64);
    expect(r.managed).toBe(false);
    expect(r.other).toBe(true);
    expect(r.routerLifetime).toBe(1800);
    expect(formatMac(r.options.sourceLinkAddr ?? new Uint8Array(6))).toBe('52:55:0a:00:02:02');
    expect(r.options.mtu).toBe(65520);
    expect(r.options.prefixes).toHaveLength(1);
    const pi = r.options.prefixes[0]!;
    expect([pi.prefixLength, pi.onLink, pi.autonomous, pi.validLifetime, pi.preferredLifetime]).toEqual([64, true, true, 3600, 1800]);
    expect(formatIpv6Addr(pi.prefix)).toBe('2001:db8::');
    expect(r.options.rdnss[0]!.lifetime).toBe(600);
    expect(r.options.rdnss[0]!.servers.map(formatIpv6Addr)).toEqual(['2001:db8::3']);
    expect(r.options.dnssl[0]!.domains).toEqual(['example.com']);
    // Same option order as scapy, so the bytes match exactly except option ordering: compare via re-parse.
    const out = new Uint8Array(ok(icmpv6BufferLength(r)));
    ok(emitIcmpv6(r, out, p.src, p.dst));
    expect(out.length).toBe(p.payload.length);
    expect(plain(ok(parseIcmpv6Bytes(out, p.src, p.dst)))).toEqual(plain(r));
  });
  it('neighbour solicitation, exact rebuild', () => {
    const p = ok(parseIpv6Bytes(NS));
    const r = ok(parseIcmpv6Bytes(p.payload, p.src, p.dst));
    if (r.type !== 'neighborSolicit') throw new Error(r.type);
    expect(formatIpv6Addr(r.target)).toBe('fe80::2');
    expect(formatMac(r.options.sourceLinkAddr ?? new Uint8Array(6))).toBe('52:54:00:12:34:56');
    const out = new Uint8Array(p.payload.length);
    ok(emitIcmpv6(r, out, p.src, p.dst));
    expect(toHex(out)).toBe(toHex(p.payload));
  });
  it('rejects zero-length options and multicast targets', () => {
    const p = ok(parseIpv6Bytes(NS));
    const z = p.payload.slice();
    z[25] = 0;
    expect(parseIcmpv6Bytes(z, p.src, p.dst, false)).toMatchObject({ kind: 'Malformed' });
    const na: Icmpv6Repr = { type: 'neighborAdvert', router: false, solicited: true, override: true, target: ip('ff02::1'), options: emptyNdpOptions() };
    const out = new Uint8Array(24);
    ok(emitIcmpv6(na, out, p.src, p.dst));
    expect(parseIcmpv6Bytes(out, p.src, p.dst)).toMatchObject({ kind: 'Malformed' });
  });
});

describe('DHCPv4', () => {
  it('parses a scapy DISCOVER', () => {
    const d = ok(parseDhcpv4Bytes(DISCOVER));
    expect(d.messageType).toBe(1);
    expect(d.xid).toBe(0xdeadbeef);
    expect(d.broadcast).toBe(true);
    expect(formatMac(d.chaddr)).toBe('52:54:00:12:34:56');
    expect(Array.from(d.parameterRequestList ?? [])).toEqual([1, 3, 6, 15, 26, 119, 121]);
    expect(toHex(d.clientId ?? new Uint8Array())).toBe('01525400123456');
  });
  it('builds an OFFER and rejects a bad cookie', () => {
    const d = ok(parseDhcpv4Bytes(DISCOVER));
    const offer = dhcpv4Reply(d, 2, {
      yiaddr: ip('10.0.2.15'), serverId: ip('10.0.2.2'), subnetMask: ip('255.255.255.0'), routers: [ip('10.0.2.2')],
      dnsServers: [ip('10.0.2.3')], domainSearch: ['example.com', 'corp.example.com'], leaseTime: 3600, mtu: 65520,
      classlessRoutes: [{ destination: ip('0.0.0.0'), prefixLength: 0, router: ip('10.0.2.2') }, { destination: ip('192.168.0.0'), prefixLength: 17, router: ip('10.0.2.2') }],
    });
    const out = new Uint8Array(ok(dhcpv4BufferLength(offer)));
    expect(out.length).toBeGreaterThanOrEqual(300);
    ok(emitDhcpv4(offer, out));
    expect(out[0]).toBe(2);
    expect(plain(ok(parseDhcpv4Bytes(out)))).toEqual(plain(offer));
    const bad = DISCOVER.slice();
    bad[236] = 0;
    expect(parseDhcpv4Bytes(bad)).toMatchObject({ kind: 'Malformed' });
  });
  it('splits and rejoins options over 255 bytes (RFC 3396)', () => {
    const names = Array.from({ length: 30 }, (_, i) => `host${i}.subdomain.example.org`);
    const r = { ...dhcpv4Defaults(), messageType: 5, domainSearch: names };
    const out = new Uint8Array(ok(dhcpv4BufferLength(r)));
    ok(emitDhcpv4(r, out));
    expect(ok(parseDhcpv4Bytes(out)).domainSearch).toEqual(names);
  });
  it('decodes RFC 1035 compression in option 119', () => {
    // "example.com", then "www" + pointer to offset 0
    const b = hex('076578616d706c6503636f6d00' + '03777777c000');
    expect(decodeDnsNames(b, { compression: true })).toEqual(['example.com', 'www.example.com']);
    expect(isWireError(decodeDnsNames(hex('c000'), { compression: true }))).toBe(true);
    const enc = new Uint8Array(13);
    expect(encodeDnsNames(['example.com'], enc)).toBe(13);
  });
});

describe('DHCPv6', () => {
  it('parses a scapy SOLICIT and answers it', () => {
    const s = ok(parseDhcpv6Bytes(SOLICIT));
    expect(s.messageType).toBe(1);
    expect(s.transactionId).toBe(0xabcdef);
    expect(toHex(s.clientId ?? new Uint8Array())).toBe('00030001525400123456');
    expect(s.iaNa.map((i) => i.iaid)).toEqual([0x12345678]);
    expect(s.oro).toEqual([23, 24]);
    expect(s.rapidCommit).toBe(true);
    expect(s.elapsedTime).toBe(0);
    const reply = dhcpv6Reply(s, 7, {
      serverId: hex('0003000152550a000202'), addresses: [ip('2001:db8::15')], dnsServers: [ip('2001:db8::3')], domainList: ['example.com'],
    });
    const out = new Uint8Array(ok(dhcpv6BufferLength(reply)));
    ok(emitDhcpv6(reply, out));
    expect(plain(ok(parseDhcpv6Bytes(out)))).toEqual(plain(reply));
    expect(reply.rapidCommit).toBe(true);
  });
  it('enforces Client/Server ID presence', () => {
    const noClient = hex('03abcdef');
    expect(parseDhcpv6Bytes(noClient)).toMatchObject({ kind: 'Malformed' });
    expect(parseDhcpv6Bytes(hex('0c000000'))).toMatchObject({ kind: 'Unsupported' });
  });
});

describe('pcap', () => {
  it('writes the classic header and records', () => {
    expect(toHex(pcapHeader())).toBe('d4c3b2a1020004000000000000000000ffff000001000000');
    expect(toHex(pcapRecord(hex('aabb'), 1_700_000_000_123_456))).toBe('00f1536540e20100020000000200000' + '0aabb');
  });
});
