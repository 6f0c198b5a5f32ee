/** What the TCP translation counts; SIGUSR1 logs it as `tcp.*`. */
export interface TcpCounters {
  /** Guest SYNs that opened a host connection. */
  connects: number;
  /** Guest SYNs answered by a RST: refused, unreachable, or to a loopback or unspecified address. */
  refused: number;
  /** Connections accepted on -t/-T listeners and carried through the tap. */
  accepted: number;
  /** Connections accepted and spliced socket to socket (pasta, between the loopbacks). */
  spliced: number;
  /** Connections closed, for any reason. */
  closed: number;
  /** Bad checksum, bad data offset, options past the header, too short. */
  malformed: number;
  /** Segments for no connection (answered by RST unless they were RSTs). */
  noConnection: number;
  /** Segments, RSTs and SYNs outside the window (RFC 5961): ignored, or answered with an ACK. */
  outOfWindow: number;
  /** RSTs from the guest that ended a connection. */
  resetsFromGuest: number;
  /** RSTs we sent the guest. */
  resetsToGuest: number;
  /** Payload bytes from the guest written to sockets, and from sockets to the guest. */
  bytesFromGuest: number;
  bytesToGuest: number;
  /** Out-of-order data from the guest, answered by a duplicate ACK. */
  outOfOrder: number;
  /** Times data toward the guest was sent again. */
  retransmits: number;
  dupAcksSent: number;
  /** Handshake, acknowledgement, FIN and inactivity timeouts that ended a connection. */
  timeouts: number;
  /** The flow table was full and nothing could be evicted. */
  capReached: number;
  /** No socket could be opened (descriptors). */
  noSocket: number;
  /** TCP off (--no-tcp): segments dropped. */
  disabled: number;
  flowsEvicted: number;
}

export function newCounters(): TcpCounters {
  return {
    connects: 0,
    refused: 0,
    accepted: 0,
    spliced: 0,
    closed: 0,
    malformed: 0,
    noConnection: 0,
    outOfWindow: 0,
    resetsFromGuest: 0,
    resetsToGuest: 0,
    bytesFromGuest: 0,
    bytesToGuest: 0,
    outOfOrder: 0,
    retransmits: 0,
    dupAcksSent: 0,
    timeouts: 0,
    capReached: 0,
    noSocket: 0,
    disabled: 0,
    flowsEvicted: 0,
  };
}
