import { Dhcpv6MessageType, Dhcpv6StatusCode, formatIpAddr, formatMac, type Dhcpv6IaNa, type Dhcpv6Repr } from '@x/l2';
import { beforeAll, describe, expect, it } from 'vitest';
import { serverDuid } from '../../src/responders/index.js';
import {
  GUEST_LL,
  OUR_LL,
  OUR_MAC,
  config,
  decodeDhcpv6,
  dhcpv6RequestFrame,
  hex,
  ip,
  one,
  run,
  scapyFrames,
} from './helpers.js';

const T = Dhcpv6MessageType;
const CLIENT_DUID = hex('00030001525400123456');
const OUR_DUID = hex('000300019a559a559a55');

function msg(messageType: number, over: Partial<Dhcpv6Repr> = {}): Dhcpv6Repr {
  return {
    messageType,
    transactionId: 0xabcdef,
    clientId: CLIENT_DUID,
    serverId: null,
    iaNa: [],
    oro: [23, 24],
    elapsedTime: 0,
    rapidCommit: false,
    status: null,
    dnsServers: [],
    domainList: [],
    ...over,
  };
}

const ia = (iaid: number, ...addrs: string[]): Dhcpv6IaNa => ({
  iaid,
  t1: 0,
  t2: 0,
  addresses: addrs.map((a) => ({ addr: ip(a), preferredLifetime: 0, validLifetime: 0, status: null })),
  status: null,
});

function expectReply(frame: Uint8Array, type: number): Dhcpv6Repr {
  const d = decodeDhcpv6(frame);
  expect(formatMac(d.eth.src)).toBe('9a:55:9a:55:9a:55');
  expect(formatMac(d.eth.dst)).toBe('52:54:00:12:34:56');
  expect(d.ip.src).toEqual(OUR_LL);
  expect(d.ip.dst).toEqual(GUEST_LL);
  expect(d.udp.srcPort).toBe(547);
  expect(d.udp.dstPort).toBe(546);
  expect(d.dhcp.messageType).toBe(type);
  expect(d.dhcp.transactionId).toBe(0xabcdef);
  expect(d.dhcp.clientId).toEqual(CLIENT_DUID);
  expect(d.dhcp.serverId).toEqual(OUR_DUID);
  return d.dhcp;
}

function expectLease(r: Dhcpv6Repr, iaid: number): void {
  expect(r.iaNa).toHaveLength(1);
  const a = r.iaNa[0];
  expect(a?.iaid).toBe(iaid);
  expect(a?.t1).toBe(0xffffffff);
  expect(a?.t2).toBe(0xffffffff);
  expect(a?.status).toBeNull();
  expect(a?.addresses.map((x) => [formatIpAddr(x.addr), x.preferredLifetime, x.validLifetime])).toEqual([
    ['2001:db8:1::10', 0xffffffff, 0xffffffff],
  ]);
  expect(r.dnsServers.map(formatIpAddr)).toEqual(['2001:db8:1::53']);
  expect(r.domainList).toEqual(['example.com', 'lab.example.org']);
}

describe('DHCPv6 responder', () => {
  it('derives a DUID-LL from our MAC', () => {
    expect(serverDuid(OUR_MAC)).toEqual(OUR_DUID);
  });

  it('advertises the guest address to a SOLICIT', () => {
    const r = expectReply(one(dhcpv6RequestFrame(msg(T.Solicit, { iaNa: [ia(7)] }))), T.Advertise);
    expectLease(r, 7);
    expect(r.rapidCommit).toBe(false);
  });

  it('marks the ADVERTISE with the highest preference (option 7 = 255) as its last option', () => {
    const { udp } = decodeDhcpv6(one(dhcpv6RequestFrame(msg(T.Solicit, { iaNa: [ia(7)] }))));
    expect(Array.from(udp.payload.subarray(udp.payload.length - 5))).toEqual([0, 7, 0, 1, 255]);
    const { udp: reply } = decodeDhcpv6(one(dhcpv6RequestFrame(msg(T.Solicit, { iaNa: [ia(7)], rapidCommit: true }))));
    expect(Array.from(reply.payload.subarray(reply.payload.length - 5))).not.toEqual([0, 7, 0, 1, 255]);
  });

  it('replies at once to a SOLICIT with rapid commit', () => {
    const r = expectReply(one(dhcpv6RequestFrame(msg(T.Solicit, { iaNa: [ia(7)], rapidCommit: true }))), T.Reply);
    expectLease(r, 7);
    expect(r.rapidCommit).toBe(true);
  });

  it('advertises NoAddrsAvail to a SOLICIT without IA_NA', () => {
    const r = expectReply(one(dhcpv6RequestFrame(msg(T.Solicit))), T.Advertise);
    expect(r.iaNa).toEqual([]);
    expect(r.status?.code).toBe(Dhcpv6StatusCode.NoAddrsAvail);
  });

  it('replies with the lease to REQUEST, RENEW and REBIND', () => {
    for (const [type, serverId] of [
      [T.Request, OUR_DUID],
      [T.Renew, OUR_DUID],
      [T.Rebind, null],
    ] as const) {
      const r = expectReply(one(dhcpv6RequestFrame(msg(type, { serverId, iaNa: [ia(9, '2001:db8:1::10')] }))), T.Reply);
      expectLease(r, 9);
    }
  });

  it('withdraws addresses that are not ours with zero lifetimes', () => {
    const r = expectReply(one(dhcpv6RequestFrame(msg(T.Rebind, { iaNa: [ia(9, '2001:db8:99::5')] }))), T.Reply);
    expect(r.iaNa[0]?.addresses.map((x) => [formatIpAddr(x.addr), x.validLifetime])).toEqual([
      ['2001:db8:1::10', 0xffffffff],
      ['2001:db8:99::5', 0],
    ]);
  });

  it('answers CONFIRM with Success on link and NotOnLink off link, and not at all without addresses', () => {
    const on = expectReply(one(dhcpv6RequestFrame(msg(T.Confirm, { iaNa: [ia(1, '2001:db8:1::10')] }))), T.Reply);
    expect(on.status?.code).toBe(Dhcpv6StatusCode.Success);
    expect(on.iaNa).toEqual([]);
    const off = expectReply(one(dhcpv6RequestFrame(msg(T.Confirm, { iaNa: [ia(1, '2001:db8:2::10')] }))), T.Reply);
    expect(off.status?.code).toBe(Dhcpv6StatusCode.NotOnLink);
    const { outcome, replies } = run(dhcpv6RequestFrame(msg(T.Confirm, { iaNa: [ia(1)] })));
    expect(outcome.kind).toBe('ignored');
    expect(replies).toHaveLength(0);
  });

  it('answers INFORMATION-REQUEST with DNS servers and domain list only', () => {
    const r = expectReply(one(dhcpv6RequestFrame(msg(T.InformationRequest))), T.Reply);
    expect(r.iaNa).toEqual([]);
    expect(r.dnsServers.map(formatIpAddr)).toEqual(['2001:db8:1::53']);
    expect(r.domainList).toEqual(['example.com', 'lab.example.org']);
  });

  it('acknowledges RELEASE and DECLINE with Success', () => {
    for (const type of [T.Release, T.Decline]) {
      const r = expectReply(
        one(dhcpv6RequestFrame(msg(type, { serverId: OUR_DUID, iaNa: [ia(1, '2001:db8:1::10')] }))),
        T.Reply
      );
      expect(r.status?.code).toBe(Dhcpv6StatusCode.Success);
    }
  });

  it('ignores messages for another server', () => {
    const other = hex('00030001020304050607');
    const { outcome, replies } = run(dhcpv6RequestFrame(msg(T.Request, { serverId: other, iaNa: [ia(1)] })));
    expect(outcome.kind).toBe('ignored');
    expect(replies).toHaveLength(0);
  });

  it('accepts unicast to our link-local but passes DHCPv6 to other destinations on', () => {
    expectReply(one(dhcpv6RequestFrame(msg(T.InformationRequest), OUR_LL)), T.Reply);
    expect(run(dhcpv6RequestFrame(msg(T.InformationRequest), ip('2001:db8:5::1'))).outcome.kind).toBe('pass');
  });

  it('passes on when disabled (--no-dhcpv6), is silent without IPv6, malformed when broken', () => {
    expect(run(dhcpv6RequestFrame(msg(T.Solicit, { iaNa: [ia(1)] })), config({ dhcpv6: false })).outcome.kind).toBe(
      'pass'
    );
    expect(run(dhcpv6RequestFrame(msg(T.Solicit, { iaNa: [ia(1)] })), config({ v6: undefined })).outcome.kind).toBe(
      'ignored'
    );
    // SOLICIT without a client identifier is refused by the parser.
    expect(run(dhcpv6RequestFrame(msg(T.Solicit, { clientId: null }))).outcome).toMatchObject({
      kind: 'malformed',
      layer: 'dhcpv6',
    });
  });

  describe('with messages built by scapy (as dhclient -6 sends them)', () => {
    let frames: Record<'solicit' | 'inforeq', Uint8Array>;
    beforeAll(() => {
      const head =
        "Ether(src='52:54:00:12:34:56',dst='33:33:00:01:00:02')/IPv6(src='fe80::5054:ff:fe12:3456',dst='ff02::1:2')/UDP(sport=546,dport=547)";
      const duid = "DHCP6OptClientId(duid=DUID_LL(lladdr='52:54:00:12:34:56'))";
      frames = scapyFrames({
        solicit: `${head}/DHCP6_Solicit(trid=0xabcdef)/${duid}/DHCP6OptIA_NA(iaid=0x1234)/DHCP6OptOptReq(reqopts=[23,24])/DHCP6OptElapsedTime()`,
        inforeq: `${head}/DHCP6_InfoRequest(trid=0xabcdef)/${duid}/DHCP6OptOptReq(reqopts=[23,24])/DHCP6OptElapsedTime()`,
      });
    });
    it('advertises and informs', () => {
      expectLease(expectReply(one(frames.solicit), T.Advertise), 0x1234);
      const r = expectReply(one(frames.inforeq), T.Reply);
      expect(r.dnsServers.map(formatIpAddr)).toEqual(['2001:db8:1::53']);
    });
  });
});
