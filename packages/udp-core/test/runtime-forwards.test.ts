import { describe, expect, it } from 'vitest';
import { PortForwards } from '../src/index.js';
import { guestFrame, ip, text } from './fakes.js';
import { GUEST4, REMOTE4, world } from './setup.js';

function pasta(over = {}) {
  return world({
    splice: true,
    inbound: PortForwards.from([{ start: 8000, end: 8000, toStart: 80 }]),
    outbound: PortForwards.from([{ start: 2222, end: 2222 }]),
    ...over,
  });
}

describe('forwards added at run time', () => {
  it('opens the same sockets as start() for an inbound port, both families, and delivers through them', () => {
    const w = pasta();
    expect(w.engine.addForward('inbound', 5000)).toEqual([]);
    expect(w.sockets.find('host', 4, 5000, '127.0.0.1')).toBeDefined();
    expect(w.sockets.find('host', 6, 5000, '::1')).toBeDefined();
    const frameSock = w.sockets.find('host', 4, 5000, GUEST4)!;
    expect(frameSock).toBeDefined();
    expect(w.engine.runtimeForwards('inbound')).toEqual([5000]);
    expect(w.engine.stats().permanentSockets).toBe(4); // 8000 and 5000, both families
    w.engine.noteGuestAddress(ip(GUEST4));
    w.sockets.deliver(frameSock, REMOTE4, 4444, 'hello');
    expect(w.sink.frames.map((f) => [f.dstPort, f.payload])).toEqual([[5000, 'hello']]);
    // Splice: host loopback -> namespace loopback on the same port.
    w.sockets.deliver(w.sockets.find('host', 4, 5000, '127.0.0.1')!, '127.0.0.1', 40001, 'lo');
    const flow = w.sockets.live().find((s) => s.spec.side === 'ns' && s.spec.connect)!;
    expect(flow.spec.connect!.port).toBe(5000);
    expect(text(flow.sent[0]!.data)).toBe('lo');
  });

  it('removes an inbound forward: closes its sockets and flows, and the port becomes an ordinary binding again', () => {
    const w = pasta();
    w.engine.addForward('inbound', 5000);
    w.sockets.deliver(w.sockets.find('host', 4, 5000, '127.0.0.1')!, '127.0.0.1', 40001, 'lo');
    const before = w.engine.stats().permanentSockets;
    expect(w.engine.removeForward('inbound', 5000)).toBe(true);
    expect(w.sockets.find('host', 4, 5000)).toBeUndefined();
    expect(w.sockets.find('host', 6, 5000)).toBeUndefined();
    expect(w.sockets.live().filter((s) => s.spec.connect)).toHaveLength(0);
    expect(w.engine.stats().permanentSockets).toBe(before - 2);
    expect(w.engine.runtimeForwards('inbound')).toEqual([]);
    expect(w.engine.removeForward('inbound', 5000)).toBe(false);
    // The guest sending from 5000 now opens an aged binding on the wildcard.
    w.fromGuest(guestFrame(GUEST4, 5000, REMOTE4, 53, 'q'));
    expect(w.sockets.find('host', 4, 5000, '*')).toBeDefined();
    expect(w.engine.stats().bindings).toBe(1);
  });

  it('replaces a dynamic binding on the port with the permanent forward socket', () => {
    const w = pasta();
    w.fromGuest(guestFrame(GUEST4, 5000, REMOTE4, 53, 'q'));
    expect(w.engine.stats().bindings).toBe(1);
    expect(w.engine.addForward('inbound', 5000)).toEqual([]);
    expect(w.engine.stats().bindings).toBe(0);
    expect(w.sockets.find('host', 4, 5000, '*')).toBeUndefined();
    w.fromGuest(guestFrame(GUEST4, 5000, REMOTE4, 53, 'r'));
    expect(w.sockets.find('host', 4, 5000, GUEST4)!.sent.map((d) => text(d.data))).toEqual(['r']);
  });

  it('opens and closes namespace loopback listeners for outbound ports', () => {
    const w = pasta();
    expect(w.engine.addForward('outbound', 53)).toEqual([]);
    const l = w.sockets.find('ns', 6, 53, '::1')!;
    expect(l).toBeDefined();
    w.sockets.deliver(l, '::1', 50000, 'ping');
    const flow = w.sockets.live().find((s) => s.spec.side === 'host' && s.spec.connect)!;
    expect(flow.spec.connect!.port).toBe(53);
    expect(w.engine.runtimeForwards('outbound')).toEqual([53]);
    expect(w.engine.removeForward('outbound', 53)).toBe(true);
    expect(w.sockets.find('ns', 4, 53)).toBeUndefined();
    expect(w.sockets.find('ns', 6, 53)).toBeUndefined();
    expect(flow.closed).toBe(true);
  });

  it('leaves configured forwards and their targets alone, and never removes them', () => {
    const w = pasta();
    const live = w.sockets.live().length;
    expect(w.engine.addForward('inbound', 8000)).toEqual([]);
    expect(w.engine.addForward('inbound', 80)).toEqual([]);
    expect(w.engine.addForward('outbound', 2222)).toEqual([]);
    expect(w.sockets.live().length).toBe(live);
    expect(w.engine.removeForward('inbound', 8000)).toBe(false);
    expect(w.engine.removeForward('outbound', 2222)).toBe(false);
    expect(w.sockets.find('host', 4, 8000, '127.0.0.1')).toBeDefined();
    expect(w.sockets.find('ns', 4, 2222, '127.0.0.1')).toBeDefined();
  });

  it('is idempotent, and limited to the families asked for and enabled', () => {
    const w = pasta({ ipv6: false });
    w.engine.addForward('outbound', 7000);
    w.engine.addForward('outbound', 7000);
    expect(w.sockets.live().filter((s) => s.localPort === 7000)).toHaveLength(1);
    expect(w.sockets.find('ns', 6, 7000)).toBeUndefined();
    const v = pasta();
    v.engine.addForward('inbound', 7001, [6]);
    expect(v.sockets.find('host', 4, 7001)).toBeUndefined();
    expect(v.sockets.find('host', 6, 7001, '::1')).toBeDefined();
  });

  it('reports ports it cannot bind, records nothing when nothing was bound, and tries again later', () => {
    const w = pasta();
    const failures = w.engine.addForward('outbound', 7000, [4]);
    expect(failures).toEqual([]);
    w.engine.removeForward('outbound', 7000);
    w.sockets.failOpens = ['EADDRINUSE'];
    expect(w.engine.addForward('outbound', 7000, [4])).toEqual([{ port: 7000, family: 4, side: 'ns', code: 'EADDRINUSE' }]);
    expect(w.engine.runtimeForwards('outbound')).toEqual([]);
    expect(w.logger.lines.some((l) => /cannot bind IPv4 loopback port 7000 \(ns\): EADDRINUSE/.test(l))).toBe(true);
    expect(w.engine.addForward('outbound', 7000, [4])).toEqual([]);
    expect(w.engine.runtimeForwards('outbound')).toEqual([7000]);
  });

  it('in passt mode, binds inbound ports on the wildcard and refuses outbound ones', () => {
    const w = world();
    w.engine.addForward('inbound', 6000);
    expect(w.sockets.find('host', 4, 6000, '*')).toBeDefined();
    expect(w.sockets.find('host', 6, 6000, '*')).toBeDefined();
    expect(() => w.engine.addForward('outbound', 6000)).toThrow(/splice/);
  });

  it('refuses bad ports, and calls before start or after stop', () => {
    const w = pasta();
    expect(() => w.engine.addForward('inbound', 0)).toThrow(RangeError);
    expect(() => w.engine.addForward('inbound', 65536)).toThrow(RangeError);
    w.engine.addForward('inbound', 5000);
    w.engine.stop();
    expect(w.sockets.live()).toHaveLength(0);
    expect(() => w.engine.addForward('inbound', 5000)).toThrow(/not running/);
  });
});
