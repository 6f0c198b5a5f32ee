/**
 * Theory of operation.
 *
 * The engine hands every frame from the guest to `respond` first and needs
 * one bit back: did a responder take it, or does it go on to the UDP
 * translation? It also wants to count what happened, so the answer is a
 * small word: `answered`, `consumed` (read, and rightly left unanswered),
 * `malformed` (count it), or `pass`. Behind the word is a tagged record,
 * `Outcome`, for logs and tests, that says which protocol and why.
 * "Consumed" in the broad sense covers four
 * outcomes: we replied; we read it and chose silence (a gratuitous ARP, a
 * DHCP RELEASE, a duplicate address probe); it was broken (counted, then
 * dropped); or we meant to reply but our own configuration could not be
 * encoded (a bad search domain), which the engine should log loudly since
 * it is our fault, not the guest's.
 */
import type { WireError } from '@x/l2';

/** The conversations this layer answers. */
export type ResponderProtocol = 'arp' | 'ndp' | 'dhcpv4' | 'dhcpv6';
/** Where a malformed frame went wrong: one of ours, or a layer below them. */
export type MalformedLayer = ResponderProtocol | 'ethernet' | 'ipv4' | 'ipv6' | 'udp' | 'icmpv6';

/** What `respond` tells the frame loop; anything but `pass` means the frame is used up. */
export type Handled = 'answered' | 'consumed' | 'malformed' | 'pass';

/** The detailed outcome behind a `Handled`. */
export type Outcome =
  | { readonly kind: 'replied'; readonly consumed: true; readonly protocol: ResponderProtocol }
  | { readonly kind: 'ignored'; readonly consumed: true; readonly protocol: ResponderProtocol; readonly why: string }
  | { readonly kind: 'malformed'; readonly consumed: true; readonly layer: MalformedLayer; readonly error: WireError }
  | {
      readonly kind: 'replyFailed';
      readonly consumed: true;
      readonly protocol: ResponderProtocol;
      readonly error: WireError;
    }
  | { readonly kind: 'pass'; readonly consumed: false };

export function replied(protocol: ResponderProtocol): Outcome {
  return { kind: 'replied', consumed: true, protocol };
}

export function ignored(protocol: ResponderProtocol, why: string): Outcome {
  return { kind: 'ignored', consumed: true, protocol, why };
}

export function malformedInput(layer: MalformedLayer, error: WireError): Outcome {
  return { kind: 'malformed', consumed: true, layer, error };
}

export function replyFailed(protocol: ResponderProtocol, error: WireError): Outcome {
  return { kind: 'replyFailed', consumed: true, protocol, error };
}

/** One shared value: passing on is the hot path and need not allocate. */
export const PASS: Outcome = { kind: 'pass', consumed: false };

/**
 * A parse error on a protocol we own: "Unsupported" is well-formed input we
 * do not speak (ARP over another hardware type, a DHCPv6 relay message),
 * which deserves silence rather than a malformed count.
 */
export function fromParseError(protocol: ResponderProtocol, error: WireError): Outcome {
  return error.kind === 'Unsupported' ? ignored(protocol, error.what) : malformedInput(protocol, error);
}

/** The word for an outcome: a reply we could not build still used the frame up. */
export function handledOf(o: Outcome): Handled {
  switch (o.kind) {
    case 'replied':
      return 'answered';
    case 'malformed':
      return 'malformed';
    case 'pass':
      return 'pass';
    default:
      return 'consumed';
  }
}

/** Running totals the engine may keep, one per outcome kind; `countOutcome` adds one. */
export type ResponderCounters = Record<Outcome['kind'], number>;

export function newResponderCounters(): ResponderCounters {
  return { replied: 0, ignored: 0, malformed: 0, replyFailed: 0, pass: 0 };
}

export function countOutcome(counters: ResponderCounters, o: Outcome): void {
  counters[o.kind]++;
}
