// Nothing a guest sends may make the responders throw: random bytes, and every truncation and
// single-byte corruption of valid requests, must come back as an outcome with at most a few replies.
import fc from 'fast-check';
import { Dhcpv4MessageType, Dhcpv6MessageType, emptyNdpOptions } from '@x/l2';
import { describe, expect, it } from 'vitest';
import { respondDetailed, type Outcome } from '../../src/responders/index.js';
import { GUEST_LL, GUEST_MAC, config, dhcpRequestFrame, dhcpv6RequestFrame, hex, icmpv6Frame, ip } from './helpers.js';

const cfgs = [config(), config({ v4: undefined }), config({ v6: undefined }), config({ ra: false, dhcp: false })];

function check(frame: Uint8Array, cfgIndex: number): Outcome {
  const replies: Uint8Array[] = [];
  const o = respondDetailed(frame, cfgs[cfgIndex % cfgs.length] ?? config(), (r) => replies.push(r));
  // A fault caught by the last-resort guard would be a bug: parsers must return their errors.
  if (o.kind === 'malformed') expect(o.error.what).not.toMatch(/responder fault/);
  expect(replies.length).toBeLessThanOrEqual(1);
  return o;
}

const nsOpts = emptyNdpOptions();
nsOpts.sourceLinkAddr = GUEST_MAC;
const valid: Uint8Array[] = [
  hex('ffffffffffff52540012345608060001080006040001525400123456c633640a000000000000c6336401'),
  dhcpRequestFrame({
    messageType: Dhcpv4MessageType.Discover,
    parameterRequestList: Uint8Array.from([1, 3, 6, 119, 121]),
  }),
  dhcpRequestFrame({ messageType: Dhcpv4MessageType.Request, requestedIp: ip('198.51.100.10') }),
  icmpv6Frame({ type: 'neighborSolicit', target: ip('fe80::1'), options: nsOpts }, GUEST_LL, ip('ff02::1:ff00:1')),
  icmpv6Frame({ type: 'routerSolicit', options: nsOpts }, GUEST_LL, ip('ff02::2')),
  dhcpv6RequestFrame({
    messageType: Dhcpv6MessageType.Solicit,
    transactionId: 1,
    clientId: hex('00030001525400123456'),
    serverId: null,
    iaNa: [{ iaid: 1, t1: 0, t2: 0, addresses: [], status: null }],
    oro: [23, 24],
    elapsedTime: 0,
    rapidCommit: true,
    status: null,
    dnsServers: [],
    domainList: [],
  }),
];

describe('responders never throw', () => {
  it('on random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), fc.nat(), (bytes, c) => {
        check(bytes, c);
      }),
      { numRuns: 3000 }
    );
  });

  it('on random bytes behind a plausible Ethernet and IP prefix', () => {
    const prefixes = valid.map((f) => f.subarray(0, 14 + 28));
    fc.assert(
      fc.property(fc.constantFrom(...prefixes), fc.uint8Array({ maxLength: 400 }), fc.nat(), (prefix, tail, c) => {
        const f = new Uint8Array(prefix.length + tail.length);
        f.set(prefix);
        f.set(tail, prefix.length);
        check(f, c);
      }),
      { numRuns: 3000 }
    );
  });

  it('on every truncation of valid requests', () => {
    for (const f of valid) {
      for (let n = 0; n <= f.length; n++) check(f.subarray(0, n), n);
    }
  });

  it('on valid requests with random bytes overwritten', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...valid),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }),
        fc.nat(),
        (f, edits, c) => {
          const g = f.slice();
          for (const [at, v] of edits) g[at % g.length] = v;
          check(g, c);
        }
      ),
      { numRuns: 3000 }
    );
  });

  it('answers every valid request unchanged', () => {
    for (const f of valid) expect(check(f, 0).kind).toBe('replied');
  });
});
