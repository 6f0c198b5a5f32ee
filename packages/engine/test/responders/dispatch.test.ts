import { IpProtocol, emitEthernet, formatMac } from '@x/l2';
import { describe, expect, it } from 'vitest';
import { ipv4UdpFrame, ipv6Frame, ipv6UdpFrame } from '../../src/responders/frame.js';
import { newResponderCounters, respond, respondDetailed } from '../../src/responders/index.js';
import { GUEST_LL, config, dhcpRequestFrame, fromGuest, hex, ip, mac, ok, run } from './helpers.js';

const OUR = mac('9a:55:9a:55:9a:55');

describe('respond: dispatch', () => {
  it('passes ordinary UDP over IPv4 and IPv6 on', () => {
    const u4 = ok(ipv4UdpFrame(fromGuest(OUR), ip('198.51.100.10'), ip('203.0.113.5'), 40000, 53, 4, () => 4));
    const u6 = ok(ipv6UdpFrame(fromGuest(OUR), ip('2001:db8:1::10'), ip('2001:db8:9::1'), 40000, 53, 4, () => 4));
    expect(respond(u4, config(), () => undefined)).toBe('pass');
    expect(respond(u6, config(), () => undefined)).toBe('pass');
  });

  it('passes DHCP-port traffic that is not client to server, and ICMPv6 that is not NDP', () => {
    const srv = ok(ipv4UdpFrame(fromGuest(OUR), ip('198.51.100.10'), ip('203.0.113.5'), 67, 67, 4, () => 4));
    expect(run(srv).outcome.kind).toBe('pass');
    const echo = ok(
      ipv6Frame(fromGuest(OUR), GUEST_LL, ip('fe80::1'), IpProtocol.Icmpv6, 64, 8, (b) => {
        b.set([128, 0, 0, 0, 0, 1, 0, 1]);
        return 8;
      })
    );
    expect(run(echo).outcome.kind).toBe('pass');
  });

  it('passes other EtherTypes and fragments', () => {
    const f = new Uint8Array(60);
    emitEthernet(
      {
        dst: OUR,
        src: mac('52:54:00:12:34:56'),
        ethertype: 0x88cc,
        vlanId: null,
        vlanPriority: 0,
        payload: new Uint8Array(46),
      },
      f
    );
    expect(run(f).outcome.kind).toBe('pass');
    const frag = dhcpRequestFrame({ messageType: 1 });
    frag[14 + 6] = 0x20; // MF set: header checksum now wrong, fix it up by recomputing below
    frag[14 + 10] = 0;
    frag[14 + 11] = 0;
    let sum = 0;
    for (let k = 0; k < 20; k += 2) sum += ((frag[14 + k] ?? 0) << 8) | (frag[14 + k + 1] ?? 0);
    while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
    frag[14 + 10] = (~sum >>> 8) & 0xff;
    frag[14 + 11] = ~sum & 0xff;
    expect(run(frag).outcome.kind).toBe('pass');
  });

  it('reports broken frames as malformed, layer by layer', () => {
    expect(run(new Uint8Array(0)).outcome).toMatchObject({ kind: 'malformed', layer: 'ethernet' });
    expect(run(new Uint8Array(10)).outcome).toMatchObject({ kind: 'malformed', layer: 'ethernet' });
    const v4 = dhcpRequestFrame({ messageType: 1 });
    v4[14 + 10] = (v4[14 + 10] ?? 0) ^ 0xff; // header checksum
    expect(run(v4).outcome).toMatchObject({ kind: 'malformed', layer: 'ipv4' });
    const v6 = hex('525400123456 9a559a559a55 86dd 6000000000ff3aff');
    expect(run(v6).outcome).toMatchObject({ kind: 'malformed', layer: 'ipv6' });
  });

  it('maps outcomes to the words the frame loop switches on, and counts them', () => {
    const counters = newResponderCounters();
    const arpReq = hex('ffffffffffff52540012345608060001080006040001525400123456c633640a000000000000c6336401');
    const out: Uint8Array[] = [];
    expect(respond(arpReq, config(), (r) => out.push(r), counters)).toBe('answered');
    expect(formatMac(out[0]?.subarray(0, 6) ?? new Uint8Array(6))).toBe('52:54:00:12:34:56');
    expect(respond(dhcpRequestFrame({ messageType: 7 }), config(), () => undefined, counters)).toBe('consumed');
    expect(respond(new Uint8Array(3), config(), () => undefined, counters)).toBe('malformed');
    expect(respond(new Uint8Array(60).fill(0x42), config(), () => undefined, counters)).toBe('pass');
    expect(counters).toEqual({ replied: 1, ignored: 1, malformed: 1, replyFailed: 0, pass: 1 });
  });

  it("lets a throw from the engine's own callback through, after the outcome is settled", () => {
    const arpReq = hex('ffffffffffff52540012345608060001080006040001525400123456c633640a000000000000c6336401');
    expect(() =>
      respondDetailed(arpReq, config(), () => {
        throw new Error('engine says no');
      })
    ).toThrow('engine says no');
  });
});
