import { PortForwards, UdpEngine, type UdpEngineConfig } from '../src/index.js';
import { CapturingSink, FakeClock, FakeSockets, ip, RecordingLogger, slabOf } from './fakes.js';

export const OUR_MAC = Uint8Array.of(0x02, 0, 0, 0, 0, 0x01);
export const GUEST_MAC = Uint8Array.of(0x02, 0, 0, 0, 0, 0x02);

export const GW4 = '198.51.100.1';
export const GUEST4 = '198.51.100.2';
export const GW6 = 'fe80::1';
export const GUEST6 = '2001:db8::2';
export const GUEST_LL = 'fe80::2';
export const REMOTE4 = '203.0.113.7';
export const REMOTE6 = '2001:db8:1::7';

export function world<S extends CapturingSink = CapturingSink>(
  over: Partial<UdpEngineConfig> = {},
  failOpens: string[] = [],
  sink: S = new CapturingSink() as S,
) {
  const sockets = new FakeSockets();
  sockets.failOpens = [...failOpens];
  const clock = new FakeClock();
  const logger = new RecordingLogger();
  const engine = new UdpEngine(
    {
      ourMac: OUR_MAC,
      guestMac: GUEST_MAC,
      gateway4: ip(GW4),
      gateway6: ip(GW6),
      hostAddress4: ip(GUEST4),
      hostAddress6: ip(GUEST6),
      hostLinkLocal6: ip('fe80::abcd'),
      scopeId6: 7,
      inbound: PortForwards.none(),
      ...over,
    },
    { sockets, frames: sink, clock, logger },
  );
  const failures = engine.start();
  /** Sends guest frames through fromGuestFrames, as one burst. */
  const fromGuest = (...frames: Uint8Array[]): number => {
    const { slab, offsets, lengths } = slabOf(frames);
    return engine.fromGuestFrames(slab, offsets, lengths, frames.length);
  };
  return { sockets, clock, logger, sink, engine, failures, fromGuest };
}
