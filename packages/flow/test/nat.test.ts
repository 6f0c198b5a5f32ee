import { describe, expect, it } from 'vitest';
import { AddressMap, DestKind, IPV4, IPV6 } from '../src/index.js';
import { ip } from './fakes.js';

const out = (): Uint8Array => new Uint8Array(16);
const text = (fam: typeof IPV4, b: Uint8Array): number[] => [...b.subarray(0, fam.addrLen)];

describe('AddressMap: the translation every transport uses', () => {
  for (const [name, fam, gw, host, guest, remote, loop] of [
    ['IPv4', IPV4, '198.51.100.1', '203.0.113.2', '198.51.100.2', '203.0.113.7', '127.0.0.1'],
    ['IPv6', IPV6, '2001:db8::1', '2001:db8:1::2', '2001:db8::2', '2001:db8:1::7', '::1'],
  ] as const) {
    const map = (mapGw = true) =>
      new AddressMap(
        fam.family === 4
          ? { gateway4: ip(gw), hostAddress4: ip(host), mapGw }
          : { gateway6: ip(gw), hostAddress6: ip(host), mapGw },
        180_000,
      );

    it(`${name}: the gateway reaches the host's loopback; other destinations pass unchanged`, () => {
      const m = map();
      const o = out();
      expect(m.mapDestination(fam, ip(gw), 0, 53, 0, o, 0)).toBe(DestKind.Mapped);
      expect(text(fam, o)).toEqual([...ip(loop)]);
      expect(m.mapDestination(fam, ip(remote), 0, 53, 0, o, 0)).toBe(DestKind.Plain);
      expect(text(fam, o)).toEqual([...ip(remote)]);
    });

    it(`${name}: loopback and unspecified destinations from the guest are refused, with or without --no-map-gw`, () => {
      for (const mapGw of [true, false]) {
        const m = map(mapGw);
        expect(m.mapDestination(fam, ip(loop), 0, 53, 0, out(), 0)).toBe(DestKind.Refused);
        expect(m.mapDestination(fam, fam.any, 0, 53, 0, out(), 0)).toBe(DestKind.Refused);
      }
    });

    it(`${name}: --no-map-gw leaves the gateway an ordinary destination and host sources unchanged`, () => {
      const m = map(false);
      const o = out();
      expect(m.mapDestination(fam, ip(gw), 0, 53, 0, o, 0)).toBe(DestKind.Plain);
      expect(text(fam, o)).toEqual([...ip(gw)]);
      expect(m.rewriteSource(fam, ip(loop), 0, 53, 0, o, 0)).toBe(false);
      expect(text(fam, o)).toEqual([...ip(loop)]);
    });

    it(`${name}: the host itself reaches the guest as the gateway, and the way back remembers which host address (local bind)`, () => {
      const m = map();
      const o = out();
      expect(m.rewriteSource(fam, ip(host), 0, 5353, 1000, o, 0)).toBe(true);
      expect(text(fam, o)).toEqual([...ip(gw)]);
      m.mapDestination(fam, ip(gw), 0, 5353, 2000, o, 0);
      expect(text(fam, o)).toEqual([...ip(host)]);
      // Other ports still mean loopback, and the memory lapses after the idle time.
      m.mapDestination(fam, ip(gw), 0, 5354, 2000, o, 0);
      expect(text(fam, o)).toEqual([...ip(loop)]);
      m.mapDestination(fam, ip(gw), 0, 5353, 1000 + 180_001, o, 0);
      expect(text(fam, o)).toEqual([...ip(loop)]);
    });

    it(`${name}: a remote source passes unchanged, and the guest address is the one last seen`, () => {
      const m = map();
      const o = out();
      expect(m.rewriteSource(fam, ip(remote), 0, 53, 0, o, 0)).toBe(false);
      expect(text(fam, o)).toEqual([...ip(remote)]);
      expect(m.guestDestination(fam, ip(remote), 0, o, 0)).toBe(false);
      m.noteGuestSource(fam, ip(guest), 0);
      expect(m.guestDestination(fam, ip(remote), 0, o, 0)).toBe(true);
      expect(text(fam, o)).toEqual([...ip(guest)]);
    });
  }

  it('IPv6: a link-local peer is answered to the guest link-local address, and marked for a scope id', () => {
    const m = new AddressMap({ gateway6: ip('fe80::1') }, 180_000);
    m.noteGuestSource(IPV6, ip('2001:db8::2'), 0);
    m.noteGuestSource(IPV6, ip('fe80::2'), 0);
    const o = out();
    expect(m.guestDestination(IPV6, ip('fe80::99'), 0, o, 0)).toBe(true);
    expect([...o]).toEqual([...ip('fe80::2')]);
    expect(m.guestDestination(IPV6, ip('2001:db8:1::7'), 0, o, 0)).toBe(true);
    expect([...o]).toEqual([...ip('2001:db8::2')]);
    expect(m.mapDestination(IPV6, ip('fe80::99'), 0, 53, 0, o, 0)).toBe(DestKind.LinkLocal);
  });

  it('--dns-forward: DNS to the forward address (ports 53 and 853) reaches the resolver; its answer comes from the forward address', () => {
    const m = new AddressMap({ gateway4: ip('198.51.100.1'), dnsForward4: ip('169.254.1.1'), dnsHost4: ip('203.0.113.53') }, 180_000);
    const o = out();
    for (const port of [53, 853]) {
      expect(m.mapDestination(IPV4, ip('169.254.1.1'), 0, port, 0, o, 0)).toBe(DestKind.Mapped);
      expect(text(IPV4, o)).toEqual([...ip('203.0.113.53')]);
    }
    expect(m.mapDestination(IPV4, ip('169.254.1.1'), 0, 80, 0, o, 0)).toBe(DestKind.Plain);
    expect(text(IPV4, o)).toEqual([...ip('169.254.1.1')]);
    expect(m.rewriteSource(IPV4, ip('203.0.113.53'), 0, 53, 0, o, 0)).toBe(true);
    expect(text(IPV4, o)).toEqual([...ip('169.254.1.1')]);
    expect(m.rewriteSource(IPV4, ip('203.0.113.53'), 0, 5353, 0, o, 0)).toBe(false);
  });

  it("--map-guest-addr: that address reaches the host's own address, and the host's address reaches the guest from it", () => {
    const m = new AddressMap(
      { gateway6: ip('2001:db8::1'), hostAddress6: ip('2001:db8::2'), mapGuestAddr6: ip('fd00::2') },
      180_000,
    );
    const o = out();
    expect(m.mapDestination(IPV6, ip('fd00::2'), 0, 8080, 0, o, 0)).toBe(DestKind.Mapped);
    expect([...o]).toEqual([...ip('2001:db8::2')]);
    expect(m.rewriteSource(IPV6, ip('2001:db8::2'), 0, 8080, 0, o, 0)).toBe(true);
    expect([...o]).toEqual([...ip('fd00::2')]);
    // The gateway still means the host's loopback.
    m.mapDestination(IPV6, ip('2001:db8::1'), 0, 53, 0, o, 0);
    expect([...o]).toEqual([...ip('::1')]);
  });

  it('--map-host-loopback: another address takes the gateway\'s place; none maps nothing', () => {
    const m = new AddressMap({ gateway4: ip('198.51.100.1'), mapHostLoopback4: ip('198.51.100.254') }, 180_000);
    const o = out();
    expect(m.mapDestination(IPV4, ip('198.51.100.254'), 0, 53, 0, o, 0)).toBe(DestKind.Mapped);
    expect(text(IPV4, o)).toEqual([...ip('127.0.0.1')]);
    expect(m.mapDestination(IPV4, ip('198.51.100.1'), 0, 53, 0, o, 0)).toBe(DestKind.Plain);
    expect(m.rewriteSource(IPV4, ip('127.0.0.1'), 0, 53, 0, o, 0)).toBe(true);
    expect(text(IPV4, o)).toEqual([...ip('198.51.100.254')]);
    const none = new AddressMap({ gateway4: ip('198.51.100.1'), mapHostLoopback4: null }, 180_000);
    expect(none.mapDestination(IPV4, ip('198.51.100.1'), 0, 53, 0, o, 0)).toBe(DestKind.Plain);
    expect(none.rewriteSource(IPV4, ip('127.0.0.1'), 0, 53, 0, o, 0)).toBe(false);
  });
});
