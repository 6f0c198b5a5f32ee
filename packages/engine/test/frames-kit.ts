// Hand-built guest frames for the dispatcher and echo tests: Ethernet,
// IPv4 or IPv6, then whatever upper layer the test wants, with correct
// lengths and checksums unless the test breaks them on purpose.
import { checksumFinish, checksumPartial, icmpEchoChecksum, isWireError, parseIpAddr, set16 } from "@x/l2";

export const OUR_MAC = Uint8Array.of(0x02, 0, 0, 0, 0, 0x01);
export const GUEST_MAC = Uint8Array.of(0x02, 0, 0, 0, 0, 0x02);

export function ip(text: string): Uint8Array {
  const a = parseIpAddr(text);
  if (isWireError(a)) throw new Error(`bad address ${text}`);
  return a;
}

/** An IP frame from the guest carrying `l4` as protocol `proto`. */
export function ipFrame(src: string, dst: string, proto: number, l4: Uint8Array, o: { fragment?: boolean } = {}): Uint8Array {
  const s = ip(src);
  const d = ip(dst);
  const v4 = s.length === 4;
  const ipLen = v4 ? 20 : 40;
  const f = new Uint8Array(14 + ipLen + l4.length);
  f.set(OUR_MAC, 0);
  f.set(GUEST_MAC, 6);
  set16(f, 12, v4 ? 0x0800 : 0x86dd);
  if (v4) {
    f[14] = 0x45;
    set16(f, 16, 20 + l4.length);
    if (o.fragment) set16(f, 20, 0x2000);
    f[22] = 64;
    f[23] = proto;
    f.set(s, 26);
    f.set(d, 30);
    set16(f, 24, checksumFinish(checksumPartial(f, 14, 34)));
  } else {
    f[14] = 0x60;
    set16(f, 18, l4.length);
    f[20] = proto;
    f[21] = 64;
    f.set(s, 22);
    f.set(d, 38);
  }
  f.set(l4, 14 + ipLen);
  return f;
}

/** An echo message (request by default) with a valid checksum for the frame it will be in. */
export function echoFrame(src: string, dst: string, id: number, seq: number, o: { type?: number; data?: number; badChecksum?: boolean } = {}): Uint8Array {
  const v4 = ip(src).length === 4;
  const msg = new Uint8Array(8 + (o.data ?? 16));
  msg[0] = o.type ?? (v4 ? 8 : 128);
  set16(msg, 4, id);
  set16(msg, 6, seq);
  for (let i = 8; i < msg.length; i++) msg[i] = i;
  const f = ipFrame(src, dst, v4 ? 1 : 58, msg);
  const at = 14 + (v4 ? 20 : 40);
  set16(f, at + 2, icmpEchoChecksum(f, at, msg.length, v4 ? 4 : 6, 22, 38));
  if (o.badChecksum) f[at + 2] = (f[at + 2] as number) ^ 0xff;
  return f;
}

/** A UDP frame (checksum 0 over IPv4, not checked by us over IPv6). */
export function udpFrame(src: string, sport: number, dst: string, dport: number, payload = 8): Uint8Array {
  const u = new Uint8Array(8 + payload);
  set16(u, 0, sport);
  set16(u, 2, dport);
  set16(u, 4, u.length);
  return ipFrame(src, dst, 17, u);
}

export function arpFrame(senderMac = GUEST_MAC): Uint8Array {
  const f = new Uint8Array(42);
  f.fill(0xff, 0, 6);
  f.set(GUEST_MAC, 6);
  set16(f, 12, 0x0806);
  set16(f, 14, 1);
  set16(f, 16, 0x0800);
  f[18] = 6;
  f[19] = 4;
  set16(f, 20, 1);
  f.set(senderMac, 22);
  f.set(ip("198.51.100.2"), 28);
  f.set(ip("198.51.100.1"), 38);
  return f;
}

export function slabOf(frames: Uint8Array[]): { slab: Uint8Array; offsets: Uint32Array; lengths: Uint32Array } {
  const total = frames.reduce((n, f) => n + f.length + 8, 0);
  const slab = new Uint8Array(total);
  const offsets = new Uint32Array(frames.length);
  const lengths = new Uint32Array(frames.length);
  let at = 4;
  frames.forEach((f, i) => {
    slab.set(f, at);
    offsets[i] = at;
    lengths[i] = f.length;
    at += f.length + 4;
  });
  return { slab, offsets, lengths };
}
