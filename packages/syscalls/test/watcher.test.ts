import { describe, expect, it } from "vitest";
import { READABLE, RecvBatch, SendBatch, Watcher, bind, close, getsockname, recvmmsg, sendmmsg, setBufferSizes, udpSocket } from "../src/index.js";

describe("Watcher on Node's event loop", () => {
  it("fires under a burst of 10,000 datagrams, loses no wake-up, and timers keep ticking", async () => {
    const rx = udpSocket(4);
    const tx = udpSocket(4);
    bind(rx, 4, "127.0.0.1", 0);
    setBufferSizes(rx, 4 << 20, 0);
    const port = getsockname(rx).port;
    const batch = new RecvBatch(64, 256, 0);
    let received = 0;
    let wakeups = 0;
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 1);
    const before = Watcher.count();
    const total = 10_000;

    const done = new Promise<void>((resolve) => {
      const w = new Watcher(rx, READABLE, (status, events) => {
        expect(status).toBe(0);
        expect(events & READABLE).toBe(READABLE);
        wakeups++;
        for (let n = recvmmsg(rx, batch); n > 0; n = recvmmsg(rx, batch)) received += n;
        if (received >= total) {
          w.close();
          resolve();
        }
      });
    });

    const slab = new Uint8Array(64);
    const send = new SendBatch(100);
    for (let i = 0; i < 100; i++) send.push(0, 64, 4, new Uint8Array([127, 0, 0, 1]), port);
    for (let sent = 0; sent < total; ) {
      let k = 0;
      while (k < 100) k += sendmmsg(tx, slab, send, k);
      sent += 100;
      // Let the loop run between bursts, as a real sender's pacing would.
      await new Promise((r) => setImmediate(r));
      if (sent % 2000 === 0) await new Promise((r) => setTimeout(r, 2));
    }
    await Promise.race([done, new Promise((_, rej) => setTimeout(() => rej(new Error(`only ${received} of ${total} after 10 s`)), 10_000))]);
    clearInterval(ticker);
    close(rx);
    close(tx);
    expect(received).toBe(total);
    expect(wakeups).toBeGreaterThan(1);
    expect(ticks).toBeGreaterThan(0);
    expect(Watcher.count()).toBe(before);
  });

  it("refuses a closed descriptor and a non-function callback", () => {
    const fd = udpSocket(4);
    close(fd);
    expect(() => new Watcher(fd, READABLE, () => {})).toThrow(/EBADF|uv_poll/);
    const fd2 = udpSocket(4);
    expect(() => new Watcher(fd2, READABLE, 42 as unknown as () => void)).toThrow(/not a function/);
    expect(() => new Watcher(fd2, 99, () => {})).toThrow(/events/);
    close(fd2);
  });
});
