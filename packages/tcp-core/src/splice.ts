/**
 * Theory of operation.
 *
 * A connection between the two loopbacks (pasta only) never becomes
 * frames: the accepted socket is joined to a second one, connected on the
 * other side (the namespace's loopback for -t, the host's for -T), and
 * bytes move socket -> pipe -> socket with splice(2), inside the kernel.
 * Each direction has its own pipe, raised to PIPE_SIZE with F_SETPIPE_SZ
 * so that one call moves a lot; the bytes sitting in a pipe are counted,
 * because a socket that takes only part of them leaves the rest there.
 *
 * Both sockets are watched edge-triggered for everything; any event on
 * either runs both directions until each would block, which is all the
 * bookkeeping readiness needs: a direction stalled on a full receiver
 * resumes with the receiver's writable edge, and the reader's data waits
 * in its socket meanwhile. The end of one side's stream, once its pipe is
 * drained, becomes shutdown(SHUT_WR) on the other (half-close is carried,
 * and either side may keep sending); an error or a reset on one side
 * resets the other. When both directions are over, everything is closed
 * and the flow freed. A connect still in progress needs no state of its
 * own: writing into it would block until it is done (its writable edge
 * then resumes the run), and a refused one fails the next splice.
 */
import { FlowType, INITIATOR, Pif, TARGET, errorCode, type AddressFamily, type Side } from '@x/flow';
import { IpProtocol } from '@x/l2';
import { Ready, type AcceptedPeer, type TcpHandle } from './sockets.js';
import type { TcpState } from './state.js';
import { TIMEOUTS } from './conn.js';

/** Each direction's pipe. */
export const PIPE_SIZE = 1 << 20;
const CHUNK = PIPE_SIZE;

const St = {
  /** Direction a -> b (index 0) and b -> a (index 1): end of input seen, end carried. */
  EOF_A: 2,
  EOF_B: 4,
  SHUT_B: 8,
  SHUT_A: 16,
} as const;

export class Splice {
  /** Per flow: the two sockets (a accepted, b connected), the pipes, bytes in each pipe, state. */
  private readonly a: Int32Array;
  private readonly b: Int32Array;
  /** Pipe fds: [4f] a->b read, [4f+1] a->b write, [4f+2] b->a read, [4f+3] b->a write. */
  private readonly pipes: Int32Array;
  private readonly queued: Float64Array;
  private readonly st: Uint8Array;
  private readonly pair = new Int32Array(2);
  private readonly loop = new Uint8Array(16);

  constructor(private readonly s: TcpState) {
    const n = s.d.flows.capacity;
    this.a = new Int32Array(n).fill(-1);
    this.b = new Int32Array(n).fill(-1);
    this.pipes = new Int32Array(4 * n).fill(-1);
    this.queued = new Float64Array(2 * n);
    this.st = new Uint8Array(n);
    s.d.flows.register(FlowType.TcpSplice, {
      idleMs: TIMEOUTS.idleMs,
      release: (f) => {
        this.s.counters.flowsEvicted++;
        this.end(f, true);
      },
    });
  }

  /** Live spliced connections. */
  get count(): number {
    return this.s.d.flows.countOf(FlowType.TcpSplice);
  }

  /**
   * Joins accepted socket `h` (its peer in `peer`, accepted on `port`) to
   * a new socket on `to`'s loopback at `target`.
   */
  start(fam: AddressFamily, h: TcpHandle, peer: AcceptedPeer, port: number, to: Side, target: number): void {
    const s = this.s;
    const d = s.d;
    const sk = d.sockets;
    const now = d.clock.now();
    const f = d.flows.alloc(FlowType.TcpSplice, IpProtocol.Tcp, fam.family, now);
    if (f < 0) {
      s.counters.capReached++;
      sk.close(h);
      return;
    }
    const from: Side = to === 'ns' ? 'host' : 'ns';
    // Into the namespace, the connection lands on its own address unless
    // told to keep to loopback (see TcpOptions.spliceTarget4); toward the
    // host it always goes to the host's loopback.
    const into = to === 'ns' ? (fam.family === 4 ? s.o.spliceTarget4 : s.o.spliceTarget6) : undefined;
    this.loop.set(into ?? fam.loopback);
    d.flows.setSide(f, INITIATOR, from === 'host' ? Pif.Host : Pif.Splice, fam, null, 0, port, peer.addr, 0, peer.port);
    d.flows.setSide(f, TARGET, to === 'host' ? Pif.Host : Pif.Splice, fam, null, 0, 0, this.loop, 0, target);
    this.a[f] = h;
    this.st[f] = 0;
    // A live connection: a flood of new flows must not evict it.
    d.flows.pin(f, true);
    this.queued[2 * f] = 0;
    this.queued[2 * f + 1] = 0;
    let b: TcpHandle;
    try {
      b = sk.open(fam.family, to);
      this.b[f] = b;
      for (let k = 0; k < 2; k++) {
        sk.pipe(PIPE_SIZE, this.pair);
        this.pipes[4 * f + 2 * k] = this.pair[0] as number;
        this.pipes[4 * f + 2 * k + 1] = this.pair[1] as number;
      }
      sk.setNoDelay(h);
      sk.setNoDelay(b);
      sk.connect(b, fam.family, this.loop, 0, target, 0);
      const events = Ready.READABLE | Ready.WRITABLE | Ready.HANGUP | Ready.EDGE;
      sk.watch(h, events, () => this.run(f));
      sk.watch(b, events, () => this.run(f));
    } catch (e) {
      d.logger.debug(`tcp: splice to port ${target}: ${errorCode(e)}`);
      this.end(f, true);
      return;
    }
    s.counters.spliced++;
    this.run(f);
  }

  /** Moves what can be moved both ways, and ends what is over. */
  private run(f: number): void {
    const sk = this.s.d.sockets;
    const a = this.a[f] as number;
    const b = this.b[f] as number;
    if (a < 0 || b < 0) return;
    this.s.d.flows.touch(f, this.s.d.clock.now());
    try {
      this.move(f, 0, a, b);
      this.move(f, 1, b, a);
    } catch (e) {
      this.s.d.logger.debug(`tcp: splice flow ${f}: ${errorCode(e)}`);
      this.end(f, true);
      return;
    }
    const st = this.st[f] as number;
    if (st & St.SHUT_A && st & St.SHUT_B) this.end(f, false);
  }

  /** One direction: `from` -> pipe -> `to`. */
  private move(f: number, dir: 0 | 1, from: TcpHandle, to: TcpHandle): void {
    const sk = this.s.d.sockets;
    const pr = this.pipes[4 * f + 2 * dir] as number;
    const pw = this.pipes[4 * f + 2 * dir + 1] as number;
    const eof = dir === 0 ? St.EOF_A : St.EOF_B;
    const shut = dir === 0 ? St.SHUT_B : St.SHUT_A;
    const q = 2 * f + dir;
    for (;;) {
      let progress = false;
      if (!((this.st[f] as number) & eof) && (this.queued[q] as number) < PIPE_SIZE) {
        const n = sk.splice(from, pw, CHUNK, true);
        if (n > 0) {
          this.queued[q] = (this.queued[q] as number) + n;
          progress = true;
        } else if (n === 0) {
          this.st[f] = (this.st[f] as number) | eof;
        }
      }
      if ((this.queued[q] as number) > 0) {
        const n = sk.splice(pr, to, this.queued[q] as number, false);
        if (n > 0) {
          this.queued[q] = (this.queued[q] as number) - n;
          progress = true;
        }
      }
      if (!progress) break;
    }
    const st = this.st[f] as number;
    if (st & eof && !(st & shut) && this.queued[q] === 0) {
      sk.shutdownWrite(to);
      this.st[f] = st | shut;
    }
  }

  /** Closes both sockets and the pipes; `reset` sends RSTs to both peers. */
  private end(f: number, reset: boolean): void {
    const sk = this.s.d.sockets;
    for (const h of [this.a[f] as number, this.b[f] as number]) {
      if (h < 0) continue;
      sk.unwatch(h);
      if (reset) {
        try {
          sk.resetOnClose(h);
        } catch {
          /* closing anyway */
        }
      }
      sk.close(h);
    }
    for (let k = 0; k < 4; k++) {
      const p = this.pipes[4 * f + k] as number;
      if (p >= 0) sk.close(p);
      this.pipes[4 * f + k] = -1;
    }
    this.a[f] = -1;
    this.b[f] = -1;
    this.st[f] = 0;
    this.s.counters.closed++;
    if (this.s.d.flows.typeOf(f) === FlowType.TcpSplice) this.s.d.flows.free(f);
  }

  stop(): void {
    for (let f = 0; f < this.a.length; f++) if ((this.a[f] as number) >= 0) this.end(f, true);
  }
}
