import { describe, expect, it } from "vitest";
import {
  RecvBatch,
  SendBatch,
  bind,
  close,
  connect,
  isSyscallError,
  openNamespace,
  recvmmsg,
  sendmmsg,
  spawn,
  udpSocket,
  unixListen,
  writev,
  read,
  guard,
} from "../src/index.js";
import { native } from "../src/native.js";

function codeOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (!isSyscallError(e)) throw e;
    expect(e.message.length).toBeGreaterThan(5);
    expect(e.syscall.length).toBeGreaterThan(0);
    return e.code;
  }
  throw new Error("no error thrown");
}

describe("bad input gives the promised errors, never a crash", () => {
  it("a closed descriptor is EBADF, naming the call", () => {
    const fd = udpSocket(4);
    close(fd);
    expect(codeOf(() => close(fd))).toBe("EBADF");
    expect(codeOf(() => recvmmsg(fd, new RecvBatch(4, 128, 0)))).toBe("EBADF");
    expect(codeOf(() => read(fd, new Uint8Array(10)))).toBe("EBADF");
    expect(codeOf(() => writev(fd, [new Uint8Array(3)]))).toBe("EBADF");
    try {
      close(fd);
    } catch (e) {
      expect((e as { syscall: string }).syscall).toBe("close");
    }
  });

  it("an undersized buffer is EINVAL before any system call", () => {
    const fd = udpSocket(4);
    try {
      expect(codeOf(() => guard(() => native.recvmmsg(fd, new Uint8Array(100), 64, 0, 4, new Uint8Array(128))))).toBe("EINVAL");
      expect(codeOf(() => guard(() => native.recvmmsg(fd, new Uint8Array(1024), 256, 0, 4, new Uint8Array(16))))).toBe("EINVAL");
      expect(codeOf(() => guard(() => native.recvmmsg(fd, new Uint8Array(1024), 256, 256, 4, new Uint8Array(128))))).toBe("EINVAL");
      const b = new SendBatch(1);
      b.push(90, 20);
      expect(codeOf(() => sendmmsg(fd, new Uint8Array(100), b))).toBe("EINVAL");
      expect(codeOf(() => read(fd, new Uint8Array(10), 5, 10))).toBe("EINVAL");
    } finally {
      close(fd);
    }
  });

  it("malformed addresses and ports are EINVAL", () => {
    const fd = udpSocket(6);
    try {
      expect(codeOf(() => bind(fd, 6, "2001:db8::zz", 0))).toBe("EINVAL");
      expect(codeOf(() => bind(fd, 6, "::1", 70000))).toBe("EINVAL");
      expect(codeOf(() => connect(fd, 4 as 6, "1.2.3", 1))).toBe("EINVAL");
      expect(codeOf(() => udpSocket(5 as 4))).toBe("EINVAL");
      expect(codeOf(() => unixListen("x".repeat(200)))).toBe("EINVAL");
    } finally {
      close(fd);
    }
  });

  it("a bad namespace path is ENOENT, a file that is not a namespace EINVAL", () => {
    expect(codeOf(() => openNamespace("/nonexistent/ns"))).toBe("ENOENT");
    expect(codeOf(() => openNamespace("/etc/hostname"))).toBe("EINVAL");
    expect(codeOf(() => openNamespace("/proc/self/ns/user", "net"))).toBe("EINVAL");
  });

  it("a program that does not exist is ENOENT from spawn", () => {
    expect(codeOf(() => spawn({ argv: ["/nonexistent/program"] }))).toBe("ENOENT");
    expect(codeOf(() => spawn({ argv: ["no-such-program-xyz"] }))).toBe("ENOENT");
    expect(codeOf(() => spawn({ argv: [] }))).toBe("EINVAL");
  });

  it("binding a port in use is EADDRINUSE", () => {
    const a = udpSocket(4);
    const b = udpSocket(4);
    try {
      bind(a, 4, "127.0.0.1", 0);
      const port = (native.getsockname(a) as { port: number }).port;
      expect(codeOf(() => bind(b, 4, "127.0.0.1", port))).toBe("EADDRINUSE");
    } finally {
      close(a);
      close(b);
    }
  });
});

describe("stream sockets", () => {
  it("completes a short write with sendmsg and sees the peer hang up", async () => {
    const { unixListen, unixConnect, accept, sendmsg, read, Watcher, HANGUP, READABLE } = await import("../src/index.js");
    const { mkdtempSync, rmSync } = await import("node:fs");
    const { join } = await import("node:path");
    const { tmpdir } = await import("node:os");
    const dir = mkdtempSync(join(tmpdir(), "xsys-"));
    const path = join(dir, "s");
    const l = unixListen(path);
    const c = unixConnect(path);
    let a = -1;
    for (let i = 0; i < 100 && a < 0; i++) {
      a = accept(l);
      if (a < 0) await new Promise((r) => setTimeout(r, 5));
    }
    expect(a).toBeGreaterThanOrEqual(0);
    // Fill the socket until a write is cut short, then drain and complete it.
    const chunk = new Uint8Array(65536).fill(7);
    let sent = 0;
    for (;;) {
      const n = sendmsg(c, [chunk.subarray(0, 4), chunk]);
      if (n < 0) break;
      sent += n;
    }
    const buf = new Uint8Array(1 << 20);
    let got = 0;
    for (let n = read(a, buf); n > 0; n = read(a, buf)) got += n;
    expect(got).toBe(sent);
    expect(sendmsg(c, [new Uint8Array([1, 2, 3])])).toBe(3);
    const hup = new Promise<number>((resolve) => {
      const w = new Watcher(a, READABLE | HANGUP, (_s, ev) => {
        if (ev & HANGUP) {
          w.close();
          resolve(ev);
        }
      });
    });
    close(c);
    expect((await hup) & HANGUP).toBe(HANGUP);
    expect(read(a, buf)).toBe(3);
    expect(read(a, buf)).toBe(0);
    close(a);
    close(l);
    rmSync(dir, { recursive: true, force: true });
  });
});
