/**
 * Theory of operation.
 *
 * Data from a host socket to the guest. The socket is the send buffer:
 * bytes stay queued in it until the guest acknowledges them, and are read
 * with MSG_PEEK, over the payload rooms of as many frames as the guest's
 * window allows, in one call. Where the kernel keeps a peek offset for
 * TCP (SO_PEEK_OFF), each peek continues where the last one stopped;
 * elsewhere the bytes already in flight are skipped through a scratch
 * area. Either way, what is in flight is `seqToTap - seqAckFromTap`, and
 * sending again after a loss is only moving seqToTap back.
 *
 * Readiness is edge-triggered: a socket whose queued bytes are all in
 * flight stays readable, but nothing can be done until new data arrives or
 * the guest acknowledges (which queues the connection for another read at
 * the end of the batch). The end of the peer's stream is a FIN to the
 * guest, once every byte before it has been sent; after that the socket is
 * no longer watched for reading.
 *
 * Socket events also finish a connect in progress: SO_ERROR says whether
 * the guest gets its SYN-ACK or a RST.
 */
import { TcpFlag } from '@x/l2';
import { Ev, Flag, Timer, TIMEOUTS } from './conn.js';
import { Ready } from './sockets.js';
import type { TcpState } from './state.js';

export class ToGuest {
  private readonly desc: Uint32Array;

  constructor(private readonly s: TcpState) {
    this.desc = new Uint32Array(2 * s.frames.slots);
    s.readFromSocket = (f) => this.read(f);
  }

  /** A readiness report for connection f's socket (tap connections). */
  event(f: number, ready: number): void {
    const s = this.s;
    const c = s.conns;
    const sock = c.sock[f] as number;
    if (sock < 0 || c.has(f, Ev.CLOSED)) return;
    if (c.has(f, Ev.TAP_SYN_RCVD) && !c.has(f, Ev.TAP_SYN_ACK_SENT)) {
      this.connected(f, sock);
      return;
    }
    if (ready & (Ready.ERROR | Ready.GONE)) {
      // A reset or another error: over. A hang-up without one is both ends
      // shut (ours after the guest's FIN, then the peer's): its data and
      // end of stream are still to be delivered.
      let e: string | null = null;
      try {
        e = s.d.sockets.error(sock);
      } catch {
        e = 'EBADF';
      }
      if (e !== null) {
        s.d.logger.debug(`tcp: flow ${f}: socket ${e}`);
        s.close(f, true, false);
        return;
      }
      if (ready & Ready.GONE) ready |= Ready.HANGUP;
    }
    s.d.flows.touch(f, s.d.clock.now());
    if (ready & Ready.HANGUP && !c.has(f, Ev.SOCK_FIN_RCVD)) {
      c.set(f, Ev.SOCK_FIN_RCVD);
      s.interest(f);
    }
    if (ready & (Ready.READABLE | Ready.HANGUP)) s.pend(f, Flag.READ_DUE);
    if (ready & Ready.WRITABLE && c.flag(f, Flag.WND_WATCH)) {
      // The peer took some: a window update (which watches again if it is still short).
      c.lower(f, Flag.WND_WATCH);
      s.interest(f);
      s.pend(f, Flag.ACK_DUE);
    }
    if (ready & Ready.WRITABLE && c.flag(f, Flag.SOCK_FULL)) {
      // Room again: a window update, and duplicates so that the guest sends at once what was refused.
      c.lower(f, Flag.SOCK_FULL);
      s.interest(f);
      s.pend(f, Flag.ACK_DUE);
      s.pend(f, Flag.DUP_ACK_DUE);
    }
  }

  /** The connect for the guest's SYN is over. */
  private connected(f: number, sock: number): void {
    const s = this.s;
    const c = s.conns;
    let e: string | null;
    try {
      e = s.d.sockets.error(sock);
    } catch {
      e = 'EBADF';
    }
    if (e !== null) {
      s.d.logger.debug(`tcp: flow ${f}: connect: ${e}`);
      s.counters.refused++;
      s.close(f, true, false);
      return;
    }
    c.set(f, Ev.TAP_SYN_ACK_SENT);
    s.sendFlags(f, TcpFlag.SYN | TcpFlag.ACK);
    s.arm(f, Timer.Handshake, TIMEOUTS.handshakeMs);
    s.interest(f);
  }

  /** Sends what the guest's window allows from f's socket, and the FIN after the last byte. */
  read(f: number): void {
    const s = this.s;
    const c = s.conns;
    if (!c.has(f, Ev.ESTABLISHED) || c.has(f, Ev.TAP_FIN_SENT)) return;
    const sock = c.sock[f] as number;
    const frames = s.frames;
    const mss = c.mss[f] as number;
    // Data frames carry the window too: fresh when an update is owed.
    if (c.flag(f, Flag.ACK_DUE)) s.window(f);
    let eof = false;
    for (;;) {
      const avail = c.guestWindow(f) - c.inFlight(f);
      if (avail <= 0) {
        c.raise(f, Flag.STALLED);
        if (c.guestWindow(f) === 0 && c.timer[f] !== Timer.Ack) s.arm(f, Timer.WindowProbe, TIMEOUTS.windowProbeMs);
        break;
      }
      if (avail < mss && c.inFlight(f) > 0) {
        // No runt segments while others are unacknowledged (sender-side
        // silly window avoidance): the guest's ACK brings a wider window.
        c.raise(f, Flag.STALLED);
        break;
      }
      c.lower(f, Flag.STALLED);
      if (frames.free === 0) s.finishFrames();
      const n = Math.min(frames.free, Math.ceil(avail / mss));
      const desc = this.desc;
      let want = 0;
      for (let i = 0; i < n; i++) {
        const len = Math.min(mss, avail - want);
        desc[2 * i] = frames.payloadAt(frames.count + i);
        desc[2 * i + 1] = len;
        want += len;
      }
      let got: number;
      try {
        got = s.d.sockets.peek(sock, frames.slab, desc, n, s.peekOffset ? 0 : c.inFlight(f));
      } catch (e) {
        s.d.logger.debug(`tcp: flow ${f}: recv: ${(e as { code?: string }).code ?? String(e)}`);
        s.close(f, true, false);
        return;
      }
      if (got === 0) {
        eof = true;
        break;
      }
      if (got < 0) {
        eof = c.has(f, Ev.SOCK_FIN_RCVD);
        break;
      }
      const fam = s.linkOf(f);
      let left = got;
      for (let i = 0; i < n && left > 0; i++) {
        const len = Math.min(desc[2 * i + 1] as number, left);
        left -= len;
        const seg = s.dataFields(f, c.seqToTap[f] as number, left === 0 ? TcpFlag.ACK | TcpFlag.PSH : TcpFlag.ACK);
        frames.push(f, fam, s.link, seg, len);
        c.advance(f, len);
      }
      s.counters.bytesToGuest += got;
      if (got < want) break;
    }
    if (eof) {
      c.set(f, Ev.SOCK_FIN_RCVD);
      s.sendFlags(f, TcpFlag.FIN | TcpFlag.ACK);
      c.advance(f, 1);
      c.set(f, Ev.TAP_FIN_SENT);
      c.lower(f, Flag.ACK_DUE);
      s.interest(f);
    } else if (c.flag(f, Flag.ACK_DUE) && c.seqAckToTap[f] === c.seqFromTap[f]) {
      // The data frames carried the acknowledgement.
      c.lower(f, Flag.ACK_DUE);
    }
    if (c.inFlight(f) > 0 || (c.has(f, Ev.TAP_FIN_SENT) && !c.has(f, Ev.TAP_FIN_ACKED))) {
      if (c.timer[f] !== Timer.Ack) s.arm(f, Timer.Ack, TIMEOUTS.ackMs);
    }
  }
}
