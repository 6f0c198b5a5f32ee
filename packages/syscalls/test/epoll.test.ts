import { describe, expect, it } from "vitest";
import { Epoll, EpollSet, accept4, bind, close, getsockname, listen, sendParts, tcpConnect, tcpSocket, recvDiscard } from "../src/index.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function pair(): Promise<{ l: number; c: number; s: number }> {
  const l = tcpSocket(4);
  bind(l, 4, "127.0.0.1", 0);
  listen(l, 4);
  const c = tcpSocket(4);
  tcpConnect(c, 4, "127.0.0.1", getsockname(l).port);
  let s = -1;
  for (let i = 0; i < 500 && s < 0; i++) {
    s = accept4(l).fd;
    if (s < 0) await sleep(2);
  }
  return { l, c, s };
}

describe("EpollSet", () => {
  it("reports edge-triggered readiness once per arrival, with its token, and level-triggered until drained", async () => {
    const { l, c, s } = await pair();
    const seen: [number, number][] = [];
    const set = new EpollSet((token, events) => seen.push([token, events]));
    set.add(s, Epoll.IN | Epoll.RDHUP | Epoll.EDGE, 7);
    sendParts(c, [new Uint8Array(100)]);
    await sleep(50);
    // Edge: one report although the data stays queued.
    expect(seen.filter(([t]) => t === 7).length).toBe(1);
    expect((seen[0] as [number, number])[1] & Epoll.IN).toBe(Epoll.IN);
    sendParts(c, [new Uint8Array(100)]);
    await sleep(50);
    expect(seen.length).toBe(2);
    // Level-triggered now: reported on every turn while queued; drain stops it.
    set.modify(s, Epoll.IN, 9);
    await sleep(30);
    const level = seen.filter(([t]) => t === 9).length;
    expect(level).toBeGreaterThan(1);
    expect(recvDiscard(s, 200)).toBe(200);
    await sleep(20);
    const after = seen.filter(([t]) => t === 9).length;
    await sleep(30);
    expect(seen.filter(([t]) => t === 9).length).toBe(after);
    // The peer's end shows as RDHUP.
    set.modify(s, Epoll.IN | Epoll.RDHUP | Epoll.EDGE, 11);
    close(c);
    await sleep(50);
    const end = seen.find(([t]) => t === 11);
    expect(end && end[1] & Epoll.RDHUP).toBe(Epoll.RDHUP);
    set.remove(s);
    set.remove(s);
    set.close();
    close(s);
    close(l);
  });

  it("refuses unknown event bits", () => {
    const set = new EpollSet(() => {});
    const fd = tcpSocket(4);
    expect(() => set.add(fd, 64, 1)).toThrow(/epoll events/);
    set.close();
    close(fd);
  });
});
