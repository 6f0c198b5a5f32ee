// Frame helpers for tcp-core tests: guest TCP segments (Ethernet + IPv4 or
// IPv6 + TCP with options and correct checksums, or deliberately broken
// ones), written with @x/l2's offsets and setters, and a sink that keeps
// every frame TcpEngine sends, parsed back into fields after checking the
// IP header (parseFrameHeaders) and the TCP checksum of each one.
import type { FrameSink } from '@x/flow';
import {
  EthHdr,
  FrameClass,
  FrameHeaders,
  Ip4Hdr,
  Ip6Hdr,
  IpProtocol,
  TcpFlag,
  TcpHdr,
  TcpOptions,
  formatIpAddr,
  internetChecksum,
  isWireError,
  parseFrameHeaders,
  parseIpAddr,
  set16,
  set32,
  setTcpChecksum,
  tcpAck,
  tcpChecksumValid,
  tcpDataOffset,
  tcpDstPort,
  tcpFlags,
  tcpParseOptions,
  tcpSeq,
  tcpSrcPort,
  tcpWindow,
} from '@x/l2';

export const OUR_MAC = Uint8Array.of(0x02, 0, 0, 0, 0, 0x01);
export const GUEST_MAC = Uint8Array.of(0x02, 0, 0, 0, 0, 0x02);

export function ip(text: string): Uint8Array {
  const a = parseIpAddr(text);
  if (isWireError(a)) throw new Error(`bad address ${text}`);
  return a;
}

export const { SYN, ACK, FIN, RST, PSH } = TcpFlag;

/** One guest segment. */
export interface Seg {
  src: string;
  dst: string;
  sport: number;
  dport: number;
  seq: number;
  ack?: number;
  flags: number;
  window?: number;
  mss?: number;
  /** Window scale option (shift count). */
  ws?: number;
  payload?: Uint8Array;
  /** Raw option bytes instead of mss/ws (padded to 4 unless dataOffset says otherwise). */
  options?: number[];
  /** Header length in bytes written into the data offset field, whatever the options. */
  dataOffset?: number;
  badChecksum?: boolean;
}

function optionBytes(s: Seg): number[] {
  if (s.options) return s.options;
  const o: number[] = [];
  if (s.mss !== undefined) o.push(2, 4, s.mss >> 8, s.mss & 0xff);
  if (s.ws !== undefined) o.push(1, 3, 3, s.ws);
  return o;
}

/** A whole Ethernet frame from the guest. */
export function segment(s: Seg): Uint8Array {
  const src = ip(s.src);
  const dst = ip(s.dst);
  const v4 = src.length === 4;
  const opts = optionBytes(s);
  const optLen = (opts.length + 3) & ~3;
  const payload = s.payload ?? new Uint8Array(0);
  const l4len = TcpHdr.LEN + optLen + payload.length;
  const ipLen = v4 ? Ip4Hdr.LEN : Ip6Hdr.LEN;
  const f = new Uint8Array(EthHdr.LEN + ipLen + l4len);
  f.set(OUR_MAC, EthHdr.DST);
  f.set(GUEST_MAC, EthHdr.SRC);
  set16(f, EthHdr.TYPE, v4 ? 0x0800 : 0x86dd);
  const l3 = EthHdr.LEN;
  if (v4) {
    f[l3 + Ip4Hdr.VER_IHL] = 0x45;
    set16(f, l3 + Ip4Hdr.TOTAL_LEN, ipLen + l4len);
    set16(f, l3 + Ip4Hdr.FLAGS_FRAG, 0x4000);
    f[l3 + Ip4Hdr.TTL] = 64;
    f[l3 + Ip4Hdr.PROTOCOL] = IpProtocol.Tcp;
    f.set(src, l3 + Ip4Hdr.SRC);
    f.set(dst, l3 + Ip4Hdr.DST);
    set16(f, l3 + Ip4Hdr.CHECKSUM, internetChecksum(f, l3, l3 + Ip4Hdr.LEN));
  } else {
    f[l3 + Ip6Hdr.VER_TC_FLOW] = 0x60;
    set16(f, l3 + Ip6Hdr.PAYLOAD_LEN, l4len);
    f[l3 + Ip6Hdr.NEXT_HEADER] = IpProtocol.Tcp;
    f[l3 + Ip6Hdr.HOP_LIMIT] = 64;
    f.set(src, l3 + Ip6Hdr.SRC);
    f.set(dst, l3 + Ip6Hdr.DST);
  }
  const l4 = l3 + ipLen;
  set16(f, l4 + TcpHdr.SRC_PORT, s.sport);
  set16(f, l4 + TcpHdr.DST_PORT, s.dport);
  set32(f, l4 + TcpHdr.SEQ, s.seq >>> 0);
  set32(f, l4 + TcpHdr.ACK, (s.ack ?? 0) >>> 0);
  f[l4 + TcpHdr.DATA_OFF] = ((s.dataOffset ?? TcpHdr.LEN + optLen) / 4) << 4;
  f[l4 + TcpHdr.FLAGS] = s.flags;
  set16(f, l4 + TcpHdr.WINDOW, s.window ?? 65535);
  f.set(opts, l4 + TcpHdr.LEN);
  f.set(payload, l4 + TcpHdr.LEN + optLen);
  const srcAt = l3 + (v4 ? Ip4Hdr.SRC : Ip6Hdr.SRC);
  const dstAt = l3 + (v4 ? Ip4Hdr.DST : Ip6Hdr.DST);
  setTcpChecksum(f, l4, l4len, v4 ? 4 : 6, srcAt, dstAt);
  if (s.badChecksum) f[l4 + TcpHdr.CHECKSUM] = (f[l4 + TcpHdr.CHECKSUM] as number) ^ 0x5a;
  return f;
}

/** Frames laid out in one slab, as one tap read delivers a batch. */
export interface Batch {
  slab: Uint8Array;
  offsets: number[];
  lengths: number[];
}

export function batchOf(frames: Uint8Array[]): Batch {
  const slab = new Uint8Array(frames.reduce((n, f) => n + f.length + 8, 0));
  const offsets: number[] = [];
  const lengths: number[] = [];
  let at = 4;
  for (const f of frames) {
    slab.set(f, at);
    offsets.push(at);
    lengths.push(f.length);
    at += f.length + 8;
  }
  return { slab, offsets, lengths };
}

/** Where a frame's TCP header is, for rewriting fields in place. */
export function tcpAt(frame: Uint8Array): { l4: number; len: number; family: 4 | 6; srcAt: number; dstAt: number } {
  const h = new FrameHeaders();
  if (parseFrameHeaders(frame, 0, frame.length, h) !== FrameClass.Ip) throw new Error(h.detail);
  return { l4: h.l4At, len: h.l4End - h.l4At, family: h.family as 4 | 6, srcAt: h.srcAt, dstAt: h.dstAt };
}

/** A segment TcpEngine sent to the guest. */
export interface Out {
  family: 4 | 6;
  src: string;
  dst: string;
  srcMac: Uint8Array;
  dstMac: Uint8Array;
  sport: number;
  dport: number;
  seq: number;
  ack: number;
  flags: number;
  window: number;
  mss: number;
  ws: number;
  payload: Uint8Array;
}

export function parseOut(frame: Uint8Array): Out {
  const h = new FrameHeaders();
  const cls = parseFrameHeaders(frame, 0, frame.length, h);
  if (cls !== FrameClass.Ip || h.protocol !== IpProtocol.Tcp) throw new Error(`not a TCP frame: ${h.detail}`);
  const at = h.l4At;
  const len = h.l4End - at;
  const family = h.family as 4 | 6;
  if (!tcpChecksumValid(frame, at, len, family, h.srcAt, h.dstAt)) throw new Error('bad TCP checksum in a frame to the guest');
  const o = new TcpOptions();
  const err = tcpParseOptions(frame, at, len, o);
  if (err !== 0) throw new Error(`bad TCP header in a frame to the guest: ${err}`);
  const n = h.addrLen;
  return {
    family,
    src: formatIpAddr(frame.slice(h.srcAt, h.srcAt + n)),
    dst: formatIpAddr(frame.slice(h.dstAt, h.dstAt + n)),
    dstMac: frame.slice(EthHdr.DST, EthHdr.DST + 6),
    srcMac: frame.slice(EthHdr.SRC, EthHdr.SRC + 6),
    sport: tcpSrcPort(frame, at),
    dport: tcpDstPort(frame, at),
    seq: tcpSeq(frame, at),
    ack: tcpAck(frame, at),
    flags: tcpFlags(frame, at),
    window: tcpWindow(frame, at),
    mss: o.mss,
    ws: o.windowScale,
    payload: frame.slice(at + tcpDataOffset(frame, at), h.l4End),
  };
}

/** Keeps every frame sent (copied: the engine reuses its slab), parsed. */
export class CapturingSink implements FrameSink {
  readonly frames: Out[] = [];
  /** Frames refused from now on (the sink returns fewer). */
  refuse = 0;
  calls = 0;

  sendFrames(slab: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, count: number): number {
    this.calls++;
    const take = Math.max(0, count - this.refuse);
    for (let i = 0; i < take; i++) {
      const off = offsets[i] as number;
      this.frames.push(parseOut(slab.slice(off, off + (lengths[i] as number))));
    }
    return take;
  }

  /** Takes the frames sent since the last call. */
  take(): Out[] {
    return this.frames.splice(0);
  }
}

/** Bytes 0, 1, 2, ... of a stream, from `start`, `n` long: easy to compare. */
export function pattern(start: number, n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (start + i) * 7 + ((start + i) >> 8);
  return b;
}

/** Readable flags, for failure messages. */
export function flagNames(f: number): string {
  const names: string[] = [];
  for (const [k, v] of Object.entries(TcpFlag)) if (f & v) names.push(k);
  return names.join('|');
}
