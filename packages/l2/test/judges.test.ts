// Real decoders as judges: frames built by our emitters go through our pcap writer into tshark,
// and frames built by scapy go through our parsers. Both directions compare field values.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  EthernetFrame,
  formatIpAddr,
  formatMac,
  ipProtocolOf,
  isIpv4Fragment,
  parseArpBytes,
  parseDhcpv4Bytes,
  parseDhcpv6Bytes,
  parseEthernet,
  parseIcmpv4Bytes,
  parseIcmpv6Bytes,
  parseIp,
  parseUdpBytes,
  type EthernetRepr,
  type Icmpv6Repr,
  type IpRepr,
  type Ipv4Repr,
  type Ipv6Repr,
  type UdpRepr,
  dhcpv4BufferLength,
  dhcpv4Defaults,
  dhcpv4Reply,
  dhcpv6BufferLength,
  dhcpv6Reply,
  emitDhcpv4,
  emitDhcpv6,
  emptyNdpOptions,
  pcapFile,
  type Dhcpv6Repr,
} from '../src/index.js';
import { GUEST_MAC, HOST_MAC, arpFrame, icmp4Frame, icmp6Frame, udpFrame } from './build.js';
import { hex, ip, ok } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'l2-judges-'));

type Fields = Map<string, string[]>;

/** Flattens tshark's nested JSON (with --no-duplicate-keys arrays) into field -> all values. */
function flatten(node: unknown, out: Fields): Fields {
  if (node === null || typeof node !== 'object') return out;
  for (const [k, v] of Object.entries(node as Record<string, unknown>)) {
    const vals = Array.isArray(v) ? v : [v];
    for (const x of vals) {
      if (typeof x === 'string') out.set(k, [...(out.get(k) ?? []), x]);
      else flatten(x, out);
    }
  }
  return out;
}

function tshark(frames: Uint8Array[]): Fields[] {
  const file = join(dir, `ours-${frames.length}.pcap`);
  writeFileSync(file, pcapFile(frames.map((frame, i) => ({ frame, timeMicros: 1_700_000_000_000_000 + i * 1000 }))));
  const json = execFileSync(
    'tshark',
    ['-r', file, '-n', '-T', 'json', '--no-duplicate-keys', '-o', 'ip.check_checksum:TRUE', '-o', 'udp.check_checksum:TRUE'],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 64 << 20 },
  );
  const arr = JSON.parse(json) as { _source: { layers: unknown } }[];
  return arr.map((p) => flatten(p._source.layers, new Map()));
}

function expectFields(f: Fields, want: Record<string, string | string[]>, label: string): void {
  for (const [k, v] of Object.entries(want)) {
    const got = f.get(k);
    if (Array.isArray(v)) expect(got, `${label} ${k}`).toEqual(v);
    else expect(got?.[0], `${label} ${k}`).toBe(v);
  }
  expect(f.has('_ws.malformed'), `${label} malformed`).toBe(false);
}

describe('tshark decodes what we emit (via our pcap writer)', () => {
  it('Ethernet/IPv4/IPv6/UDP/VLAN, ARP, ICMP, NDP, DHCPv4, DHCPv6', () => {
    const discover = { ...dhcpv4Defaults(), messageType: 1, xid: 0x1234, chaddr: GUEST_MAC, broadcast: true };
    const lease = {
      yiaddr: ip('10.0.2.15'), serverId: ip('10.0.2.2'), subnetMask: ip('255.255.255.0'), routers: [ip('10.0.2.2')],
      dnsServers: [ip('10.0.2.3'), ip('1.1.1.1')], domainSearch: ['example.com', 'corp.example.com'], leaseTime: 3600, mtu: 65520,
      classlessRoutes: [{ destination: ip('192.168.0.0'), prefixLength: 17, router: ip('10.0.2.2') }],
    };
    const dhcp4 = (type: 2 | 5 | 6): Uint8Array => {
      const r = dhcpv4Reply({ ...discover, messageType: type === 2 ? 1 : 3 }, type, lease);
      const b = new Uint8Array(ok(dhcpv4BufferLength(r)));
      ok(emitDhcpv4(r, b));
      return b;
    };
    const sol: Dhcpv6Repr = {
      messageType: 1, transactionId: 0xabcdef, clientId: hex('00030001525400123456'), serverId: null,
      iaNa: [{ iaid: 7, t1: 0, t2: 0, addresses: [], status: null }], oro: [23, 24], elapsedTime: 0, rapidCommit: false,
      status: null, dnsServers: [], domainList: [],
    };
    const dhcp6 = (type: 2 | 7): Uint8Array => {
      const r = dhcpv6Reply(sol, type, {
        serverId: hex('0003000152550a000202'), addresses: [ip('2001:db8::15')], preferredLifetime: 1800, validLifetime: 3600,
        t1: 900, t2: 1440, dnsServers: [ip('2001:db8::3')], domainList: ['example.com'], status: { code: 0, message: 'all good' },
      });
      const b = new Uint8Array(ok(dhcpv6BufferLength(r)));
      ok(emitDhcpv6(r, b));
      return b;
    };
    const ra = icmp6Frame(ip('fe80::1'), ip('ff02::1'), {
      type: 'routerAdvert', curHopLimit: 64, managed: false, other: true, routerLifetime: 1800, reachableTime: 0, retransTime: 0,
      options: {
        ...emptyNdpOptions(), sourceLinkAddr: HOST_MAC, mtu: 65520,
        prefixes: [{ prefixLength: 64, onLink: true, autonomous: true, validLifetime: 3600, preferredLifetime: 1800, prefix: ip('2001:db8::') }],
        rdnss: [{ lifetime: 600, servers: [ip('2001:db8::3'), ip('2001:db8::4')] }],
        dnssl: [{ lifetime: 600, domains: ['example.com', 'corp.example.com'] }],
      },
    });
    const cases: [string, Uint8Array, Record<string, string | string[]>][] = [
      ['udp4', udpFrame(ip('10.0.2.2'), ip('10.0.2.15'), 40000, 40001, hex('68656c6c6f')), {
        'eth.src': '52:55:0a:00:02:02', 'eth.dst': '52:54:00:12:34:56', 'eth.type': '0x0800',
        'ip.src': '10.0.2.2', 'ip.dst': '10.0.2.15', 'ip.ttl': '64', 'ip.id': '0x4242', 'ip.flags.df': '1', 'ip.len': '33',
        'ip.checksum.status': '1', 'udp.srcport': '40000', 'udp.dstport': '40001', 'udp.length': '13', 'udp.checksum.status': '1',
        'udp.payload': '68:65:6c:6c:6f' }],
      ['udp6', udpFrame(ip('fe80::1'), ip('2001:db8::15'), 1234, 40001, new Uint8Array(333).fill(0xa5)), {
        'eth.type': '0x86dd', 'ipv6.src': 'fe80::1', 'ipv6.dst': '2001:db8::15', 'ipv6.plen': '341', 'ipv6.nxt': '17', 'ipv6.hlim': '64',
        'udp.length': '341', 'udp.checksum.status': '1' }],
      ['vlan', udpFrame(ip('fe80::1'), ip('fe80::2'), 40000, 40001, hex('01'), { vlanId: 42 }), {
        'vlan.id': '42', 'vlan.priority': '3', 'vlan.etype': '0x86dd', 'udp.checksum.status': '1' }],
      ['arp', arpFrame({ operation: 2, senderMac: HOST_MAC, senderIp: ip('10.0.2.2'), targetMac: GUEST_MAC, targetIp: ip('10.0.2.15') }, GUEST_MAC), {
        'arp.opcode': '2', 'arp.src.hw_mac': '52:55:0a:00:02:02', 'arp.src.proto_ipv4': '10.0.2.2',
        'arp.dst.hw_mac': '52:54:00:12:34:56', 'arp.dst.proto_ipv4': '10.0.2.15' }],
      ['icmp4', icmp4Frame(ip('10.0.2.2'), ip('10.0.2.15'), { type: 'echoReply', ident: 0x1234, seq: 9, data: hex('0102') }), {
        'icmp.type': '0', 'icmp.ident': '4660', 'icmp.seq': '9', 'icmp.checksum.status': '1', 'data.data': '01:02' }],
      ['icmp6', icmp6Frame(ip('fe80::1'), ip('fe80::2'), { type: 'echoRequest', ident: 0x1234, seq: 9, data: hex('0102') }, 64), {
        'icmpv6.type': '128', 'icmpv6.echo.identifier': '0x1234', 'icmpv6.echo.sequence_number': '9', 'icmpv6.checksum.status': '1' }],
      ['ra', ra, {
        'icmpv6.type': '134', 'icmpv6.checksum.status': '1', 'icmpv6.nd.ra.cur_hop_limit': '64', 'icmpv6.nd.ra.flag.o': '1',
        'icmpv6.nd.ra.flag.m': '0', 'icmpv6.nd.ra.router_lifetime': '1800', 'icmpv6.opt.src_linkaddr': '52:55:0a:00:02:02',
        'icmpv6.opt.mtu': '65520', 'icmpv6.opt.prefix': '2001:db8::', 'icmpv6.opt.prefix.length': '64',
        'icmpv6.opt.prefix.flag.l': '1', 'icmpv6.opt.prefix.flag.a': '1', 'icmpv6.opt.prefix.valid_lifetime': '3600',
        'icmpv6.opt.prefix.preferred_lifetime': '1800', 'icmpv6.opt.rdnss.lifetime': '600',
        'icmpv6.opt.rdnss': ['2001:db8::3', '2001:db8::4'], 'icmpv6.opt.dnssl': ['example.com', 'corp.example.com'] }],
      ['na', icmp6Frame(ip('fe80::1'), ip('fe80::2'), { type: 'neighborAdvert', router: true, solicited: true, override: false, target: ip('fe80::1'), options: { ...emptyNdpOptions(), targetLinkAddr: HOST_MAC } }), {
        'icmpv6.type': '136', 'icmpv6.checksum.status': '1', 'icmpv6.nd.na.flag.r': '1', 'icmpv6.nd.na.flag.s': '1',
        'icmpv6.nd.na.flag.o': '0', 'icmpv6.nd.na.target_address': 'fe80::1', 'icmpv6.opt.target_linkaddr': '52:55:0a:00:02:02' }],
      ['ns', icmp6Frame(ip('fe80::2'), ip('ff02::1:ff00:1'), { type: 'neighborSolicit', target: ip('fe80::1'), options: { ...emptyNdpOptions(), sourceLinkAddr: GUEST_MAC } }), {
        'icmpv6.type': '135', 'icmpv6.checksum.status': '1', 'icmpv6.nd.ns.target_address': 'fe80::1', 'icmpv6.opt.src_linkaddr': '52:54:00:12:34:56' }],
      ...([2, 5] as const).map((t): [string, Uint8Array, Record<string, string | string[]>] => [`dhcp4-${t}`, udpFrame(ip('10.0.2.2'), ip('255.255.255.255'), 67, 68, dhcp4(t)), {
        'udp.checksum.status': '1', 'dhcp.type': '2', 'dhcp.id': '0x00001234', 'dhcp.flags.bc': '1', 'dhcp.ip.your': '10.0.2.15',
        'dhcp.hw.mac_addr': '52:54:00:12:34:56', 'dhcp.cookie': '99.130.83.99', 'dhcp.option.dhcp': String(t),
        'dhcp.option.dhcp_server_id': '10.0.2.2', 'dhcp.option.ip_address_lease_time': '3600', 'dhcp.option.subnet_mask': '255.255.255.0',
        'dhcp.option.router': '10.0.2.2', 'dhcp.option.domain_name_server': ['10.0.2.3', '1.1.1.1'], 'dhcp.option.interface_mtu': '65520',
        'dhcp.option.dhcp_dns_domain_search_list_fqdn': ['example.com', 'corp.example.com'],
        'dhcp.option.classless_static_route': '11:c0:a8:00:0a:00:02:02', 'dhcp.option.end': '255' }]),
      ['dhcp4-nak', udpFrame(ip('10.0.2.2'), ip('255.255.255.255'), 67, 68, dhcp4(6)), {
        'dhcp.option.dhcp': '6', 'dhcp.ip.your': '0.0.0.0', 'dhcp.option.dhcp_server_id': '10.0.2.2' }],
      ...([2, 7] as const).map((t): [string, Uint8Array, Record<string, string | string[]>] => [`dhcp6-${t}`, udpFrame(ip('fe80::1'), ip('fe80::2'), 547, 546, dhcp6(t)), {
        'udp.checksum.status': '1', 'dhcpv6.msgtype': String(t), 'dhcpv6.xid': '0xabcdef',
        'dhcpv6.duid.bytes': ['00:03:00:01:52:54:00:12:34:56', '00:03:00:01:52:55:0a:00:02:02'],
        'dhcpv6.iaid': '00000007', 'dhcpv6.iaid.t1': '900', 'dhcpv6.iaid.t2': '1440', 'dhcpv6.iaaddr.ip': '2001:db8::15',
        'dhcpv6.iaaddr.pref_lifetime': '1800', 'dhcpv6.iaaddr.valid_lifetime': '3600', 'dhcpv6.status_code': '0',
        'dhcpv6.status_msg': 'all good', 'dhcpv6.dns_server': '2001:db8::3', 'dhcpv6.search_list_entry': 'example.com.' }]),
    ];
    const decoded = tshark(cases.map((c) => c[1]));
    expect(decoded).toHaveLength(cases.length);
    cases.forEach(([label, frame, want], i) => {
      const f = decoded[i]!;
      expect(f.get('frame.len')?.[0], label).toBe(String(frame.length));
      expectFields(f, want, label);
    });
  });
});

describe('our parsers decode what scapy builds', () => {
  const frames = JSON.parse(
    execFileSync('/usr/bin/python3', [join(__dirname, 'scapy_frames.py')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }),
  ) as Record<string, string>;
  const f = (name: string): Uint8Array => hex(frames[name] ?? '');
  const l3 = (name: string): { eth: EthernetRepr; ip: IpRepr } => {
    const eth = ok(parseEthernet(ok(EthernetFrame.checked(f(name)))));
    return { eth, ip: ok(parseIp(eth.payload)) };
  };
  const udp = (name: string): { eth: EthernetRepr; ip: IpRepr; udp: UdpRepr } => {
    const r = l3(name);
    return { ...r, udp: ok(parseUdpBytes(r.ip.payload, r.ip.src, r.ip.dst)) };
  };
  const icmp6 = (name: string): Icmpv6Repr => {
    const { ip: p } = l3(name);
    expect(ipProtocolOf(p)).toBe(58);
    return ok(parseIcmpv6Bytes(p.payload, p.src, p.dst));
  };

  it('Ethernet/IPv4/UDP, options, fragments, VLAN', () => {
    const a = udp('udp4');
    expect(formatMac(a.eth.src)).toBe('52:54:00:12:34:56');
    expect(a.eth.payload.length).toBe(46); // padded frame, IP length wins
    const v4 = a.ip as Ipv4Repr;
    expect([formatIpAddr(v4.src), formatIpAddr(v4.dst), v4.ttl, v4.ident, v4.dscp, v4.ecn]).toEqual(['10.0.2.15', '10.0.2.3', 17, 99, 0x2e, 0]);
    expect([a.udp.srcPort, a.udp.dstPort, Buffer.from(a.udp.payload).toString()]).toEqual([5353, 40001, 'hi']);
    const o = udp('udp4opts');
    expect((o.ip as Ipv4Repr).options.length).toBe(8);
    expect(Buffer.from(o.udp.payload).toString()).toBe('opt');
    const fr = l3('frag4').ip as Ipv4Repr;
    expect([fr.moreFragments, fr.fragmentOffset, isIpv4Fragment(fr), fr.payload.length]).toEqual([true, 185 * 8, true, 24]);
    const v = udp('vlan');
    expect([v.eth.vlanId, v.eth.vlanPriority, v.eth.ethertype]).toEqual([100, 5, 0x0800]);
  });

  it('IPv6/UDP and extension header chains', () => {
    const a = udp('udp6');
    const v6 = a.ip as Ipv6Repr;
    expect([formatIpAddr(v6.src), v6.hopLimit, v6.trafficClass, v6.flowLabel, v6.upperOffset]).toEqual(['2001:db8::15', 9, 0x2e, 0xabcde, 40]);
    expect(Buffer.from(a.udp.payload).toString()).toBe('six');
    const e = udp('udp6ext');
    expect((e.ip as Ipv6Repr).upperOffset).toBe(40 + 8 + 8 + 24);
    expect(Buffer.from(e.udp.payload).toString()).toBe('ext');
    const fr = l3('frag6').ip as Ipv6Repr;
    expect([fr.isFragment, fr.moreFragments, fr.fragmentOffset, fr.fragmentIdent, fr.nextHeader, fr.upperOffset]).toEqual([true, true, 0, 0x1234567, 17, 48]);
    // Broken chains: the hop-by-hop length byte pointing past the packet.
    const broken = f('udp6ext').slice();
    broken[14 + 40 + 1] = 200;
    expect(parseIp(ok(parseEthernet(ok(EthernetFrame.checked(broken)))).payload)).toMatchObject({ kind: 'Truncated' });
  });

  it('ARP and ICMP echo', () => {
    const e = ok(parseEthernet(ok(EthernetFrame.checked(f('arp')))));
    const a = ok(parseArpBytes(e.payload));
    expect([a.operation, formatMac(a.senderMac), formatIpAddr(a.senderIp), formatIpAddr(a.targetIp)]).toEqual([1, '52:54:00:12:34:56', '10.0.2.15', '10.0.2.2']);
    const { ip: p4 } = l3('icmp4');
    expect(ok(parseIcmpv4Bytes(p4.payload))).toMatchObject({ type: 'echoRequest', ident: 0x4321, seq: 77 });
    const e6 = icmp6('icmp6');
    expect(e6).toMatchObject({ type: 'echoRequest', ident: 0x4321, seq: 77 });
  });

  it('NDP RS, RA, NS, NA', () => {
    const rs = icmp6('rs');
    expect(rs.type).toBe('routerSolicit');
    const ra = icmp6('ra');
    if (ra.type !== 'routerAdvert') throw new Error(ra.type);
    expect([ra.curHopLimit, ra.managed, ra.other, ra.routerLifetime, ra.reachableTime, ra.retransTime]).toEqual([64, true, false, 9000, 30000, 1000]);
    expect(ra.options.mtu).toBe(1500);
    expect(formatMac(ra.options.sourceLinkAddr!)).toBe('52:55:0a:00:02:02');
    const pi = ra.options.prefixes[0]!;
    expect([formatIpAddr(pi.prefix), pi.prefixLength, pi.onLink, pi.autonomous, pi.validLifetime, pi.preferredLifetime]).toEqual(['2001:db8:1::', 64, true, false, 86400, 14400]);
    expect(ra.options.rdnss[0]!.servers.map(formatIpAddr)).toEqual(['2001:db8::53', '2001:db8::54']);
    expect(ra.options.dnssl[0]!.domains).toEqual(['a.example', 'b.example.org']);
    const ns = icmp6('ns');
    if (ns.type !== 'neighborSolicit') throw new Error(ns.type);
    expect([formatIpAddr(ns.target), formatMac(ns.options.sourceLinkAddr!)]).toEqual(['fe80::1', '52:54:00:12:34:56']);
    const na = icmp6('na');
    if (na.type !== 'neighborAdvert') throw new Error(na.type);
    expect([na.router, na.solicited, na.override, formatIpAddr(na.target), formatMac(na.options.targetLinkAddr!)]).toEqual([true, true, true, 'fe80::1', '52:55:0a:00:02:02']);
  });

  it('DHCPv4 DISCOVER, REQUEST, RELEASE, INFORM, OFFER', () => {
    const d = ok(parseDhcpv4Bytes(udp('discover').udp.payload));
    expect([d.messageType, d.xid, formatMac(d.chaddr), d.maxMessageSize, d.hostName]).toEqual([1, 0x11223344, '52:54:00:12:34:56', 1500, 'guest']);
    expect(Array.from(d.parameterRequestList!)).toEqual([1, 3, 6, 26, 119, 121]);
    expect(Array.from(d.clientId!)).toEqual([1, 0x52, 0x54, 0, 0x12, 0x34, 0x56]);
    const r = ok(parseDhcpv4Bytes(udp('request').udp.payload));
    expect([r.messageType, formatIpAddr(r.requestedIp!), formatIpAddr(r.serverId!)]).toEqual([3, '10.0.2.15', '10.0.2.2']);
    const rel = ok(parseDhcpv4Bytes(udp('release').udp.payload));
    expect([rel.messageType, formatIpAddr(rel.ciaddr)]).toEqual([7, '10.0.2.15']);
    expect(ok(parseDhcpv4Bytes(udp('inform').udp.payload)).messageType).toBe(8);
    const o = ok(parseDhcpv4Bytes(udp('offer').udp.payload));
    expect([o.messageType, formatIpAddr(o.yiaddr), o.leaseTime, formatIpAddr(o.subnetMask!), o.routers.map(formatIpAddr), o.dnsServers.map(formatIpAddr), o.mtu]).toEqual([
      2, '10.0.2.15', 7200, '255.255.255.0', ['10.0.2.2'], ['10.0.2.3', '10.0.2.4'], 1500,
    ]);
  });

  it('DHCPv6 SOLICIT, REQUEST, RENEW, REBIND, CONFIRM, INFORMATION-REQUEST, REPLY', () => {
    const p = (n: string): Dhcpv6Repr => ok(parseDhcpv6Bytes(udp(n).udp.payload));
    const s = p('solicit');
    expect([s.messageType, s.transactionId, s.elapsedTime, s.rapidCommit, s.oro, s.iaNa.map((i) => i.iaid)]).toEqual([1, 0x123456, 100, true, [23, 24], [0xcafe]]);
    expect(Buffer.from(s.clientId!).toString('hex')).toBe('00030001525400123456');
    const r = p('request6');
    expect(r.messageType).toBe(3);
    expect(Buffer.from(r.serverId!).toString('hex')).toBe('0003000152550a000202');
    const ia = r.iaNa[0]!;
    expect([ia.t1, ia.t2, formatIpAddr(ia.addresses[0]!.addr), ia.addresses[0]!.preferredLifetime, ia.addresses[0]!.validLifetime]).toEqual([100, 200, '2001:db8::15', 300, 600]);
    expect(p('renew').messageType).toBe(5);
    expect(p('rebind').messageType).toBe(6);
    expect(p('confirm').iaNa[0]!.addresses.map((a) => formatIpAddr(a.addr))).toEqual(['2001:db8::15']);
    expect(p('inforeq')).toMatchObject({ messageType: 11, oro: [23], clientId: null });
    const rep = p('reply6');
    expect([rep.messageType, rep.dnsServers.map(formatIpAddr), rep.domainList, rep.status]).toEqual([7, ['2001:db8::53'], ['example.com'], { code: 0, message: 'fine' }]);
  });
});
