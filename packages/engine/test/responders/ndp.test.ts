import { emptyNdpOptions, formatIpAddr, formatMac, type NdpRepr } from '@x/l2';
import { beforeAll, describe, expect, it } from 'vitest';
import { routerAdvertFrame } from '../../src/responders/index.js';
import {
  GUEST_LL,
  GUEST_MAC,
  OUR_LL,
  OUR_MAC,
  config,
  decodeIcmpv6,
  icmpv6Frame,
  ip,
  mac,
  one,
  run,
  scapyFrames,
  v6Of,
} from './helpers.js';

function ns(target: string, withSlla = true): NdpRepr {
  const options = emptyNdpOptions();
  if (withSlla) options.sourceLinkAddr = GUEST_MAC;
  return { type: 'neighborSolicit', target: ip(target), options };
}

function rs(): NdpRepr {
  const options = emptyNdpOptions();
  options.sourceLinkAddr = GUEST_MAC;
  return { type: 'routerSolicit', options };
}

function expectAdvert(frame: Uint8Array, target: string): void {
  const { eth, ip: ip6, msg } = decodeIcmpv6(frame);
  expect(formatMac(eth.dst)).toBe('52:54:00:12:34:56');
  expect(formatMac(eth.src)).toBe('9a:55:9a:55:9a:55');
  expect(ip6.hopLimit).toBe(255);
  expect(ip6.src).toEqual(OUR_LL);
  expect(formatIpAddr(ip6.src)).toBe('fe80::9855:9aff:fe55:9a55');
  if (msg.type !== 'neighborAdvert') throw new Error(`got ${msg.type}`);
  expect(formatIpAddr(msg.target)).toBe(target);
  expect(msg.router).toBe(true);
  expect(msg.solicited).toBe(true);
  expect(msg.override).toBe(true);
  expect(msg.options.targetLinkAddr).toEqual(OUR_MAC);
  expect(msg.options.sourceLinkAddr).toBeNull();
}

function expectRouterAdvert(frame: Uint8Array): void {
  const { eth, ip: ip6, msg } = decodeIcmpv6(frame);
  expect(formatMac(eth.dst)).toBe('33:33:00:00:00:01');
  expect(formatMac(eth.src)).toBe('9a:55:9a:55:9a:55');
  expect(ip6.hopLimit).toBe(255);
  expect(ip6.src).toEqual(OUR_LL);
  expect(formatIpAddr(ip6.dst)).toBe('ff02::1');
  if (msg.type !== 'routerAdvert') throw new Error(`got ${msg.type}`);
  expect(msg.curHopLimit).toBe(255);
  // As the C implementation: hop limit 255, M set while DHCPv6 answers.
  expect(msg.managed).toBe(true);
  expect(msg.other).toBe(false);
  expect(msg.routerLifetime).toBe(65535);
  expect(msg.options.sourceLinkAddr).toEqual(OUR_MAC);
  expect(msg.options.mtu).toBe(65520);
  expect(msg.options.prefixes).toHaveLength(1);
  const p = msg.options.prefixes[0];
  expect(p).toMatchObject({
    prefixLength: 64,
    onLink: true,
    autonomous: true,
    validLifetime: 0xffffffff,
    preferredLifetime: 0xffffffff,
  });
  expect(formatIpAddr(p?.prefix ?? new Uint8Array(16))).toBe('2001:db8:1::');
  expect(msg.options.rdnss).toHaveLength(1);
  expect(msg.options.rdnss[0]?.servers.map(formatIpAddr)).toEqual(['2001:db8:1::53']);
  expect(msg.options.dnssl[0]?.domains).toEqual(['example.com', 'lab.example.org']);
}

describe('NDP responder: neighbour solicitations', () => {
  it('answers a solicitation for the gateway (solicited-node multicast) from our link-local', () => {
    const f = icmpv6Frame(ns('fe80::1'), GUEST_LL, ip('ff02::1:ff00:1'), 255, mac('33:33:ff:00:00:01'));
    const reply = one(f);
    expectAdvert(reply, 'fe80::1');
    expect(decodeIcmpv6(reply).ip.dst).toEqual(GUEST_LL);
  });

  it('answers for our own link-local and for remote global addresses', () => {
    expectAdvert(one(icmpv6Frame(ns(formatIpAddr(OUR_LL)), GUEST_LL, OUR_LL)), 'fe80::9855:9aff:fe55:9a55');
    expectAdvert(one(icmpv6Frame(ns('2001:db8:1::99'), ip('2001:db8:1::10'), ip('ff02::1:ff00:99'))), '2001:db8:1::99');
  });

  it('replies to the frame source MAC when the solicitation has no link-layer option', () => {
    expectAdvert(one(icmpv6Frame(ns('fe80::1', false), GUEST_LL, OUR_LL)), 'fe80::1');
  });

  it('stays silent for duplicate address detection (source ::) and for the guest address', () => {
    for (const f of [
      icmpv6Frame(ns('2001:db8:1::10', false), ip('::'), ip('ff02::1:ff00:10')),
      icmpv6Frame(ns('fe80::5054:ff:fe12:3456', false), ip('::'), ip('ff02::1:ff12:3456')),
      icmpv6Frame(ns('2001:db8:1::10'), GUEST_LL, ip('ff02::1:ff00:10')),
      icmpv6Frame(ns(formatIpAddr(GUEST_LL)), GUEST_LL, ip('ff02::1:ff12:3456')),
    ]) {
      const { outcome, replies } = run(f);
      expect(outcome.kind).toBe('ignored');
      expect(replies).toHaveLength(0);
    }
  });

  it('drops NDP that did not arrive with hop limit 255, and bad checksums', () => {
    expect(run(icmpv6Frame(ns('fe80::1'), GUEST_LL, OUR_LL, 64)).outcome).toMatchObject({
      kind: 'malformed',
      layer: 'ndp',
    });
    const f = icmpv6Frame(ns('fe80::1'), GUEST_LL, OUR_LL);
    f[14 + 40 + 2] = (f[14 + 40 + 2] ?? 0) ^ 0x55;
    expect(run(f).outcome).toMatchObject({ kind: 'malformed', layer: 'ndp' });
  });

  it('consumes advertisements from the guest silently', () => {
    const options = emptyNdpOptions();
    options.targetLinkAddr = GUEST_MAC;
    const na: NdpRepr = {
      type: 'neighborAdvert',
      router: false,
      solicited: false,
      override: true,
      target: GUEST_LL,
      options,
    };
    expect(run(icmpv6Frame(na, GUEST_LL, ip('ff02::1'))).outcome.kind).toBe('ignored');
  });
});

describe('NDP responder: router advertisements', () => {
  it('answers a router solicitation with a full advertisement to all nodes', () => {
    expectRouterAdvert(one(icmpv6Frame(rs(), GUEST_LL, ip('ff02::2'))));
  });

  it('answers a solicitation sent from :: (no source link-layer option allowed)', () => {
    expectRouterAdvert(
      one(icmpv6Frame({ type: 'routerSolicit', options: emptyNdpOptions() }, ip('::'), ip('ff02::2')))
    );
  });

  it('builds the same advertisement unsolicited, for the timer', () => {
    const f = routerAdvertFrame(config());
    if (f === null || !(f instanceof Uint8Array)) throw new Error('no RA');
    expectRouterAdvert(f);
  });

  it('sets M and O flags as configured, and omits what is not configured', () => {
    const base = config();
    const v6 = { ...v6Of(base), managed: true, other: true, dns: [] };
    const f = routerAdvertFrame({ ...base, v6, searchDomains: [], mtu: 1000 });
    if (f === null || !(f instanceof Uint8Array)) throw new Error('no RA');
    const { msg } = decodeIcmpv6(f);
    if (msg.type !== 'routerAdvert') throw new Error(msg.type);
    expect(msg.managed).toBe(true);
    expect(msg.other).toBe(true);
    expect(msg.options.rdnss).toEqual([]);
    expect(msg.options.dnssl).toEqual([]);
    expect(msg.options.mtu).toBeNull(); // below IPv6's 1280 minimum: not advertised
  });

  it('does not mark a non-/64 prefix autonomous', () => {
    const base = config();
    const f = routerAdvertFrame({ ...base, v6: { ...v6Of(base), prefixLen: 56 } });
    if (f === null || !(f instanceof Uint8Array)) throw new Error('no RA');
    const { msg } = decodeIcmpv6(f);
    if (msg.type !== 'routerAdvert') throw new Error(msg.type);
    expect(msg.options.prefixes[0]).toMatchObject({ prefixLength: 56, autonomous: false, onLink: true });
    expect(formatIpAddr(msg.options.prefixes[0]?.prefix ?? new Uint8Array(16))).toBe('2001:db8:1::');
  });

  it('has nothing to advertise without IPv6 or with --no-ra', () => {
    expect(routerAdvertFrame(config({ v6: undefined }))).toBeNull();
    expect(routerAdvertFrame(config({ ra: false }))).toBeNull();
    const { outcome, replies } = run(icmpv6Frame(rs(), GUEST_LL, ip('ff02::2')), config({ ra: false }));
    expect(outcome.kind).toBe('ignored');
    expect(replies).toHaveLength(0);
  });

  it("reports an unencodable search domain as our failure, not the guest's", () => {
    const { outcome } = run(icmpv6Frame(rs(), GUEST_LL, ip('ff02::2')), config({ searchDomains: ['bad..name'] }));
    expect(outcome.kind).toBe('replyFailed');
  });

  describe('with requests built by scapy', () => {
    let frames: Record<'ns' | 'rs' | 'dad', Uint8Array>;
    beforeAll(() => {
      const eth = (dst: string): string => `Ether(src='52:54:00:12:34:56',dst='${dst}')`;
      frames = scapyFrames({
        ns: `${eth(
          '33:33:ff:00:00:01'
        )}/IPv6(src='fe80::5054:ff:fe12:3456',dst='ff02::1:ff00:1',hlim=255)/ICMPv6ND_NS(tgt='fe80::1')/ICMPv6NDOptSrcLLAddr(lladdr='52:54:00:12:34:56')`,
        rs: `${eth(
          '33:33:00:00:00:02'
        )}/IPv6(src='fe80::5054:ff:fe12:3456',dst='ff02::2',hlim=255)/ICMPv6ND_RS()/ICMPv6NDOptSrcLLAddr(lladdr='52:54:00:12:34:56')`,
        dad: `${eth(
          '33:33:ff:00:00:10'
        )}/IPv6(src='::',dst='ff02::1:ff00:10',hlim=255)/ICMPv6ND_NS(tgt='2001:db8:1::10')`,
      });
    });
    it('answers the solicitations and respects DAD', () => {
      expectAdvert(one(frames.ns), 'fe80::1');
      expectRouterAdvert(one(frames.rs));
      expect(run(frames.dad).outcome.kind).toBe('ignored');
    });
  });
});
