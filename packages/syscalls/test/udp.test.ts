import { describe, expect, it } from "vitest";
import { RecvBatch, SendBatch, bind, close, getsockname, recvmmsg, sendSegments, sendmmsg, udpSocket, setBufferSizes, type Family } from "../src/index.js";

const OFFSET = 62;
const SLOT = 65536 + OFFSET;

function loopback(family: Family): string {
  return family === 4 ? "127.0.0.1" : "::1";
}

function addrBytes(family: Family): Uint8Array {
  return family === 4 ? new Uint8Array([127, 0, 0, 1]) : new Uint8Array([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
}

async function drain(fd: number, batch: RecvBatch, want: number, seen: (b: RecvBatch) => void): Promise<void> {
  let got = 0;
  const end = Date.now() + 5000;
  while (got < want && Date.now() < end) {
    const n = recvmmsg(fd, batch);
    if (n === 0) {
      await new Promise((r) => setTimeout(r, 1));
      continue;
    }
    seen(batch);
    got += n;
  }
  expect(got).toBe(want);
}

describe.each([4, 6] as const)("UDP over IPv%i", (family) => {
  it("round-trips a batch of 64 through sendmmsg and recvmmsg, one of 65507 bytes", async () => {
    const a = udpSocket(family);
    const b = udpSocket(family);
    try {
      bind(a, family, loopback(family), 0);
      bind(b, family, loopback(family), 0);
      setBufferSizes(b, 8 << 20, 0);
      setBufferSizes(a, 0, 8 << 20);
      const aPort = getsockname(a).port;
      const bPort = getsockname(b).port;

      // Build 64 messages in one slab: message i has length (i * 37) % 1400 + 1, except #10.
      const lengths = Array.from({ length: 64 }, (_, i) => (i === 10 ? 65507 : ((i * 37) % 1400) + 1));
      const slab = new Uint8Array(lengths.reduce((s, l) => s + l, 0));
      const send = new SendBatch(64);
      let at = 0;
      lengths.forEach((len, i) => {
        for (let k = 0; k < len; k++) slab[at + k] = (i + k) & 0xff;
        send.push(at, len, family, addrBytes(family), bPort);
        at += len;
      });
      let sent = 0;
      while (sent < 64) sent += sendmmsg(a, slab, send, sent);
      expect(sent).toBe(64);

      const batch = new RecvBatch(64, SLOT, OFFSET);
      let index = 0;
      await drain(b, batch, 64, (r) => {
        for (let i = 0; i < r.count; i++, index++) {
          const len = lengths[index] as number;
          expect(r.length(i)).toBe(len);
          expect(r.truncated(i)).toBe(false);
          expect(r.family(i)).toBe(family);
          expect(r.port(i)).toBe(aPort);
          expect(r.address(i)).toBe(loopback(family));
          const p = r.payload(i);
          expect(p[0]).toBe(index & 0xff);
          expect(p[len - 1]).toBe((index + len - 1) & 0xff);
          expect(r.payloadOffset(i)).toBe(i * SLOT + OFFSET);
        }
      });
    } finally {
      close(a);
      close(b);
    }
  });

  it("reports a datagram longer than its slot as truncated", async () => {
    const a = udpSocket(family);
    const b = udpSocket(family);
    try {
      bind(b, family, loopback(family), 0);
      const send = new SendBatch(1);
      send.push(0, 2000, family, addrBytes(family), getsockname(b).port);
      expect(sendmmsg(a, new Uint8Array(2000), send)).toBe(1);
      const batch = new RecvBatch(4, 1000 + OFFSET, OFFSET);
      await drain(b, batch, 1, (r) => {
        expect(r.truncated(0)).toBe(true);
        expect(r.length(0)).toBe(1000);
      });
    } finally {
      close(a);
      close(b);
    }
  });

  it("sends a burst as one UDP_SEGMENT (GSO) message that arrives as separate datagrams", async () => {
    const a = udpSocket(family);
    const b = udpSocket(family);
    try {
      bind(b, family, loopback(family), 0);
      setBufferSizes(b, 4 << 20, 0);
      // 20 pieces of 1400 bytes and a last one of 333, each filled with its
      // index, scattered through a slab (every other 2048-byte slot).
      const slab = new Uint8Array(42 * 2048);
      const desc = new Uint32Array(42);
      for (let i = 0; i < 21; i++) {
        const len = i === 20 ? 333 : 1400;
        slab.fill(i, i * 4096 + 7, i * 4096 + 7 + len);
        desc[2 * i] = i * 4096 + 7;
        desc[2 * i + 1] = len;
      }
      const dest = new SendBatch(1);
      dest.push(0, 0, family, addrBytes(family), getsockname(b).port);
      expect(sendSegments(a, slab, desc, 21, 1400, dest.records.subarray(0, 32))).toBe(20 * 1400 + 333);
      expect(() => sendSegments(a, slab, new Uint32Array([0, 100, 200, 1400]), 2, 1400, dest.records.subarray(0, 32))).toThrow(/piece 0 of 100 bytes/);
      const batch = new RecvBatch(64, 2048, 0);
      let index = 0;
      await drain(b, batch, 21, (r) => {
        for (let i = 0; i < r.count; i++, index++) {
          expect(r.length(i)).toBe(index === 20 ? 333 : 1400);
          expect(r.payload(i).every((x) => x === index)).toBe(true);
        }
      });
    } finally {
      close(a);
      close(b);
    }
  });

  it("returns 0, not an error, when nothing is waiting", () => {
    const a = udpSocket(family);
    try {
      bind(a, family, loopback(family), 0);
      expect(recvmmsg(a, new RecvBatch(16, 2048, 64))).toBe(0);
    } finally {
      close(a);
    }
  });
});
