/**
 * Theory of operation.
 *
 * The classic libpcap file format: a 24-byte global header, then per frame
 * a 16-byte record header (seconds, microseconds, captured length, original
 * length) followed by the captured bytes. It is the lowest common
 * denominator every decoder reads, which is why passt's `--pcap` uses it.
 * We write it in little-endian (the magic tells readers the byte order),
 * never touch a file system, and let the caller either take fresh arrays
 * (`pcapHeader`, `pcapRecord`) or write into its own buffer
 * (`writePcapRecordHeader`) to avoid a copy per frame.
 */

const MAGIC = 0;
const VERSION_MAJOR = 4;
const VERSION_MINOR = 6;
const THISZONE = 8;
const SIGFIGS = 12;
const SNAPLEN = 16;
const LINKTYPE = 20;
const GLOBAL_HEADER_LEN = 24;

const TS_SEC = 0;
const TS_USEC = 4;
const INCL_LEN = 8;
const ORIG_LEN = 12;
const RECORD_HEADER_LEN = 16;

const PCAP_MAGIC_MICROS = 0xa1b2c3d4;

export const PCAP_GLOBAL_HEADER_LEN = GLOBAL_HEADER_LEN;
export const PCAP_RECORD_HEADER_LEN = RECORD_HEADER_LEN;
export const PCAP_DEFAULT_SNAPLEN = 65535;
export const LINKTYPE_ETHERNET = 1;

function le32(b: Uint8Array, o: number, v: number): void {
  b[o] = v & 0xff;
  b[o + 1] = (v >>> 8) & 0xff;
  b[o + 2] = (v >>> 16) & 0xff;
  b[o + 3] = (v >>> 24) & 0xff;
}

function le16(b: Uint8Array, o: number, v: number): void {
  b[o] = v & 0xff;
  b[o + 1] = (v >>> 8) & 0xff;
}

export function pcapHeader(snaplen = PCAP_DEFAULT_SNAPLEN, linktype = LINKTYPE_ETHERNET): Uint8Array {
  const b = new Uint8Array(GLOBAL_HEADER_LEN);
  le32(b, MAGIC, PCAP_MAGIC_MICROS);
  le16(b, VERSION_MAJOR, 2);
  le16(b, VERSION_MINOR, 4);
  le32(b, THISZONE, 0);
  le32(b, SIGFIGS, 0);
  le32(b, SNAPLEN, snaplen);
  le32(b, LINKTYPE, linktype);
  return b;
}

/**
 * Writes a record header for a frame of `frameLength` bytes at `out[at..]`
 * and returns how many frame bytes to append (the captured length, capped
 * at `snaplen`). `timeMicros` is microseconds since the Unix epoch.
 */
export function writePcapRecordHeader(
  frameLength: number,
  timeMicros: number,
  out: Uint8Array,
  at = 0,
  snaplen = PCAP_DEFAULT_SNAPLEN,
): number {
  const t = Math.max(0, Math.floor(timeMicros));
  const incl = Math.min(frameLength, snaplen);
  le32(out, at + TS_SEC, Math.floor(t / 1e6));
  le32(out, at + TS_USEC, t % 1e6);
  le32(out, at + INCL_LEN, incl);
  le32(out, at + ORIG_LEN, frameLength);
  return incl;
}

/** Record header plus the (possibly snapped) frame, as one fresh array. */
export function pcapRecord(frame: Uint8Array, timeMicros: number, snaplen = PCAP_DEFAULT_SNAPLEN): Uint8Array {
  const incl = Math.min(frame.length, snaplen);
  const b = new Uint8Array(RECORD_HEADER_LEN + incl);
  writePcapRecordHeader(frame.length, timeMicros, b, 0, snaplen);
  b.set(incl === frame.length ? frame : frame.subarray(0, incl), RECORD_HEADER_LEN);
  return b;
}

/** A whole capture file in one array: handy for tests and small dumps. */
export function pcapFile(frames: readonly { frame: Uint8Array; timeMicros: number }[]): Uint8Array {
  const parts = [pcapHeader(), ...frames.map((f) => pcapRecord(f.frame, f.timeMicros))];
  const total = parts.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
