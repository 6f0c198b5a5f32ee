import { describe, expect, it } from 'vitest';
import { IPV4, IPV6, PortForwardError, PortForwards, parsePortSpec } from '../src/index.js';
import { ip } from './fakes.js';

describe('PortForwards', () => {
  it('maps a range with a delta and its reverse', () => {
    const pf = PortForwards.from([{ start: 1000, end: 1009, toStart: 2000 }]);
    for (const fam of [IPV4, IPV6]) {
      expect(pf.isForwarded(fam, 1005)).toBe(true);
      expect(pf.targetOf(fam, 1005)).toBe(2005);
      expect(pf.listenerFor(fam, 2009)).toBe(1009);
      expect(pf.listenerFor(fam, 2010)).toBe(-1);
      expect(pf.isForwarded(fam, 1010)).toBe(false);
      expect(pf.targetOf(fam, 1010)).toBe(1010);
    }
    expect(pf.listeners()).toHaveLength(20);
  });

  it('handles the range ends 1 and 65535, and remaps downwards and upwards to the edges', () => {
    const pf = PortForwards.from([
      { start: 65530, end: 65535, toStart: 1 },
      { start: 1, end: 6, toStart: 65530 },
    ]);
    expect(pf.targetOf(IPV4, 65535)).toBe(6);
    expect(pf.targetOf(IPV4, 1)).toBe(65530);
    expect(pf.listenerFor(IPV4, 65535)).toBe(6);
    expect(pf.listenerFor(IPV6, 1)).toBe(65530);
  });

  it('rejects port 0 with an explanation', () => {
    expect(() => PortForwards.from([{ start: 0, end: 10 }])).toThrow(/port 0 cannot be forwarded/);
    expect(() => PortForwards.from([{ start: 10, end: 20, toStart: 0 }])).toThrow(PortForwardError);
  });

  it('rejects ports beyond 65535, reversed ranges and targets that run off the end', () => {
    expect(() => PortForwards.from([{ start: 1, end: 65536 }])).toThrow(/65536 is not a port/);
    expect(() => PortForwards.from([{ start: 20, end: 10 }])).toThrow(/before start/);
    expect(() => PortForwards.from([{ start: 100, end: 200, toStart: 65500 }])).toThrow(/would end at 65600/);
    expect(() => PortForwards.from([{ start: 1.5, end: 2 }])).toThrow(PortForwardError);
  });

  it('rejects overlapping forwards, naming both', () => {
    expect(() => PortForwards.from([{ start: 1000, end: 2000 }, { start: 1500, end: 1600, toStart: 5000 }])).toThrow(
      'overlapping port forwards: 1000-2000 and 1500-1600:5000-5100 both listen on IPv4 port 1500',
    );
  });

  it('rejects two forwards delivering to the same target port', () => {
    expect(() =>
      PortForwards.from([
        { start: 8080, end: 8080, toStart: 80 },
        { start: 8081, end: 8081, toStart: 80 },
      ]),
    ).toThrow(/both deliver to IPv4 port 80/);
  });

  it('allows the same port on different explicit addresses and families', () => {
    const pf = PortForwards.from([
      { start: 53, end: 53, bindAddress: ip('203.0.113.1') },
      { start: 53, end: 53, toStart: 5353, bindAddress: ip('203.0.113.2') },
      { start: 53, end: 53, bindAddress: ip('2001:db8::1') },
    ]);
    expect(pf.listeners().map((l) => [l.family, l.port, l.target])).toEqual([
      [4, 53, 5353],
      [6, 53, 53],
    ]);
    expect(() =>
      PortForwards.from([
        { start: 53, end: 53, bindAddress: ip('203.0.113.1') },
        { start: 53, end: 53, toStart: 54 },
      ]),
    ).toThrow(/overlapping/);
  });

  it('applies exclusions after laying out ranges', () => {
    const pf = PortForwards.from([{ start: 1, end: 65535 }], [{ start: 22, end: 22 }, { start: 60000, end: 65535 }]);
    expect(pf.isForwarded(IPV4, 22)).toBe(false);
    expect(pf.isForwarded(IPV4, 21)).toBe(true);
    expect(pf.isForwarded(IPV6, 65535)).toBe(false);
    expect(pf.listeners()).toHaveLength(2 * (65535 - 1 - 5536));
    expect(() => PortForwards.from([], [{ start: 0, end: 1 }])).toThrow(/exclusion/);
  });

  it('rejects a bind address that is neither 4 nor 16 bytes', () => {
    expect(() => PortForwards.from([{ start: 1, end: 1, bindAddress: new Uint8Array(5) }])).toThrow(/4 or 16 bytes/);
  });
});

describe('port specs with an interface (%IFNAME)', () => {
  it('takes ADDR%IFNAME/PORTS and %IFNAME/PORTS, and hands the interface to the listeners', () => {
    const a = parsePortSpec('127.0.0.1%lo/8080');
    expect(a.entries[0]).toMatchObject({ start: 8080, end: 8080, bindInterface: 'lo' });
    expect(a.entries[0]?.bindAddress).toEqual(Uint8Array.of(127, 0, 0, 1));
    const b = parsePortSpec('%eth0/22,80:8080');
    expect(b.entries.map((e) => [e.start, e.bindInterface, e.bindAddress])).toEqual([
      [22, 'eth0', undefined],
      [80, 'eth0', undefined],
    ]);
    const pf = PortForwards.from(b.entries, b.exclude);
    // No address: both families, each on eth0.
    expect(pf.listeners().map((l) => [l.family, l.port, l.target, l.bindInterface])).toEqual([
      [4, 22, 22, 'eth0'],
      [4, 80, 8080, 'eth0'],
      [6, 22, 22, 'eth0'],
      [6, 80, 8080, 'eth0'],
    ]);
    expect(PortForwards.from(parsePortSpec('80').entries).listeners()[0]?.bindInterface).toBeNull();
  });

  it('refuses an empty or oversized interface name', () => {
    expect(() => parsePortSpec('%/80')).toThrow(/interface name/);
    expect(() => parsePortSpec('%abcdefghijklmnop/80')).toThrow(/interface name/);
    expect(() => parsePortSpec('1.2.3%lo/80')).toThrow(/invalid address/);
  });
});
