import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FlowTable, FlowType, INITIATOR, IPV4, IPV6, Pif, TARGET, type ReleaseReason } from '../src/index.js';
import { ip } from './fakes.js';

const UDP = 17;

function table(capacity = 64, extra: { hashBits?: number; evictMinIdleMs?: number } = {}) {
  const released: { flow: number; reason: ReleaseReason }[] = [];
  const warnings: string[] = [];
  const t = new FlowTable({
    capacity,
    seed: 1234,
    logger: { debug() {}, info() {}, warn: (m) => warnings.push(m) },
    ...extra,
  });
  t.register(FlowType.Udp, { idleMs: 180_000, release: (flow, reason) => released.push({ flow, reason }) });
  t.register(FlowType.Icmp, { idleMs: 60_000, release: (flow, reason) => released.push({ flow, reason }) });
  return { t, released, warnings };
}

/** A guest flow from guest:gport to dst:dport, carried to peer:dport from *:gport. */
function guestFlow(t: FlowTable, fam = IPV4, guest = '198.51.100.2', gport = 40000, dst = '203.0.113.7', dport = 53, now = 0, peer = dst) {
  const f = t.alloc(FlowType.Udp, UDP, fam.family, now);
  if (f < 0) return f;
  t.setSide(f, INITIATOR, Pif.Tap, fam, ip(dst), 0, dport, ip(guest), 0, gport);
  t.setSide(f, TARGET, Pif.Host, fam, null, 0, gport, ip(peer), 0, dport);
  t.hash(f, INITIATOR);
  t.hash(f, TARGET);
  return f;
}

describe('FlowTable', () => {
  for (const [name, fam, guest, dst, gw, loop] of [
    ['IPv4', IPV4, '198.51.100.2', '203.0.113.7', '198.51.100.1', '127.0.0.1'],
    ['IPv6', IPV6, '2001:db8::2', '2001:db8:1::7', 'fe80::1', '::1'],
  ] as const) {
    it(`${name}: finds a flow by either side's tuple, and translates through the other side`, () => {
      const { t } = table();
      const f = guestFlow(t, fam, guest, 40000, gw, 53, 0, loop);
      expect(t.lookup(UDP, Pif.Tap, fam, ip(guest), 0, 40000, ip(gw), 0, 53)).toBe(2 * f + INITIATOR);
      const any = new Uint8Array(16);
      expect(t.lookup(UDP, Pif.Host, fam, ip(loop), 0, 53, any, 0, 40000)).toBe(2 * f + TARGET);
      // The answer's way back: the guest side's addresses, in packet form.
      const out = new Uint8Array(16);
      t.ourAddr(f, INITIATOR, out, 0);
      expect([...out.subarray(0, fam.addrLen)]).toEqual([...ip(gw)]);
      t.endAddr(f, INITIATOR, out, 0);
      expect([...out.subarray(0, fam.addrLen)]).toEqual([...ip(guest)]);
      expect(t.endPort(f, INITIATOR)).toBe(40000);
      expect(t.ourPort(f, INITIATOR)).toBe(53);
      // Any field different: no match.
      expect(t.lookup(UDP, Pif.Tap, fam, ip(guest), 0, 40001, ip(gw), 0, 53)).toBe(-1);
      expect(t.lookup(UDP, Pif.Tap, fam, ip(guest), 0, 40000, ip(gw), 0, 54)).toBe(-1);
      expect(t.lookup(UDP, Pif.Host, fam, ip(guest), 0, 40000, ip(gw), 0, 53)).toBe(-1);
      expect(t.lookup(1, Pif.Tap, fam, ip(guest), 0, 40000, ip(gw), 0, 53)).toBe(-1);
      expect(t.lookup(UDP, Pif.Tap, fam, ip(dst), 0, 40000, ip(gw), 0, 53)).toBe(-1);
    });
  }

  it('keeps the families apart: 0.0.0.0 and :: are different addresses, as are v4 and its v4-mapped v6 twin', () => {
    const { t } = table();
    const f4 = guestFlow(t, IPV4, '198.51.100.2', 1000, '203.0.113.7', 53);
    expect(t.lookup(UDP, Pif.Tap, IPV6, ip('::ffff:198.51.100.2'), 0, 1000, ip('::ffff:203.0.113.7'), 0, 53)).toBe(-1);
    expect(t.lookup(UDP, Pif.Tap, IPV4, ip('198.51.100.2'), 0, 1000, ip('203.0.113.7'), 0, 53)).toBe(2 * f4);
  });

  it('reads addresses at offsets inside larger arrays (a 16-byte stride table)', () => {
    const { t } = table();
    const f = guestFlow(t);
    const stride = new Uint8Array(64);
    stride.set(ip('198.51.100.2'), 16);
    stride.set(ip('203.0.113.7'), 48);
    expect(t.lookup(UDP, Pif.Tap, IPV4, stride, 16, 40000, stride, 48, 53)).toBe(2 * f);
  });

  it('stays correct when every tuple collides (a 2-slot hash), through inserts and removals in any order', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 1, max: 30 }), fc.boolean()), { minLength: 1, maxLength: 200 }), (ops) => {
        const { t } = table(32, { hashBits: 1 });
        const live = new Map<number, number>(); // port -> flow
        for (const [port, add] of ops) {
          if (add && !live.has(port)) {
            const f = guestFlow(t, IPV4, '198.51.100.2', port, '203.0.113.7', 53);
            if (f >= 0) live.set(port, f);
          } else if (!add && live.has(port)) {
            t.free(live.get(port) as number);
            live.delete(port);
          }
          for (let p = 1; p <= 30; p++) {
            const got = t.lookup(UDP, Pif.Tap, IPV4, ip('198.51.100.2'), 0, p, ip('203.0.113.7'), 0, 53);
            expect(got).toBe(live.has(p) ? 2 * (live.get(p) as number) : -1);
          }
        }
        expect(t.size).toBe(live.size);
      }),
      { numRuns: 60 },
    );
  });

  it('evicts the least recently used flow of any type at the cap, releases it first, and logs once', () => {
    const { t, released, warnings } = table(4);
    const a = guestFlow(t, IPV4, '198.51.100.2', 1, '203.0.113.7', 53, 0);
    const b = guestFlow(t, IPV4, '198.51.100.2', 2, '203.0.113.7', 53, 10);
    const c = t.alloc(FlowType.Icmp, 1, 4, 20);
    const d = guestFlow(t, IPV4, '198.51.100.2', 4, '203.0.113.7', 53, 30);
    t.touch(a, 40); // a is fresh again: b is now the oldest
    const e = guestFlow(t, IPV4, '198.51.100.2', 5, '203.0.113.7', 53, 50);
    expect(e).toBe(b);
    expect(released).toEqual([{ flow: b, reason: 'evicted' }]);
    expect(t.lookup(UDP, Pif.Tap, IPV4, ip('198.51.100.2'), 0, 2, ip('203.0.113.7'), 0, 53)).toBe(-1);
    expect(t.lookup(UDP, Pif.Tap, IPV4, ip('198.51.100.2'), 0, 5, ip('203.0.113.7'), 0, 53)).toBe(2 * e);
    guestFlow(t, IPV4, '198.51.100.2', 6, '203.0.113.7', 53, 60); // evicts the ICMP flow c
    expect(released[1]).toEqual({ flow: c, reason: 'evicted' });
    expect(t.evicted[FlowType.Udp]).toBe(1);
    expect(t.evicted[FlowType.Icmp]).toBe(1);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/4 flows in use, evicted the least recently used \(udp flow/);
    expect(t.size).toBe(4);
    void d;
  });

  it('passes over pinned flows at the cap (a live connection outlasts a flood), and refuses when every flow is pinned', () => {
    const { t, released } = table(3);
    const live = guestFlow(t, IPV4, '198.51.100.2', 1, '203.0.113.7', 80, 0);
    t.pin(live, true);
    const b = guestFlow(t, IPV4, '198.51.100.2', 2, '203.0.113.7', 80, 10);
    const c = guestFlow(t, IPV4, '198.51.100.2', 3, '203.0.113.7', 80, 20);
    // The pinned flow is the oldest; the next one goes instead.
    for (let i = 0; i < 50; i++) expect(guestFlow(t, IPV4, '198.51.100.2', 100 + i, '203.0.113.7', 80, 30 + i)).toBeGreaterThanOrEqual(0);
    expect(released.map((r) => r.flow)).not.toContain(live);
    expect(released[0]).toEqual({ flow: b, reason: 'evicted' });
    expect(released[1]).toEqual({ flow: c, reason: 'evicted' });
    expect(t.lookup(UDP, Pif.Tap, IPV4, ip('198.51.100.2'), 0, 1, ip('203.0.113.7'), 0, 80)).toBe(2 * live);
    // Pinned everywhere: nothing to evict.
    for (const f of t.list(100).map((x) => x.flow)) t.pin(f, true);
    expect(guestFlow(t, IPV4, '198.51.100.2', 999, '203.0.113.7', 80, 200)).toBe(-1);
    // Freed, a slot forgets its pin.
    t.free(live);
    const again = guestFlow(t, IPV4, '198.51.100.2', 998, '203.0.113.7', 80, 300);
    expect(again).toBe(live);
    // ...so it is the one flow that can be evicted now.
    expect(guestFlow(t, IPV4, '198.51.100.2', 997, '203.0.113.7', 80, 400)).toBe(again);
  });

  it('refuses a new flow at the cap when nothing is idle long enough to evict', () => {
    const { t, released } = table(2, { evictMinIdleMs: 1000 });
    guestFlow(t, IPV4, '198.51.100.2', 1, '203.0.113.7', 53, 0);
    guestFlow(t, IPV4, '198.51.100.2', 2, '203.0.113.7', 53, 0);
    expect(t.alloc(FlowType.Udp, UDP, 4, 500)).toBe(-1);
    expect(released).toHaveLength(0);
    expect(t.alloc(FlowType.Udp, UDP, 4, 1500)).toBeGreaterThanOrEqual(0);
  });

  it('ages each type by its own rule, with fake time, and frees what it ages', () => {
    const { t, released } = table();
    const u = guestFlow(t, IPV4, '198.51.100.2', 1, '203.0.113.7', 53, 0);
    const i = t.alloc(FlowType.Icmp, 1, 4, 0);
    t.sweep(59_000);
    expect(released).toHaveLength(0);
    t.sweep(60_001);
    expect(released).toEqual([{ flow: i, reason: 'aged' }]);
    expect(t.countOf(FlowType.Icmp)).toBe(0);
    t.touch(u, 100_000);
    t.sweep(250_000);
    expect(t.countOf(FlowType.Udp)).toBe(1);
    t.sweep(280_001);
    expect(released[1]).toEqual({ flow: u, reason: 'aged' });
    expect(t.size).toBe(0);
    expect(t.aged[FlowType.Udp]).toBe(1);
  });

  it('lists live flows with both sides in text', () => {
    const { t } = table();
    guestFlow(t, IPV6, '2001:db8::2', 5353, 'fe80::1', 53, 0, '::1');
    const [flow] = t.list(1000);
    expect(flow).toMatchObject({
      type: 'udp',
      family: 6,
      idleMs: 1000,
      sides: [
        { pif: 'tap', ours: '[fe80::1]:53', endpoint: '[2001:db8::2]:5353' },
        { pif: 'host', ours: '[::]:5353', endpoint: '[::1]:53' },
      ],
    });
  });

  it('holds its capacity: 10 000 flows in, all found, all freed, none left behind', () => {
    const { t } = table(10_000);
    const peer = new Uint8Array(4);
    for (let k = 0; k < 10_000; k++) {
      const f = t.alloc(FlowType.Udp, UDP, 4, k);
      peer[0] = 203;
      peer[1] = 0;
      peer[2] = k >> 8;
      peer[3] = k & 0xff;
      t.setSide(f, INITIATOR, Pif.Host, IPV4, null, 0, 8000, peer, 0, 1000 + (k % 7));
      t.hash(f, INITIATOR);
    }
    expect(t.size).toBe(10_000);
    const any = new Uint8Array(4);
    for (let k = 0; k < 10_000; k++) {
      peer[2] = k >> 8;
      peer[3] = k & 0xff;
      const s = t.lookup(UDP, Pif.Host, IPV4, peer, 0, 1000 + (k % 7), any, 0, 8000);
      expect(s).toBeGreaterThanOrEqual(0);
      t.free(s >> 1);
    }
    expect(t.size).toBe(0);
    expect(t.alloc(FlowType.Udp, UDP, 4, 0)).toBeGreaterThanOrEqual(0);
  });

  it('rejects an unregistered type and bad sizes', () => {
    expect(() => new FlowTable({ capacity: 0 })).toThrow(/capacity/);
    const t = new FlowTable({ capacity: 4 });
    expect(() => t.alloc(FlowType.Tcp, 6, 4, 0)).toThrow(/not registered/);
  });
});
