/**
 * Theory of operation.
 *
 * UDP may drop; it must not drop silently. Every datagram that enters
 * udp-core is either counted as delivered (`datagrams`, `bytes`) or counted
 * under exactly one drop reason, per direction:
 *
 *   fromGuest       guest frames -> host sockets
 *   toGuest         host sockets -> guest frames
 *   spliceToNs      pasta: host loopback -> namespace loopback
 *   spliceToHost    pasta: namespace loopback -> host loopback
 *
 * Drop reasons: `malformed` (failed validation, never trusted further),
 * `noBinding` (no socket could be opened, or a reply with nowhere to go,
 * or no known guest address to deliver to), `capReached` (the binding
 * cap forbids a new socket, or the flow table a new flow, and nothing is
 * old enough to evict),
 * `sendError` (the kernel or the frame sink refused or would block).
 *
 * The object is plain and mutable in place so that counting allocates
 * nothing; readers take it as `Readonly` and may snapshot it with
 * `structuredClone` or a spread.
 */

export interface DirectionCounters {
  datagrams: number;
  bytes: number;
  malformed: number;
  noBinding: number;
  capReached: number;
  sendError: number;
}

export interface UdpCounters {
  fromGuest: DirectionCounters;
  toGuest: DirectionCounters;
  spliceToNs: DirectionCounters;
  spliceToHost: DirectionCounters;
  /** Socket lifecycle events, for logs and tests. */
  events: {
    bindingsOpened: number;
    bindingsAged: number;
    bindingsEvicted: number;
    spliceFlowsOpened: number;
    spliceFlowsAged: number;
    spliceFlowsEvicted: number;
    openErrors: number;
    /** Runs of datagrams that reached the guest as one segmentation-offload frame. */
    offloadFrames: number;
    /** UDP flows in the shared flow table: opened, freed by aging, evicted at the table's cap. */
    flowsOpened: number;
    flowsAged: number;
    flowsEvicted: number;
  };
}

function direction(): DirectionCounters {
  return { datagrams: 0, bytes: 0, malformed: 0, noBinding: 0, capReached: 0, sendError: 0 };
}

export function createCounters(): UdpCounters {
  return {
    fromGuest: direction(),
    toGuest: direction(),
    spliceToNs: direction(),
    spliceToHost: direction(),
    events: {
      bindingsOpened: 0,
      bindingsAged: 0,
      bindingsEvicted: 0,
      spliceFlowsOpened: 0,
      spliceFlowsAged: 0,
      spliceFlowsEvicted: 0,
      openErrors: 0,
      offloadFrames: 0,
      flowsOpened: 0,
      flowsAged: 0,
      flowsEvicted: 0,
    },
  };
}
