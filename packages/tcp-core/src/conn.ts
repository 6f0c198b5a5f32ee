/**
 * Theory of operation.
 *
 * The state of every translated connection, indexed by its flow number in
 * the shared flow table, as parallel typed arrays sized once for the
 * table's capacity: nothing is allocated per connection or per segment.
 *
 * A connection is described by events that happened, not by a textbook
 * state: each bit below is set once and never cleared, and what to do
 * next follows from the set (a FIN goes to the guest when the socket's
 * end was seen and every byte before it was sent; the connection is over
 * when both directions are closed and acknowledged). The textbook name is
 * derived for logs only (`stateName`). Beside the events, a few flags come
 * and go: stalled on the guest's window, waiting for the socket to take
 * more, an ACK owed to the guest.
 *
 * Sequence numbers, all modulo 2^32:
 *   seqToTap       next byte we send to the guest
 *   seqAckFromTap  what the guest acknowledged (bytes before it are
 *                  dropped from the socket)
 *   seqFromTap     next byte expected from the guest (everything before
 *                  it was written to the socket)
 *   seqAckToTap    what we last acknowledged to the guest
 * The bytes in flight toward the guest, seqToTap - seqAckFromTap, are
 * still queued in the socket: a retransmission peeks them again.
 */
export const Ev = {
  /** Inbound: accepted on a listener, SYN sent to the guest. */
  SOCK_ACCEPTED: 1 << 0,
  /** Outbound: the guest's SYN, our connect in progress. */
  TAP_SYN_RCVD: 1 << 1,
  /** Handshake done on both sides. */
  ESTABLISHED: 1 << 2,
  /** Outbound: SYN-ACK sent to the guest (connect succeeded). */
  TAP_SYN_ACK_SENT: 1 << 3,
  /** The socket's peer ended its stream. */
  SOCK_FIN_RCVD: 1 << 4,
  /** The guest's FIN carried to the socket (shutdown). */
  SOCK_FIN_SENT: 1 << 5,
  /** The guest sent its FIN. */
  TAP_FIN_RCVD: 1 << 6,
  /** Our FIN is out to the guest. */
  TAP_FIN_SENT: 1 << 7,
  /** The guest acknowledged our FIN. */
  TAP_FIN_ACKED: 1 << 8,
  /** Over: resources being released. */
  CLOSED: 1 << 9,
} as const;

export const Flag = {
  /** The guest's window is full: the socket is not read until it opens. */
  STALLED: 1 << 0,
  /** The socket took less than the guest sent: wait for it to be writable. */
  SOCK_FULL: 1 << 1,
  /** An ACK (window update) is owed to the guest at the end of the batch. */
  ACK_DUE: 1 << 3,
  /** A duplicate ACK owed too: the guest should retransmit what the socket refused. */
  DUP_ACK_DUE: 1 << 4,
  /** Queued on the end-of-batch list. */
  PENDING: 1 << 5,
  /** Socket data may be waiting for the guest (read at the end of the batch). */
  READ_DUE: 1 << 6,
  /** The window offered is short: watched for the peer's progress (state.ts, windowTick). */
  WND_WATCH: 1 << 7,
} as const;

/** What the connection's one timer is waiting for. */
export const Timer = { None: 0, Handshake: 1, Ack: 2, WindowProbe: 3 } as const;
export type Timer = (typeof Timer)[keyof typeof Timer];

export const TIMEOUTS = {
  handshakeMs: 10_000,
  ackMs: 2_000,
  /** Retransmissions after an acknowledgement timeout before the connection is reset. */
  maxRetries: 3,
  /** Inactivity: the flow table ages a connection out after this long without a segment or an event. */
  idleMs: 2 * 60 * 60 * 1000,
  /** How soon to look again at a zero window. */
  windowProbeMs: 1_000,
};

/** The connection table: one entry per flow slot. */
export class Conns {
  readonly sock: Int32Array;
  readonly ev: Uint16Array;
  readonly flags: Uint8Array;
  /** The flow side that faces the guest (INITIATOR outbound, TARGET inbound). */
  readonly tapSide: Uint8Array;
  readonly seqToTap: Uint32Array;
  readonly seqAckFromTap: Uint32Array;
  readonly seqFromTap: Uint32Array;
  readonly seqAckToTap: Uint32Array;
  readonly seqInitToTap: Uint32Array;
  /** The highest seqToTap ever sent (a rewind lowers seqToTap, not this). */
  readonly seqHighToTap: Uint32Array;
  /** The guest's window (unscaled, as in its last segment) and its shift. */
  readonly wndFromTap: Uint16Array;
  readonly wsFromTap: Uint8Array;
  /** The shift we announced; 0 when the guest offered none. */
  readonly wsToTap: Uint8Array;
  /** The window we last advertised, in bytes. */
  readonly wndToTap: Float64Array;
  /** The socket's send buffer when the window was last computed. */
  readonly sndBuf: Float64Array;
  /** Largest payload per frame toward the guest. */
  readonly mss: Uint16Array;
  readonly dupAcks: Uint8Array;
  readonly retries: Uint8Array;
  readonly timer: Uint8Array;
  readonly deadline: Float64Array;
  /** Events watched on the socket now. */
  readonly interest: Uint8Array;

  constructor(readonly capacity: number) {
    this.sock = new Int32Array(capacity).fill(-1);
    this.ev = new Uint16Array(capacity);
    this.flags = new Uint8Array(capacity);
    this.tapSide = new Uint8Array(capacity);
    this.seqToTap = new Uint32Array(capacity);
    this.seqAckFromTap = new Uint32Array(capacity);
    this.seqFromTap = new Uint32Array(capacity);
    this.seqAckToTap = new Uint32Array(capacity);
    this.seqInitToTap = new Uint32Array(capacity);
    this.seqHighToTap = new Uint32Array(capacity);
    this.wndFromTap = new Uint16Array(capacity);
    this.wsFromTap = new Uint8Array(capacity);
    this.wsToTap = new Uint8Array(capacity);
    this.wndToTap = new Float64Array(capacity);
    this.sndBuf = new Float64Array(capacity);
    this.mss = new Uint16Array(capacity);
    this.dupAcks = new Uint8Array(capacity);
    this.retries = new Uint8Array(capacity);
    this.timer = new Uint8Array(capacity);
    this.deadline = new Float64Array(capacity);
    this.interest = new Uint8Array(capacity);
  }

  /** Back to an unused entry. */
  reset(f: number): void {
    this.sock[f] = -1;
    this.ev[f] = 0;
    this.flags[f] = 0;
    this.seqToTap[f] = 0;
    this.seqAckFromTap[f] = 0;
    this.seqFromTap[f] = 0;
    this.seqAckToTap[f] = 0;
    this.seqInitToTap[f] = 0;
    this.seqHighToTap[f] = 0;
    this.wndFromTap[f] = 0;
    this.wsFromTap[f] = 0;
    this.wsToTap[f] = 0;
    this.wndToTap[f] = 0;
    this.sndBuf[f] = 0;
    this.mss[f] = 0;
    this.dupAcks[f] = 0;
    this.retries[f] = 0;
    this.timer[f] = Timer.None;
    this.deadline[f] = 0;
    this.interest[f] = 0;
  }

  has(f: number, e: number): boolean {
    return ((this.ev[f] as number) & e) !== 0;
  }

  set(f: number, e: number): void {
    this.ev[f] = (this.ev[f] as number) | e;
  }

  flag(f: number, x: number): boolean {
    return ((this.flags[f] as number) & x) !== 0;
  }

  raise(f: number, x: number): void {
    this.flags[f] = (this.flags[f] as number) | x;
  }

  lower(f: number, x: number): void {
    this.flags[f] = (this.flags[f] as number) & ~x;
  }

  /** The guest's window in bytes. */
  guestWindow(f: number): number {
    return (this.wndFromTap[f] as number) * 2 ** (this.wsFromTap[f] as number);
  }

  /** Data bytes sent to the guest and not acknowledged (our FIN not counted). */
  inFlight(f: number): number {
    const d = ((this.seqToTap[f] as number) - (this.seqAckFromTap[f] as number)) >>> 0;
    return this.has(f, Ev.TAP_FIN_SENT) && !this.has(f, Ev.TAP_FIN_ACKED) && d > 0 ? d - 1 : d;
  }

  /** Moves seqToTap forward by n, and the high-water mark with it. */
  advance(f: number, n: number): void {
    const next = ((this.seqToTap[f] as number) + n) >>> 0;
    this.seqToTap[f] = next;
    if (((next - (this.seqHighToTap[f] as number)) | 0) > 0) this.seqHighToTap[f] = next;
  }
}

/** The textbook state, for logs and the flow listing. */
export function stateName(ev: number): string {
  if (ev & Ev.CLOSED) return 'CLOSED';
  if (!(ev & Ev.ESTABLISHED)) return ev & Ev.SOCK_ACCEPTED ? 'SYN_SENT' : ev & Ev.TAP_SYN_ACK_SENT ? 'SYN_RCVD' : 'CONNECTING';
  const theirs = (ev & Ev.TAP_FIN_RCVD) !== 0;
  const ours = (ev & Ev.TAP_FIN_SENT) !== 0;
  if (theirs && ours) return ev & Ev.TAP_FIN_ACKED ? 'TIME_WAIT' : 'CLOSING';
  if (theirs) return 'CLOSE_WAIT';
  if (ours) return ev & Ev.TAP_FIN_ACKED ? 'FIN_WAIT_2' : 'FIN_WAIT_1';
  return 'ESTABLISHED';
}
