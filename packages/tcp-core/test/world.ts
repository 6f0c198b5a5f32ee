// The setting every tcp-core test shares: a TcpEngine over the fake socket
// layer, a fake clock and a capturing sink, with the real FlowTable and
// AddressMap from @x/flow, and a guest-side connection helper that keeps
// the guest's sequence numbers so that tests read as the exchange itself.
import { AddressMap, FlowTable, PortForwards } from '@x/flow';
import { FrameClass, FrameHeaders, IsnGenerator, parseFrameHeaders } from '@x/l2';
import { TcpEngine } from '../src/index.js';
import { FakeClock, FakeSockets, quietLogger, type ConnectMode, type FakeSocket } from './fake-sockets.js';
import { ACK, CapturingSink, GUEST_MAC, OUR_MAC, SYN, batchOf, ip, segment, type Out, type Seg } from './frames.js';

/** Addresses per family: the guest, its gateway (the host's loopback), a remote host, a remote peer for -t. */
export interface Fam {
  family: 4 | 6;
  guest: string;
  gateway: string;
  loopback: string;
  unspecified: string;
  remote: string;
  peer: string;
}

export const FAMS: readonly Fam[] = [
  { family: 4, guest: '198.51.100.2', gateway: '198.51.100.1', loopback: '127.0.0.1', unspecified: '0.0.0.0', remote: '203.0.113.7', peer: '203.0.113.9' },
  { family: 6, guest: '2001:db8::2', gateway: 'fe80::1', loopback: '::1', unspecified: '::', remote: '2001:db8:1::7', peer: '2001:db8:1::9' },
];

export const ISN_SECRET = new Uint8Array(16).fill(7);
/** The guest's MSS in our tests: round numbers. */
export const GUEST_MSS = 1000;

export interface WorldOptions {
  peekOffset?: boolean;
  inbound?: PortForwards;
  mtu?: number;
}

export function world(o: WorldOptions = {}) {
  const sockets = new FakeSockets(o.peekOffset ?? true);
  const clock = new FakeClock();
  const sink = new CapturingSink();
  const flows = new FlowTable({ capacity: 64, logger: quietLogger, seed: 1 });
  const nat = new AddressMap(
    { gateway4: ip(FAMS[0]!.gateway), gateway6: ip(FAMS[1]!.gateway), guestAddress4: ip(FAMS[0]!.guest), guestAddress6: ip(FAMS[1]!.guest) },
    180_000,
  );
  const isn = new IsnGenerator(ISN_SECRET);
  const engine = new TcpEngine(
    {
      enabled: true,
      ourMac: OUR_MAC,
      ipv4: true,
      ipv6: true,
      mtu: o.mtu ?? 1500,
      inbound: o.inbound ?? PortForwards.none(),
      outbound: PortForwards.none(),
      splice: false,
    },
    { sockets, sink, clock, logger: quietLogger, flows, nat, isn },
  );
  engine.setGuestMac(GUEST_MAC);
  const failures = engine.start();
  const h = new FrameHeaders();

  /** One batch of guest frames: each parsed and handed to the engine, then flushGuest. */
  const send = (...frames: Uint8Array[]): void => {
    const b = batchOf(frames);
    for (let i = 0; i < frames.length; i++) {
      const cls = parseFrameHeaders(b.slab, b.offsets[i] as number, b.lengths[i] as number, h);
      if (cls !== FrameClass.Ip) throw new Error(`test frame does not parse: ${h.detail}`);
      engine.fromGuest(b.slab, h);
    }
    engine.flushGuest();
  };
  /** Time passes; then the timers run, as a test with a fake clock does. */
  const wait = (ms: number): void => {
    clock.advance(ms);
    engine.tick();
  };
  return { sockets, clock, sink, flows, nat, isn, engine, failures, send, wait };
}

export type World = ReturnType<typeof world>;

/** The guest's side of one connection: its next sequence number and what it acknowledges. */
export class Guest {
  seq: number;
  ack = 0;
  window = 1024;
  sock!: FakeSocket;
  /** Our ISN as the SYN-ACK (or SYN) carried it. */
  ourIsn = 0;

  constructor(
    readonly w: World,
    readonly fam: Fam,
    readonly dst: string,
    readonly dport: number,
    readonly sport: number,
    isn = 0x1000_0000,
  ) {
    this.seq = isn;
  }

  /** A segment from the guest on this connection, with its numbers unless overridden. */
  seg(flags: number, over: Partial<Seg> = {}): Uint8Array {
    return segment({
      src: this.fam.guest,
      dst: this.dst,
      sport: this.sport,
      dport: this.dport,
      seq: this.seq,
      ack: this.ack,
      flags,
      window: this.window,
      ...over,
    });
  }

  /** Sends payload in order, one segment per piece, in one batch; the guest's seq advances. */
  data(...pieces: Uint8Array[]): void {
    const frames: Uint8Array[] = [];
    for (const p of pieces) {
      frames.push(this.seg(ACK, { payload: p }));
      this.seq = (this.seq + p.length) >>> 0;
    }
    this.w.send(...frames);
  }

  /** Acknowledges up to `ack` (default: everything received so far) with the current window. */
  ackTo(ack: number = this.ack, window = this.window): void {
    this.ack = ack >>> 0;
    this.window = window;
    this.w.send(this.seg(ACK));
  }
}

/**
 * An outbound connection, up to ESTABLISHED: the guest's SYN (MSS 1000,
 * window scale 7 unless `ws`), the connect (`mode`), our SYN-ACK, the guest's ACK.
 */
export function established(w: World, fam: Fam, opts: { mode?: ConnectMode; window?: number; ws?: number; dst?: string; dport?: number; sport?: number } = {}): Guest {
  const g = new Guest(w, fam, opts.dst ?? fam.remote, opts.dport ?? 80, opts.sport ?? 40000);
  w.sockets.connects.push(opts.mode ?? 'now');
  w.send(g.seg(SYN, { mss: GUEST_MSS, ws: opts.ws ?? 7, window: 64240 }));
  g.seq = (g.seq + 1) >>> 0;
  g.sock = w.sockets.last();
  const synAck = w.sink.take();
  const sa = synAck[0] as Out;
  if (synAck.length !== 1 || sa.flags !== (SYN | ACK)) throw new Error('no SYN-ACK');
  g.ourIsn = sa.seq;
  g.ack = (sa.seq + 1) >>> 0;
  g.window = opts.window ?? 1024;
  w.send(g.seg(ACK));
  w.sink.take();
  return g;
}
