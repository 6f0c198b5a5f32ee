import { Dhcpv4MessageType, formatIpAddr, formatMac } from '@x/l2';
import { beforeAll, describe, expect, it } from 'vitest';
import { ipv4UdpFrame } from '../../src/responders/frame.js';
import {
  GUEST_MAC,
  config,
  fromGuest,
  mac,
  decodeDhcp,
  dhcpRequestFrame,
  ip,
  ok,
  one,
  run,
  scapyFrames,
  v4Of,
} from './helpers.js';

const { Discover, Offer, Request, Ack, Nak, Inform, Release, Decline } = Dhcpv4MessageType;

function expectFullLease(frame: Uint8Array, type: number, xid = 0x1234abcd): ReturnType<typeof decodeDhcp> {
  const d = decodeDhcp(frame);
  expect(formatMac(d.eth.src)).toBe('9a:55:9a:55:9a:55');
  expect(formatIpAddr(d.ip.src)).toBe('198.51.100.1');
  expect(d.udp.srcPort).toBe(67);
  expect(d.udp.dstPort).toBe(68);
  expect(d.dhcp.messageType).toBe(type);
  expect(d.dhcp.xid).toBe(xid);
  expect(formatMac(d.dhcp.chaddr)).toBe('52:54:00:12:34:56');
  expect(formatIpAddr(d.dhcp.yiaddr)).toBe('198.51.100.10');
  expect(formatIpAddr(d.dhcp.serverId ?? new Uint8Array(4))).toBe('198.51.100.1');
  expect(formatIpAddr(d.dhcp.subnetMask ?? new Uint8Array(4))).toBe('255.255.255.0');
  expect(d.dhcp.routers.map(formatIpAddr)).toEqual(['198.51.100.1']);
  expect(d.dhcp.dnsServers.map(formatIpAddr)).toEqual(['198.51.100.53', '203.0.113.53']);
  expect(d.dhcp.domainSearch).toEqual(['example.com', 'lab.example.org']);
  expect(d.dhcp.leaseTime).toBe(0xffffffff);
  expect(d.dhcp.mtu).toBe(65520);
  expect(d.dhcp.classlessRoutes).toEqual([]);
  return d;
}

describe('DHCPv4 responder', () => {
  it('offers the guest address to a DISCOVER, unicast to the offered address and client MAC', () => {
    const d = expectFullLease(one(dhcpRequestFrame({ messageType: Discover })), Offer);
    expect(formatIpAddr(d.ip.dst)).toBe('198.51.100.10');
    expect(formatMac(d.eth.dst)).toBe('52:54:00:12:34:56');
    expect(d.ip.ttl).toBe(64);
  });

  it('broadcasts when the client set the broadcast flag', () => {
    const d = expectFullLease(one(dhcpRequestFrame({ messageType: Discover, broadcast: true })), Offer);
    expect(formatIpAddr(d.ip.dst)).toBe('255.255.255.255');
    expect(formatMac(d.eth.dst)).toBe('ff:ff:ff:ff:ff:ff');
    expect(d.dhcp.broadcast).toBe(true);
  });

  it('acknowledges a REQUEST for the offered address (SELECTING)', () => {
    const req = dhcpRequestFrame({
      messageType: Request,
      requestedIp: ip('198.51.100.10'),
      serverId: ip('198.51.100.1'),
    });
    expectFullLease(one(req), Ack);
  });

  it('acknowledges a renewal by ciaddr, unicast to the client address', () => {
    const req = dhcpRequestFrame(
      { messageType: Request, ciaddr: ip('198.51.100.10') },
      ip('198.51.100.10'),
      ip('198.51.100.1')
    );
    const d = expectFullLease(one(req), Ack);
    expect(formatIpAddr(d.ip.dst)).toBe('198.51.100.10');
    expect(formatIpAddr(d.dhcp.ciaddr)).toBe('198.51.100.10');
  });

  it('refuses (NAK, broadcast) a REQUEST for another address', () => {
    for (const f of [
      dhcpRequestFrame({ messageType: Request, requestedIp: ip('198.51.100.99') }),
      dhcpRequestFrame({ messageType: Request, requestedIp: ip('198.51.100.99'), serverId: ip('198.51.100.1') }),
      dhcpRequestFrame({ messageType: Request }),
    ]) {
      const d = decodeDhcp(one(f));
      expect(d.dhcp.messageType).toBe(Nak);
      expect(formatIpAddr(d.dhcp.yiaddr)).toBe('0.0.0.0');
      expect(formatIpAddr(d.dhcp.serverId ?? new Uint8Array(4))).toBe('198.51.100.1');
      expect(d.dhcp.leaseTime).toBeNull();
      expect(formatIpAddr(d.ip.dst)).toBe('255.255.255.255');
      expect(formatMac(d.eth.dst)).toBe('ff:ff:ff:ff:ff:ff');
    }
  });

  it('ignores a REQUEST that chose another server', () => {
    const f = dhcpRequestFrame({
      messageType: Request,
      requestedIp: ip('198.51.100.10'),
      serverId: ip('198.51.100.2'),
    });
    const { outcome, replies } = run(f);
    expect(outcome.kind).toBe('ignored');
    expect(replies).toHaveLength(0);
  });

  it('answers INFORM with an ACK without address or lease, to the client address', () => {
    const f = dhcpRequestFrame(
      { messageType: Inform, ciaddr: ip('198.51.100.10') },
      ip('198.51.100.10'),
      ip('255.255.255.255')
    );
    const d = decodeDhcp(one(f));
    expect(d.dhcp.messageType).toBe(Ack);
    expect(formatIpAddr(d.dhcp.yiaddr)).toBe('0.0.0.0');
    expect(d.dhcp.leaseTime).toBeNull();
    expect(d.dhcp.dnsServers.map(formatIpAddr)).toEqual(['198.51.100.53', '203.0.113.53']);
    expect(formatIpAddr(d.ip.dst)).toBe('198.51.100.10');
  });

  it('says nothing to RELEASE and DECLINE', () => {
    for (const messageType of [Release, Decline]) {
      const { outcome, replies } = run(
        dhcpRequestFrame({ messageType, ciaddr: ip('198.51.100.10'), serverId: ip('198.51.100.1') })
      );
      expect(outcome.kind).toBe('ignored');
      expect(replies).toHaveLength(0);
    }
  });

  it('adds classless routes when the gateway is outside the guest subnet', () => {
    const base = config();
    const cfg = config({ v4: { ...v4Of(base), prefixLen: 32 } });
    const d = decodeDhcp(one(dhcpRequestFrame({ messageType: Discover }), cfg));
    expect(formatIpAddr(d.dhcp.subnetMask ?? new Uint8Array(4))).toBe('255.255.255.255');
    expect(d.dhcp.routers.map(formatIpAddr)).toEqual(['198.51.100.1']);
    expect(
      d.dhcp.classlessRoutes.map((r) => [formatIpAddr(r.destination), r.prefixLength, formatIpAddr(r.router)])
    ).toEqual([
      ['198.51.100.1', 32, '0.0.0.0'],
      ['0.0.0.0', 0, '198.51.100.1'],
    ]);
  });

  it('uses a configured lease time and leaves out an impossible MTU', () => {
    const base = config();
    const d = decodeDhcp(
      one(dhcpRequestFrame({ messageType: Discover }), config({ v4: { ...v4Of(base), leaseTime: 3600 }, mtu: 0 }))
    );
    expect(d.dhcp.leaseTime).toBe(3600);
    expect(d.dhcp.mtu).toBeNull();
  });

  it('passes DHCP on when disabled (--no-dhcp), and stays silent without IPv4', () => {
    expect(run(dhcpRequestFrame({ messageType: Discover }), config({ dhcp: false })).outcome.kind).toBe('pass');
    expect(run(dhcpRequestFrame({ messageType: Discover }), config({ v4: undefined })).outcome.kind).toBe('ignored');
  });

  it('counts a bad UDP checksum and a broken DHCP body as malformed', () => {
    const f = dhcpRequestFrame({ messageType: Discover });
    const bad = f.slice();
    bad[14 + 20 + 8 + 100] = (bad[14 + 20 + 8 + 100] ?? 0) ^ 1;
    expect(run(bad).outcome).toMatchObject({ kind: 'malformed', layer: 'udp' });
    // A BOOTP body without the DHCP magic cookie, in a well-formed datagram.
    const noCookie = ok(
      ipv4UdpFrame(fromGuest(mac('ff:ff:ff:ff:ff:ff')), ip('0.0.0.0'), ip('255.255.255.255'), 68, 67, 300, () => 300)
    );
    expect(run(noCookie).outcome).toMatchObject({ kind: 'malformed', layer: 'dhcpv4' });
  });

  describe('with a DISCOVER and REQUEST built by scapy (as udhcpc sends them)', () => {
    let frames: Record<'discover' | 'request', Uint8Array>;
    beforeAll(() => {
      const head =
        "Ether(src='52:54:00:12:34:56',dst='ff:ff:ff:ff:ff:ff')/IP(src='0.0.0.0',dst='255.255.255.255')/UDP(sport=68,dport=67)" +
        "/BOOTP(chaddr=bytes.fromhex('525400123456'),xid=0x5eed)";
      frames = scapyFrames({
        discover: `${head}/DHCP(options=[('message-type','discover'),('param_req_list',[1,3,6,12,15,26,28,42,119,121]),'end'])`,
        request: `${head}/DHCP(options=[('message-type','request'),('requested_addr','198.51.100.10'),('server_id','198.51.100.1'),'end'])`,
      });
    });
    it('offers and acknowledges', () => {
      expect(GUEST_MAC).toBeDefined();
      expectFullLease(one(frames.discover), Offer, 0x5eed);
      expectFullLease(one(frames.request), Ack, 0x5eed);
    });
  });
});
