import { describe, expect, it } from 'vitest';
import { PortForwards } from '../src/index.js';
import { text } from './fakes.js';
import { GUEST4, world } from './setup.js';

function pasta(over = {}) {
  return world({
    splice: true,
    inbound: PortForwards.from([{ start: 5353, end: 5353 }, { start: 8000, end: 8000, toStart: 80 }]),
    outbound: PortForwards.from([{ start: 2222, end: 2222, toStart: 22 }]),
    ...over,
  });
}

describe('splice (pasta)', () => {
  it('binds loopback listeners on the host for -u and in the namespace for -U; frame sockets take the host address', () => {
    const w = pasta();
    expect(w.failures).toEqual([]);
    expect(w.sockets.find('host', 4, 5353, '127.0.0.1')).toBeDefined();
    expect(w.sockets.find('host', 6, 5353, '::1')).toBeDefined();
    expect(w.sockets.find('host', 4, 5353, GUEST4)).toBeDefined();
    expect(w.sockets.find('ns', 4, 2222, '127.0.0.1')).toBeDefined();
    expect(w.sockets.find('ns', 6, 2222, '::1')).toBeDefined();
  });

  for (const [fam, lo] of [
    [4, '127.0.0.1'],
    [6, '::1'],
  ] as const) {
    it(`relays host -> namespace and back over IPv${fam}, with remap, in one send per batch`, () => {
      const w = pasta();
      const listener = w.sockets.find('host', fam, 8000, lo)!;
      const before = w.sockets.sendCalls;
      w.sockets.deliver(listener, lo, 40001, 'one', 'two', 'three');
      const flow = w.sockets.live().find((s) => s.spec.side === 'ns' && s.spec.connect)!;
      expect(flow.spec.connect!.port).toBe(80);
      expect([...flow.spec.connect!.address]).toEqual([...flow.spec.address!]);
      expect(flow.sent.map((d) => text(d.data))).toEqual(['one', 'two', 'three']);
      expect(w.sockets.sendCalls - before).toBe(1);
      // The namespace server answers on the connected socket.
      w.sockets.deliver(flow, lo, 80, 'reply');
      expect(listener.sent.map((d) => [text(d.data), d.addr, d.port])).toEqual([['reply', lo, 40001]]);
      expect(w.engine.counters.spliceToNs).toMatchObject({ datagrams: 3, bytes: 11 });
      expect(w.engine.counters.spliceToHost).toMatchObject({ datagrams: 1, bytes: 5 });
      expect(w.sink.frames).toHaveLength(0);
      // The same peer port reuses its flow.
      w.sockets.deliver(listener, lo, 40001, 'four');
      expect(w.sockets.live().filter((s) => s.spec.connect)).toHaveLength(1);
      expect(flow.sent).toHaveLength(4);
    });

    it(`relays namespace -> host and back over IPv${fam}`, () => {
      const w = pasta();
      const listener = w.sockets.find('ns', fam, 2222, lo)!;
      w.sockets.deliver(listener, lo, 50000, 'ping');
      const flow = w.sockets.live().find((s) => s.spec.side === 'host' && s.spec.connect)!;
      expect(flow.spec.connect!.port).toBe(22);
      expect(text(flow.sent[0]!.data)).toBe('ping');
      w.sockets.deliver(flow, lo, 22, 'pong');
      expect(listener.sent[0]).toMatchObject({ addr: lo, port: 50000 });
      expect(w.engine.counters.spliceToHost.datagrams).toBe(1);
      expect(w.engine.counters.spliceToNs.datagrams).toBe(1);
    });
  }

  it('gives one peer port talking to two forwarded ports two separate flows', () => {
    const w = pasta();
    w.sockets.deliver(w.sockets.find('host', 4, 5353, '127.0.0.1')!, '127.0.0.1', 40001, 'a');
    w.sockets.deliver(w.sockets.find('host', 4, 8000, '127.0.0.1')!, '127.0.0.1', 40001, 'b');
    const flows = w.sockets.live().filter((s) => s.spec.connect);
    expect(flows.map((f) => [f.spec.connect!.port, text(f.sent[0]!.data)])).toEqual([
      [5353, 'a'],
      [80, 'b'],
    ]);
  });

  it('splits a batch from several peers into per-peer runs, in order', () => {
    const w = pasta();
    const l = w.sockets.find('host', 4, 5353, '127.0.0.1')!;
    l.inbox.push(
      { data: new TextEncoder().encode('a1'), family: 4, addr: '127.0.0.1', port: 1, scopeId: 0 },
      { data: new TextEncoder().encode('a2'), family: 4, addr: '127.0.0.1', port: 1, scopeId: 0 },
      { data: new TextEncoder().encode('b1'), family: 4, addr: '127.0.0.1', port: 2, scopeId: 0 },
      { data: new TextEncoder().encode('a3'), family: 4, addr: '127.0.0.1', port: 1, scopeId: 0 },
    );
    l.onReadable!();
    const flows = w.sockets.live().filter((s) => s.spec.connect);
    expect(flows.map((f) => f.sent.map((d) => text(d.data)))).toEqual([['a1', 'a2', 'a3'], ['b1']]);
  });

  it('reads 32 datagrams first, then up to 128 per call while they are small, one send per read', () => {
    const w = pasta();
    const l = w.sockets.find('host', 4, 5353, '127.0.0.1')!;
    const before = w.sockets.sendCalls;
    w.sockets.recvAsked = [];
    w.sockets.deliver(l, '127.0.0.1', 1, ...Array.from({ length: 32 + 128 + 5 }, (_, i) => `m${i}`));
    expect(w.sockets.recvAsked).toEqual([32, 128, 128]);
    expect(w.sockets.sendCalls - before).toBe(3);
    expect(w.engine.counters.spliceToNs.datagrams).toBe(165);
  });

  it('reads large datagrams 32 at a time, so a flood of them touches a quarter of the slab', () => {
    const w = pasta();
    const l = w.sockets.find('host', 4, 5353, '127.0.0.1')!;
    const big = new Uint8Array(65000);
    w.sockets.recvAsked = [];
    // Small ones first, then large ones within the same wake-up: the read after the first large one asks for 32 again.
    w.sockets.deliver(l, '127.0.0.1', 1, ...Array.from({ length: 32 }, () => 's'), ...Array.from({ length: 200 }, () => big));
    expect(w.sockets.recvAsked.slice(0, 3)).toEqual([32, 128, 32]);
    expect(w.sockets.recvAsked.slice(2).every((m) => m === 32)).toBe(true);
    expect(w.engine.counters.spliceToNs.datagrams).toBe(232);
    // Replies on the flow's socket follow the same rule.
    const flow = w.sockets.live().find((s) => s.spec.side === 'ns' && s.spec.connect)!;
    w.sockets.recvAsked = [];
    w.sockets.deliver(flow, '127.0.0.1', 5353, ...Array.from({ length: 40 }, () => big));
    expect(w.sockets.recvAsked).toEqual([32, 32]);
    expect(w.engine.counters.spliceToHost.datagrams).toBe(40);
  });

  it('ages idle flows out after 180 s', () => {
    const w = pasta();
    w.sockets.deliver(w.sockets.find('host', 4, 5353, '127.0.0.1')!, '127.0.0.1', 40001, 'a');
    const flow = w.sockets.live().find((s) => s.spec.connect)!;
    w.clock.advance(100_000);
    w.sockets.deliver(flow, '127.0.0.1', 5353, 'reply keeps it alive');
    w.clock.advance(100_000);
    expect(flow.closed).toBe(false);
    w.clock.advance(81_000);
    expect(flow.closed).toBe(true);
    expect(w.engine.stats().spliceFlows).toBe(0);
    expect(w.engine.counters.events.spliceFlowsAged).toBe(1);
  });

  it('evicts the least recently used flow at the cap, with a log line', () => {
    const w = pasta({ maxSpliceFlows: 2 });
    const l = w.sockets.find('host', 4, 5353, '127.0.0.1')!;
    w.sockets.deliver(l, '127.0.0.1', 1, 'a');
    w.clock.advance(2000);
    w.sockets.deliver(l, '127.0.0.1', 2, 'b');
    w.sockets.deliver(l, '127.0.0.1', 3, 'c');
    const flows = w.sockets.all.filter((s) => s.spec.connect);
    expect(flows.map((f) => f.closed)).toEqual([true, false, false]);
    expect(w.logger.lines.filter((x) => x.startsWith('warn:'))).toEqual([
      'warn: udp splice: 2 flows reached, closed the least recently used (IPv4 1 -> 5353, idle 2 s)',
    ]);
    // A reply for the evicted flow's peer now needs a new flow.
    w.sockets.deliver(l, '127.0.0.1', 1, 'a again');
    expect(w.sockets.live().filter((s) => s.spec.connect)).toHaveLength(2);
    expect(w.engine.counters.events.spliceFlowsEvicted).toBe(2);
  });

  it('counts a flow that cannot be opened as noBinding', () => {
    const w = pasta();
    w.sockets.failOpens.push('EMFILE');
    w.sockets.deliver(w.sockets.find('host', 4, 5353, '127.0.0.1')!, '127.0.0.1', 1, 'a', 'b');
    expect(w.engine.counters.spliceToNs.noBinding).toBe(2);
  });

  it('refuses -U forwards without splice mode', () => {
    expect(() => world({ outbound: PortForwards.from([{ start: 1, end: 1 }]) })).toThrow(/splice/);
  });
});
