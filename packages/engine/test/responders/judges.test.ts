// A real decoder as judge: our replies go through @x/l2's pcap writer into Debian's tshark,
// and the fields are checked as tshark reads them (checksum validation switched on).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Dhcpv4MessageType, Dhcpv6MessageType, emptyNdpOptions, pcapFile } from '@x/l2';
import { beforeAll, describe, expect, it } from 'vitest';
import { routerAdvertFrame } from '../../src/responders/index.js';
import {
  GUEST_LL,
  GUEST_MAC,
  OUR_LL,
  config,
  dhcpRequestFrame,
  dhcpv6RequestFrame,
  hex,
  icmpv6Frame,
  ip,
  one,
  v4Of,
} from './helpers.js';

type Fields = Map<string, string[]>;

/** Every leaf field of one decoded packet, values of repeated fields in order. */
function flatten(node: unknown, into: Fields = new Map()): Fields {
  if (Array.isArray(node)) {
    for (const x of node) flatten(x, into);
  } else if (node !== null && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      if (typeof v === 'string') into.set(k, [...(into.get(k) ?? []), v]);
      else if (Array.isArray(v) && v.every((x) => typeof x === 'string'))
        into.set(k, [...(into.get(k) ?? []), ...(v as string[])]);
      else flatten(v, into);
    }
  }
  return into;
}

function tshark(frames: Uint8Array[]): Fields[] {
  const dir = mkdtempSync(join(tmpdir(), 'responders-'));
  const file = join(dir, 'replies.pcap');
  writeFileSync(file, pcapFile(frames.map((frame, i) => ({ frame, timeMicros: i * 1000 }))));
  const json = execFileSync(
    'tshark',
    ['-r', file, '-T', 'json', '--no-duplicate-keys', '-o', 'ip.check_checksum:TRUE', '-o', 'udp.check_checksum:TRUE'],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 1 << 24 }
  );
  rmSync(dir, { recursive: true, force: true });
  const packets = JSON.parse(json) as { _source: { layers: unknown } }[];
  return packets.map((p) => flatten(p._source.layers));
}

const first = (f: Fields | undefined, k: string): string | undefined => f?.get(k)?.[0];
const all = (f: Fields | undefined, k: string): string[] => f?.get(k) ?? [];

describe('replies as tshark decodes them', () => {
  let decoded: Fields[];
  beforeAll(() => {
    const base = config();
    const offCfg = config({ v4: { ...v4Of(base), prefixLen: 32 } });
    const ra = routerAdvertFrame(config());
    if (ra === null || !(ra instanceof Uint8Array)) throw new Error('no RA');
    const nsOpts = emptyNdpOptions();
    nsOpts.sourceLinkAddr = GUEST_MAC;
    const clientId = hex('00030001525400123456');
    const dhcpv6 = {
      transactionId: 0x424242,
      clientId,
      serverId: null,
      iaNa: [{ iaid: 77, t1: 0, t2: 0, addresses: [], status: null }],
      oro: [23, 24],
      elapsedTime: 0,
      rapidCommit: false,
      status: null,
      dnsServers: [],
      domainList: [],
    };
    decoded = tshark([
      one(dhcpRequestFrame({ messageType: Dhcpv4MessageType.Discover })),
      one(
        dhcpRequestFrame({
          messageType: Dhcpv4MessageType.Request,
          requestedIp: ip('198.51.100.10'),
          serverId: ip('198.51.100.1'),
        }),
        offCfg
      ),
      ra,
      one(
        icmpv6Frame({ type: 'neighborSolicit', target: ip('fe80::1'), options: nsOpts }, GUEST_LL, ip('ff02::1:ff00:1'))
      ),
      one(dhcpv6RequestFrame({ messageType: Dhcpv6MessageType.Solicit, ...dhcpv6 })),
    ]);
  });

  it('decodes five frames with good checksums', () => {
    expect(decoded).toHaveLength(5);
    for (const f of decoded.slice(0, 2)) {
      expect(first(f, 'ip.checksum.status')).toBe('1');
      expect(first(f, 'udp.checksum.status')).toBe('1');
    }
    for (const f of decoded.slice(2, 4)) expect(first(f, 'icmpv6.checksum.status')).toBe('1');
    expect(first(decoded[4], 'udp.checksum.status')).toBe('1');
  });

  it('reads the DHCP OFFER options', () => {
    const f = decoded[0];
    expect(first(f, 'dhcp.option.dhcp')).toBe('2');
    expect(first(f, 'dhcp.ip.your')).toBe('198.51.100.10');
    expect(first(f, 'dhcp.hw.mac_addr')).toBe('52:54:00:12:34:56');
    expect(first(f, 'dhcp.option.dhcp_server_id')).toBe('198.51.100.1');
    expect(first(f, 'dhcp.option.subnet_mask')).toBe('255.255.255.0');
    expect(all(f, 'dhcp.option.router')).toEqual(['198.51.100.1']);
    expect(all(f, 'dhcp.option.domain_name_server')).toEqual(['198.51.100.53', '203.0.113.53']);
    expect(first(f, 'dhcp.option.ip_address_lease_time')).toBe('4294967295');
    expect(first(f, 'dhcp.option.interface_mtu')).toBe('65520');
    expect(all(f, 'dhcp.option.dhcp_dns_domain_search_list_fqdn')).toEqual(['example.com', 'lab.example.org']);
    expect(f?.has('dhcp.option.classless_static_route')).toBe(false);
    expect(first(f, 'ip.src')).toBe('198.51.100.1');
    expect(first(f, 'udp.srcport')).toBe('67');
    expect(first(f, 'udp.dstport')).toBe('68');
  });

  it('reads the DHCP ACK with classless routes for an off-subnet gateway', () => {
    const f = decoded[1];
    expect(first(f, 'dhcp.option.dhcp')).toBe('5');
    expect(first(f, 'dhcp.option.subnet_mask')).toBe('255.255.255.255');
    // Option 121 as tshark splits it: width, significant destination bytes, router.
    expect(all(f, 'dhcp.option.classless_static_route')).toEqual(['20:c6:33:64:01:00:00:00:00', '00:c6:33:64:01']);
  });

  it('reads the router advertisement: flags, prefix, MTU, RDNSS, DNSSL', () => {
    const f = decoded[2];
    expect(first(f, 'ipv6.hlim')).toBe('255');
    expect(first(f, 'ipv6.src')).toBe('fe80::9855:9aff:fe55:9a55');
    expect(first(f, 'ipv6.dst')).toBe('ff02::1');
    expect(first(f, 'icmpv6.type')).toBe('134');
    expect(first(f, 'icmpv6.nd.ra.flag.m')).toBe('1');
    expect(first(f, 'icmpv6.nd.ra.router_lifetime')).toBe('65535');
    expect(first(f, 'icmpv6.opt.src_linkaddr')).toBe('9a:55:9a:55:9a:55');
    expect(first(f, 'icmpv6.opt.mtu')).toBe('65520');
    expect(first(f, 'icmpv6.opt.prefix')).toBe('2001:db8:1::');
    expect(first(f, 'icmpv6.opt.prefix.length')).toBe('64');
    expect(first(f, 'icmpv6.opt.prefix.flag.l')).toBe('1');
    expect(first(f, 'icmpv6.opt.prefix.flag.a')).toBe('1');
    expect(first(f, 'icmpv6.opt.prefix.valid_lifetime')).toBe('4294967295');
    expect(all(f, 'icmpv6.opt.rdnss')).toEqual(['2001:db8:1::53']);
    expect(all(f, 'icmpv6.opt.dnssl')).toEqual(['example.com', 'lab.example.org']);
  });

  it('reads the neighbour advertisement', () => {
    const f = decoded[3];
    expect(first(f, 'icmpv6.type')).toBe('136');
    expect(first(f, 'icmpv6.nd.na.target_address')).toBe('fe80::1');
    expect(first(f, 'icmpv6.nd.na.flag.r')).toBe('1');
    expect(first(f, 'icmpv6.nd.na.flag.s')).toBe('1');
    expect(first(f, 'icmpv6.nd.na.flag.o')).toBe('1');
    expect(first(f, 'icmpv6.opt.target_linkaddr')).toBe('9a:55:9a:55:9a:55');
    expect(first(f, 'ipv6.dst')).toBe('fe80::5054:ff:fe12:3456');
  });

  it('reads the DHCPv6 ADVERTISE', () => {
    const f = decoded[4];
    expect(first(f, 'ipv6.src')).toBe(formatLl(OUR_LL));
    expect(first(f, 'ipv6.dst')).toBe('fe80::5054:ff:fe12:3456');
    expect(first(f, 'udp.srcport')).toBe('547');
    expect(first(f, 'udp.dstport')).toBe('546');
    expect(first(f, 'dhcpv6.msgtype')).toBe('2');
    expect(first(f, 'dhcpv6.xid')).toBe('0x424242');
    // Client DUID echoed, then ours: DUID-LL (type 3) on hardware type 1 with our MAC.
    expect(all(f, 'dhcpv6.duid.type')).toEqual(['3', '3']);
    expect(all(f, 'dhcpv6.duidll.link_layer_addr')).toEqual(['52:54:00:12:34:56', '9a:55:9a:55:9a:55']);
    expect(first(f, 'dhcpv6.iaid')).toBe('0000004d');
    expect(first(f, 'dhcpv6.iaid.t1')).toBe('4294967295');
    expect(all(f, 'dhcpv6.iaaddr.ip')).toEqual(['2001:db8:1::10']);
    expect(first(f, 'dhcpv6.iaaddr.valid_lifetime')).toBe('4294967295');
    expect(all(f, 'dhcpv6.dns_server')).toEqual(['2001:db8:1::53']);
    expect(first(f, 'dhcpv6.option_preference')).toBe('255');
    expect(all(f, 'dhcpv6.search_list_entry')).toEqual(['example.com.', 'lab.example.org.']);
  });
});

function formatLl(a: Uint8Array): string {
  return `fe80::${[8, 10, 12, 14].map((k) => (((a[k] ?? 0) << 8) | (a[k + 1] ?? 0)).toString(16)).join(':')}`;
}
