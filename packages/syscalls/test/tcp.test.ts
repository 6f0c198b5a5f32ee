import { afterEach, describe, expect, it } from "vitest";
import {
  NONE_WAITING,
  TcpState,
  Watcher,
  WRITABLE,
  accept4,
  bind,
  close,
  getMaxSeg,
  getRcvBuf,
  getSndBuf,
  getsockname,
  isSyscallError,
  listen,
  peekOffsetSupported,
  pipe2,
  recvDiscard,
  recvPeek,
  sendParts,
  setMaxSeg,
  setNoDelay,
  setPeekOffset,
  setPipeSize,
  setQuickAck,
  setRcvBuf,
  setSndBuf,
  shutdown,
  socketError,
  splice,
  tcpConnect,
  tcpInfo,
  tcpSocket,
  tcpInfoInto,
  TcpInfoSlot,
  recvPeekPieces,
  sendPieces,
  outQueue,
  inQueue,
  setLingerZero,
  setReuseAddr,
  type Family,
} from "../src/index.js";

const open: number[] = [];
function track(fd: number): number {
  open.push(fd);
  return fd;
}
afterEach(() => {
  while (open.length > 0) close(open.pop() as number);
});

const loopback = (f: Family): string => (f === 4 ? "127.0.0.1" : "::1");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function waitWritable(fd: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      w.close();
      reject(new Error(`fd ${fd} not writable in 5 s`));
    }, 5000);
    // libuv reports POLLERR (a refused connect) as status UV_EBADF (-9):
    // either way the connect is over and SO_ERROR tells how.
    const w = new Watcher(fd, WRITABLE, () => {
      clearTimeout(timer);
      w.close();
      resolve();
    });
  });
}

/** Retries a call that returns -1 for "would block" until it does not. */
async function until<T>(f: () => T, ready: (v: T) => boolean): Promise<T> {
  const end = Date.now() + 5000;
  for (;;) {
    const v = f();
    if (ready(v) || Date.now() > end) return v;
    await sleep(1);
  }
}

function expectCode(f: () => unknown, code: string): void {
  try {
    f();
  } catch (e) {
    expect(isSyscallError(e)).toBe(true);
    expect((e as { code: string }).code).toBe(code);
    return;
  }
  throw new Error(`expected ${code}`);
}

/** A listener, a non-blocking client connected to it, and the accepted server side. */
async function pair(family: Family): Promise<{ client: number; server: number; port: number }> {
  const l = track(tcpSocket(family));
  bind(l, family, loopback(family), 0);
  listen(l, 8);
  const port = getsockname(l).port;
  expect(accept4(l)).toBe(NONE_WAITING);
  const client = track(tcpSocket(family));
  const r = tcpConnect(client, family, loopback(family), port);
  expect(["connected", "in-progress"]).toContain(r);
  if (r === "in-progress") await waitWritable(client);
  expect(socketError(client)).toBeNull();
  const a = await until(() => accept4(l), (x) => x.fd >= 0);
  expect(a.fd).toBeGreaterThanOrEqual(0);
  track(a.fd);
  expect(a.family).toBe(family);
  expect(a.address).toBe(loopback(family));
  expect(a.port).toBe(getsockname(client).port);
  return { client, server: a.fd, port };
}

function pattern(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 7 + seed) & 0xff;
  return b;
}

async function peekAll(fd: number, want: number): Promise<void> {
  const probe = new Uint8Array(want + 16);
  const n = await until(() => recvPeek(fd, probe), (x) => x >= want);
  expect(n).toBe(want);
}

const supported = peekOffsetSupported();

describe("SO_PEEK_OFF probe", () => {
  it("answers the same every time, and this kernel's answer is recorded", () => {
    expect(typeof supported).toBe("boolean");
    expect(peekOffsetSupported()).toBe(supported);
    // Linux 6.9 and later take SO_PEEK_OFF on TCP sockets.
    console.log(`SO_PEEK_OFF on TCP: ${supported ? "supported" : "not supported"}`);
  });
});

describe.each([4, 6] as const)("TCP over IPv%i", (family) => {
  it("connects, accepts, carries data both ways, peeks, discards and ends", async () => {
    const { client, server } = await pair(family);
    setNoDelay(client);
    setQuickAck(server);

    // Client to server in three parts: 1000 bytes.
    const data = pattern(1000, 3);
    expect(sendParts(client, [data.subarray(0, 100), data.subarray(100, 600), data.subarray(600)])).toBe(1000);
    // Server to client, the other way.
    const back = pattern(300, 11);
    expect(sendParts(server, [back.subarray(0, 1), back.subarray(1)])).toBe(300);

    await peekAll(server, 1000);
    await peekAll(client, 300);

    // Peek twice at different offsets with the peekOffset argument: same bytes as sent.
    const buf = new Uint8Array(2000);
    expect(recvPeek(server, buf, 0, 200, 0)).toBe(200);
    expect(buf.subarray(0, 200)).toEqual(data.subarray(0, 200));
    expect(recvPeek(server, buf, 500, 300, 200)).toBe(300);
    expect(buf.subarray(500, 800)).toEqual(data.subarray(200, 500));
    // Everything queued lies before the offset: nothing new.
    expect(recvPeek(server, buf, 0, 100, 1000)).toBe(-1);

    if (supported) {
      // The kernel keeps the position: two peeks of 250 give consecutive bytes.
      setPeekOffset(server, 0);
      expect(recvPeek(server, buf, 0, 250)).toBe(250);
      expect(recvPeek(server, buf, 250, 250)).toBe(250);
      expect(buf.subarray(0, 500)).toEqual(data.subarray(0, 500));
      // Dropping 400 moves the peek position back with it (500 -> 100).
      expect(recvDiscard(server, 400)).toBe(400);
      expect(recvPeek(server, buf, 0, 2000)).toBe(500);
      expect(buf.subarray(0, 500)).toEqual(data.subarray(500, 1000));
      // Rewind, as on a retransmission: the rest from its start.
      setPeekOffset(server, 0);
      expect(recvPeek(server, buf, 0, 2000)).toBe(600);
      expect(buf.subarray(0, 600)).toEqual(data.subarray(400));
      setPeekOffset(server, -1);
    } else {
      expect(recvDiscard(server, 400)).toBe(400);
      expect(recvPeek(server, buf, 0, 2000)).toBe(600);
      expect(buf.subarray(0, 600)).toEqual(data.subarray(400));
    }

    // Drop the rest; nothing is queued now.
    expect(recvDiscard(server, 10000)).toBe(600);
    expect(recvPeek(server, buf)).toBe(-1);
    expect(recvDiscard(server, 10)).toBe(-1);

    // The client's direction, peeked with the offset argument and then dropped.
    expect(recvPeek(client, buf, 0, 100, 200)).toBe(100);
    expect(buf.subarray(0, 100)).toEqual(back.subarray(200));
    expect(recvDiscard(client, 300)).toBe(300);

    // TCP_INFO on an established loopback connection.
    for (const fd of [client, server]) {
      const info = tcpInfo(fd);
      expect(info.state).toBe(TcpState.ESTABLISHED);
      expect(info.length).toBeGreaterThanOrEqual(104);
      expect(info.sndMss).toBeGreaterThan(500);
      expect(info.sndMss).toBeLessThanOrEqual(65536);
      expect(info.rcvMss).toBeGreaterThan(0);
      expect(info.sndWscale).toBeGreaterThanOrEqual(0);
      expect(info.sndWscale).toBeLessThanOrEqual(14);
      expect(info.rcvWscale).toBeLessThanOrEqual(14);
      expect(info.sndCwnd).toBeGreaterThan(0);
      expect(info.rtt).toBeGreaterThan(0);
      if (info.length >= 232) expect(info.sndWnd).toBeGreaterThan(0);
      else expect(info.sndWnd).toBeUndefined();
    }
    const sent = await until(() => tcpInfo(client), (i) => i.bytesAcked === 1001);
    expect(sent.bytesAcked).toBe(1001); // 1000 bytes and the SYN
    expect(tcpInfo(server).bytesReceived).toBe(1000);
    expect(tcpInfo(client).notsentBytes).toBe(0);

    // End of stream: shutdown(write) on the client, 0 at the server.
    shutdown(client, "write");
    const eof = await until(() => recvPeek(server, buf), (n) => n >= 0);
    expect(eof).toBe(0);
    expect(recvDiscard(server, 10)).toBe(0);
    expect(tcpInfo(server).state).toBe(TcpState.CLOSE_WAIT);
    expect((await until(() => tcpInfo(client), (i) => i.state === TcpState.FIN_WAIT2)).state).toBe(TcpState.FIN_WAIT2);
    // The server can still write back, then ends too.
    expect(sendParts(server, [pattern(10, 1)])).toBe(10);
    shutdown(server, "both");
    await peekAll(client, 10);
    expect(recvDiscard(client, 10)).toBe(10);
    expect(await until(() => recvPeek(client, buf), (n) => n >= 0)).toBe(0);
  });

  it("shows an end of stream behind data still queued", async () => {
    const { client, server } = await pair(family);
    expect(sendParts(client, [pattern(50, 9)])).toBe(50);
    shutdown(client, "write");
    await until(() => tcpInfo(server), (i) => i.state === TcpState.CLOSE_WAIT);
    const buf = new Uint8Array(100);
    // With the offset argument, nothing past the 50 queued bytes: -1, the
    // end shows in the state (CLOSE_WAIT above).
    expect(recvPeek(server, buf, 0, 100, 50)).toBe(-1);
    if (supported) {
      setPeekOffset(server, 0);
      expect(recvPeek(server, buf)).toBe(50);
      // The kernel's peek offset at the end of the data, FIN behind it.
      // The kernel's peek position at the end of the data, FIN behind it:
      // end of stream (Linux 6.18), unlike the offset argument.
      expect(recvPeek(server, buf)).toBe(0);
    }
    expect(recvDiscard(server, 100)).toBe(50);
    expect(recvPeek(server, buf)).toBe(0);
  });

  it("reports ECONNREFUSED from a closed port through socketError", async () => {
    // A port that was just bound and closed again is free and refuses.
    const probe = tcpSocket(family);
    bind(probe, family, loopback(family), 0);
    const port = getsockname(probe).port;
    close(probe);
    const fd = track(tcpSocket(family));
    let r: string;
    try {
      r = tcpConnect(fd, family, loopback(family), port);
    } catch (e) {
      // Loopback may refuse at once.
      expect((e as { code: string }).code).toBe("ECONNREFUSED");
      console.log(`IPv${family}: connect refused at once`);
      return;
    }
    expect(r).toBe("in-progress");
    await waitWritable(fd);
    expect(socketError(fd)).toBe("ECONNREFUSED");
    expect(socketError(fd)).toBeNull(); // reading SO_ERROR clears it
  });

  it("gets and sets MSS and buffer sizes", async () => {
    const fd = track(tcpSocket(family));
    setMaxSeg(fd, 1200);
    expect(getMaxSeg(fd)).toBe(1200);
    setRcvBuf(fd, 65536);
    setSndBuf(fd, 65536);
    expect(getRcvBuf(fd)).toBeGreaterThanOrEqual(65536);
    expect(getSndBuf(fd)).toBeGreaterThanOrEqual(65536);
    const { client } = await pair(family);
    expect(getMaxSeg(client)).toBeGreaterThan(500);
    const info = tcpInfo(fd);
    expect(info.state).toBe(TcpState.CLOSE);
  });

  it("splices bytes from one connection to another through a pipe", async () => {
    const a = await pair(family);
    const b = await pair(family);
    const [rd, wr] = pipe2();
    track(rd);
    track(wr);
    expect(setPipeSize(wr, 1 << 20)).toBeGreaterThanOrEqual(1 << 20);
    expect(splice(a.server, wr, 65536)).toBe(-1); // nothing queued yet
    expect(splice(rd, b.client, 65536)).toBe(-1); // empty pipe

    const data = pattern(200_000, 5);
    let sent = 0;
    let got = 0;
    const out = new Uint8Array(data.length);
    const end = Date.now() + 10000;
    let aDone = false;
    while ((got < data.length || !aDone) && Date.now() < end) {
      if (sent < data.length) {
        const n = sendParts(a.client, [data.subarray(sent, Math.min(data.length, sent + 32768))]);
        if (n > 0) sent += n;
        if (sent === data.length) shutdown(a.client, "write");
      }
      if (!aDone) {
        const n = splice(a.server, wr, 1 << 20, true);
        if (n === 0) aDone = true;
      }
      splice(rd, b.client, 1 << 20);
      const n = recvPeek(b.server, out, got, out.length - got);
      if (n > 0) got += recvDiscard(b.server, n);
      else await sleep(0);
    }
    expect(got).toBe(data.length);
    expect(out).toEqual(data);
    // a's end of stream, carried over as shutdown(write) on b.
    expect(aDone).toBe(true);
    shutdown(b.client, "write");
    expect(await until(() => recvPeek(b.server, out), (n) => n >= 0)).toBe(0);
  });
});

describe.each([4, 6] as const)("TCP slab calls over IPv%i", (family) => {
  it("sends pieces of a slab in one call and peeks them back over pieces, with and without a skip", async () => {
    const { client, server } = await pair(family);
    setReuseAddr(server);
    const slab = pattern(4096, 5);
    // Three pieces with gaps between them, as payloads between guest headers.
    const desc = Uint32Array.of(100, 300, 1000, 500, 2000, 200);
    expect(sendPieces(client, slab, desc, 3)).toBe(1000);
    const sent = new Uint8Array([...slab.subarray(100, 400), ...slab.subarray(1000, 1500), ...slab.subarray(2000, 2200)]);
    await peekAll(server, 1000);
    expect(inQueue(server)).toBe(1000);
    // Peek into two frames' payload rooms, 64 bytes apart.
    const into = new Uint8Array(2048);
    const rooms = Uint32Array.of(64, 400, 528, 400);
    expect(recvPeekPieces(server, into, rooms, 2)).toBe(800);
    expect(into.subarray(64, 464)).toEqual(sent.subarray(0, 400));
    expect(into.subarray(528, 928)).toEqual(sent.subarray(400, 800));
    // With 800 bytes in flight skipped: the rest lands in the first room.
    expect(recvPeekPieces(server, into, rooms, 2, 800)).toBe(200);
    expect(into.subarray(64, 264)).toEqual(sent.subarray(800, 1000));
    // Everything queued lies within the skip: nothing new.
    expect(recvPeekPieces(server, into, rooms, 2, 1000)).toBe(-1);
    expect(recvDiscard(server, 1000)).toBe(1000);
    expect(recvPeekPieces(server, into, rooms, 2)).toBe(-1);
    shutdown(client, "write");
    expect(await until(() => recvPeekPieces(server, into, rooms, 2), (n) => n === 0)).toBe(0);
  });

  it("reads TCP_INFO into slots and the send queue's length", async () => {
    const { client, server } = await pair(family);
    const info = new Float64Array(TcpInfoSlot.COUNT);
    const len = tcpInfoInto(client, info);
    expect(len).toBeGreaterThan(100);
    expect(info[TcpInfoSlot.LENGTH]).toBe(len);
    expect(info[TcpInfoSlot.STATE]).toBe(TcpState.ESTABLISHED);
    expect(info[TcpInfoSlot.SND_MSS]).toBe(tcpInfo(client).sndMss);
    expect(info[TcpInfoSlot.SND_WSCALE]).toBe(tcpInfo(client).sndWscale);
    expect(outQueue(client)).toBe(0);
    expect(sendParts(client, [pattern(5000, 1)])).toBe(5000);
    await peekAll(server, 5000);
    // The peer has acknowledged it (its kernel took it), or is about to.
    expect(await until(() => outQueue(client), (n) => n === 0)).toBe(0);
    tcpInfoInto(client, info);
    expect(info[TcpInfoSlot.BYTES_ACKED]).toBe(5001);
    expect(() => tcpInfoInto(client, new Float64Array(3))).toThrow(/slots/);
  });

  it("closes with a RST after SO_LINGER 0: the peer sees ECONNRESET", async () => {
    const { client, server } = await pair(family);
    setLingerZero(server);
    close(server);
    open.splice(open.indexOf(server), 1);
    const buf = new Uint8Array(16);
    let code = "";
    await until(
      () => {
        try {
          return recvPeek(client, buf);
        } catch (e) {
          code = (e as { code: string }).code;
          return -2;
        }
      },
      (n) => n !== -1,
    );
    expect(code).toBe("ECONNRESET");
  });
});

describe("TCP errors", () => {
  it("bad descriptors give EBADF", () => {
    const buf = new Uint8Array(8);
    expectCode(() => listen(999_999, 1), "EBADF");
    expectCode(() => accept4(999_999), "EBADF");
    expectCode(() => tcpConnect(999_999, 4, "127.0.0.1", 1), "EBADF");
    expectCode(() => socketError(999_999), "EBADF");
    expectCode(() => recvPeek(999_999, buf), "EBADF");
    expectCode(() => recvPeek(999_999, buf, 0, 8, 4), "EBADF");
    expectCode(() => recvDiscard(999_999, 8), "EBADF");
    expectCode(() => sendParts(999_999, [buf]), "EBADF");
    expectCode(() => shutdown(999_999, "both"), "EBADF");
    expectCode(() => setPeekOffset(999_999, 0), "EBADF");
    expectCode(() => setNoDelay(999_999), "EBADF");
    expectCode(() => getMaxSeg(999_999), "EBADF");
    expectCode(() => tcpInfo(999_999), "EBADF");
    expectCode(() => setPipeSize(999_999, 65536), "EBADF");
    expectCode(() => splice(999_999, 999_998, 8), "EBADF");
  });

  it("malformed arguments give EINVAL before any call", () => {
    const fd = track(tcpSocket(4));
    const buf = new Uint8Array(8);
    expectCode(() => recvPeek(fd, buf, 4, 8), "EINVAL");
    expectCode(() => shutdown(fd, "sideways" as "both"), "EINVAL");
    expectCode(() => tcpConnect(fd, 4, "not an address", 80), "EINVAL");
    expectCode(() => tcpSocket(5 as Family), "EINVAL");
    // Not connected: the kernel's own answer.
    expectCode(() => shutdown(fd, "write"), "ENOTCONN");
  });
});
