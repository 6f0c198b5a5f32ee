import { ArpOperation, emitArp, emitEthernet, formatIpAddr, formatMac, parseArpBytes, type ArpRepr } from '@x/l2';
import { beforeAll, describe, expect, it } from 'vitest';
import { GUEST_MAC, OUR_MAC, config, decodeEth, ip, mac, ok, one, run, scapyFrames } from './helpers.js';

function arpFrame(arp: Partial<ArpRepr>, vlanId: number | null = null): Uint8Array {
  const repr: ArpRepr = {
    operation: ArpOperation.Request,
    senderMac: GUEST_MAC,
    senderIp: ip('198.51.100.10'),
    targetMac: new Uint8Array(6),
    targetIp: ip('198.51.100.1'),
    ...arp,
  };
  const payload = new Uint8Array(28);
  ok(emitArp(repr, payload));
  const buf = new Uint8Array(vlanId === null ? 42 : 46);
  emitEthernet(
    { dst: mac('ff:ff:ff:ff:ff:ff'), src: GUEST_MAC, ethertype: 0x0806, vlanId, vlanPriority: 0, payload },
    buf
  );
  return buf;
}

function decodeArp(frame: Uint8Array): { dst: string; src: string; arp: ArpRepr; vlanId: number | null } {
  const eth = decodeEth(frame);
  expect(eth.ethertype).toBe(0x0806);
  return { dst: formatMac(eth.dst), src: formatMac(eth.src), arp: ok(parseArpBytes(eth.payload)), vlanId: eth.vlanId };
}

describe('ARP responder', () => {
  it('answers a request for the gateway with our MAC, addressed back to the asker', () => {
    const r = decodeArp(one(arpFrame({})));
    expect(r.dst).toBe('52:54:00:12:34:56');
    expect(r.src).toBe('9a:55:9a:55:9a:55');
    expect(r.arp.operation).toBe(ArpOperation.Reply);
    expect(formatMac(r.arp.senderMac)).toBe('9a:55:9a:55:9a:55');
    expect(formatIpAddr(r.arp.senderIp)).toBe('198.51.100.1');
    expect(formatMac(r.arp.targetMac)).toBe('52:54:00:12:34:56');
    expect(formatIpAddr(r.arp.targetIp)).toBe('198.51.100.10');
  });

  it('answers for any other on-link or off-link address too', () => {
    for (const target of ['198.51.100.77', '198.51.100.255', '203.0.113.9']) {
      const r = decodeArp(one(arpFrame({ targetIp: ip(target) })));
      expect(formatIpAddr(r.arp.senderIp)).toBe(target);
      expect(r.arp.senderMac).toEqual(OUR_MAC);
    }
  });

  it("stays silent for the guest's own address (conflict probes, RFC 5227)", () => {
    const probe = arpFrame({ senderIp: ip('0.0.0.0'), targetIp: ip('198.51.100.10') });
    const { outcome, replies } = run(probe);
    expect(outcome.kind).toBe('ignored');
    expect(replies).toHaveLength(0);
  });

  it('answers a probe for another address, to 0.0.0.0', () => {
    const r = decodeArp(one(arpFrame({ senderIp: ip('0.0.0.0'), targetIp: ip('198.51.100.1') })));
    expect(formatIpAddr(r.arp.targetIp)).toBe('0.0.0.0');
  });

  it('ignores gratuitous ARP and replies', () => {
    for (const f of [
      arpFrame({ targetIp: ip('198.51.100.10') }),
      arpFrame({ senderIp: ip('198.51.100.20'), targetIp: ip('198.51.100.20') }),
      arpFrame({ operation: ArpOperation.Reply }),
    ]) {
      const { outcome, replies } = run(f);
      expect(outcome.kind).toBe('ignored');
      expect(replies).toHaveLength(0);
    }
  });

  it('is silent without IPv4, but still consumes ARP', () => {
    const { outcome, replies } = run(arpFrame({}), config({ v4: undefined }));
    expect(outcome.kind).toBe('ignored');
    expect(replies).toHaveLength(0);
  });

  it('answers on the VLAN it was asked on', () => {
    expect(decodeArp(one(arpFrame({}, 42))).vlanId).toBe(42);
  });

  it('counts a truncated ARP packet as malformed', () => {
    const f = arpFrame({}).subarray(0, 14 + 20);
    expect(run(f).outcome).toMatchObject({ kind: 'malformed', layer: 'arp' });
  });

  describe('with requests built by scapy', () => {
    let frames: Record<'request' | 'gratuitous' | 'reply', Uint8Array>;
    beforeAll(() => {
      const eth = "Ether(src='52:54:00:12:34:56',dst='ff:ff:ff:ff:ff:ff')";
      frames = scapyFrames({
        request: `${eth}/ARP(op=1,hwsrc='52:54:00:12:34:56',psrc='198.51.100.10',pdst='198.51.100.1')`,
        gratuitous: `${eth}/ARP(op=1,hwsrc='52:54:00:12:34:56',psrc='198.51.100.10',pdst='198.51.100.10')`,
        reply: `${eth}/ARP(op=2,hwsrc='52:54:00:12:34:56',psrc='198.51.100.10',pdst='198.51.100.1')`,
      });
    });
    it('answers the request and ignores the rest', () => {
      const r = decodeArp(one(frames.request));
      expect(formatIpAddr(r.arp.senderIp)).toBe('198.51.100.1');
      expect(run(frames.gratuitous).outcome.kind).toBe('ignored');
      expect(run(frames.reply).outcome.kind).toBe('ignored');
    });
  });
});
