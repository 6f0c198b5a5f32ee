/**
 * Theory of operation.
 *
 * Each connection has one timer, re-armed for whatever it waits for next
 * (conn.ts: Timer), as a deadline in a typed array; one periodic tick
 * looks for the ones that passed. A stale expiry cannot happen: re-arming
 * overwrites the deadline, and disarming clears the kind.
 *
 * - Handshake: the connect or the guest's answer to our SYN did not come
 *   in time: RST to both.
 * - Ack: data (or our FIN) in flight was not acknowledged: send again from
 *   the last acknowledged byte, a few times, then give up with RSTs.
 * - WindowProbe: the guest's window is zero: a segment one byte behind,
 *   which the guest must answer with its current window (so a lost window
 *   update cannot freeze the connection).
 * Inactivity (two hours) is the flow table's aging, for every flow type.
 */
import { TcpFlag } from '@x/l2';
import { Ev, Flag, Timer, TIMEOUTS } from './conn.js';
import type { TcpState } from './state.js';

export const TICK_MS = 250;

export function tick(s: TcpState, now: number): void {
  const c = s.conns;
  const timer = c.timer;
  let any = false;
  for (let f = 0; f < timer.length; f++) {
    const kind = timer[f] as Timer;
    if (kind === Timer.None || (c.deadline[f] as number) > now) continue;
    c.timer[f] = Timer.None;
    if ((c.sock[f] as number) < 0 || c.has(f, Ev.CLOSED)) continue;
    any = true;
    switch (kind) {
      case Timer.Handshake:
        s.counters.timeouts++;
        s.d.logger.debug(`tcp: flow ${f}: handshake timed out`);
        s.close(f, true, true);
        break;
      case Timer.Ack: {
        if (c.inFlight(f) === 0 && !(c.has(f, Ev.TAP_FIN_SENT) && !c.has(f, Ev.TAP_FIN_ACKED))) break;
        const r = (c.retries[f] as number) + 1;
        if (r > TIMEOUTS.maxRetries) {
          s.counters.timeouts++;
          s.d.logger.debug(`tcp: flow ${f}: no acknowledgement from the guest, resetting`);
          s.close(f, true, true);
          break;
        }
        c.retries[f] = r;
        s.rewindTo(f, c.seqAckFromTap[f] as number);
        s.arm(f, Timer.Ack, TIMEOUTS.ackMs * 2 ** (r - 1));
        break;
      }
      case Timer.WindowProbe:
        if (c.guestWindow(f) === 0) {
          c.seqToTap[f] = ((c.seqToTap[f] as number) - 1) >>> 0;
          s.sendFlags(f, TcpFlag.ACK);
          c.seqToTap[f] = ((c.seqToTap[f] as number) + 1) >>> 0;
          s.arm(f, Timer.WindowProbe, TIMEOUTS.windowProbeMs);
        } else {
          s.pend(f, Flag.READ_DUE);
        }
        break;
      default:
        break;
    }
  }
  if (any) s.finish();
}
