/**
 * Theory of operation.
 *
 * The guest believes it sits on an Ethernet segment with a gateway and,
 * possibly, other hosts of its subnet. In truth there is only us: every
 * packet it sends, to the gateway or to a neighbour, must reach our MAC so
 * that we can carry it to a host socket. So we answer an ARP request for
 * any IPv4 address with our own MAC (proxy ARP for the whole world), with
 * one exception: the guest's own address. A guest asks for that when it
 * probes for conflicts (RFC 5227, udhcpc does it before accepting a lease)
 * and an answer would make it refuse its address.
 *
 * Requests whose sender and target addresses are equal are announcements
 * (gratuitous ARP), and replies are answers to nobody we know: both are
 * read and dropped. We keep no cache; the engine learns the guest's MAC
 * from frames, not from ARP.
 */
import { ArpOperation, addrEquals, isWireError, parseArpBytes, type EthernetRepr } from '@x/l2';
import type { LinkConfig } from './config.js';
import { arpFrame, replyLink } from './frame.js';
import { fromParseError, ignored, replied, replyFailed, type Outcome } from './result.js';

/**
 * Answers one ARP packet (the Ethernet payload of `eth`).
 * @param eth the parsed frame it came in
 * @param cfg the link facts; ARP stays silent without IPv4
 * @param out receives the reply frame, if any
 * @returns what happened, for the engine to count
 */
export function respondArp(eth: EthernetRepr, cfg: LinkConfig, out: (reply: Uint8Array) => void): Outcome {
  const req = parseArpBytes(eth.payload);
  if (isWireError(req)) return fromParseError('arp', req);
  if (req.operation !== ArpOperation.Request) return ignored('arp', 'ARP reply');
  if (addrEquals(req.senderIp, req.targetIp)) return ignored('arp', 'gratuitous ARP');
  const v4 = cfg.v4;
  if (v4 === undefined) return ignored('arp', 'no IPv4 on this link');
  if (addrEquals(req.targetIp, v4.address)) return ignored('arp', "request for the guest's own address");
  const frame = arpFrame(replyLink(eth, cfg.ourMac, req.senderMac), {
    operation: ArpOperation.Reply,
    senderMac: cfg.ourMac,
    senderIp: req.targetIp,
    targetMac: req.senderMac,
    targetIp: req.senderIp,
  });
  if (isWireError(frame)) return replyFailed('arp', frame);
  out(frame);
  return replied('arp');
}
