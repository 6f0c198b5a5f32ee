import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { Netns, asUnprivileged, ensureTunOpen, isRoot, uniqueName } from "@x/harness";
import { close, netnsOpenTap, openNamespace, readBatch, writeBatch, spawn, waitPid } from "../src/index.js";

const outer = fileURLToPath(new URL("./fixtures/rootless-outer.mjs", import.meta.url));

describe("namespaces as an unprivileged user", () => {
  let lines: Record<string, unknown> = {};
  beforeAll(() => {
    ensureTunOpen();
    const text = execFileSync(asUnprivileged([process.execPath, outer])[0] as string, asUnprivileged([process.execPath, outer]).slice(1), {
      encoding: "utf8",
      timeout: 30_000,
    });
    for (const line of text.split("\n").filter((l) => l.startsWith("{"))) lines = { ...lines, ...JSON.parse(line) };
  });

  it("runs `id -u` and `ip link` in a new user and network namespace and passes the exit status back", () => {
    expect(lines.helperCode).toBe(0);
    const out = String(lines.helper).trim().split("\n");
    expect(out[0]).toBe("0");
    expect(out.slice(1).join("\n")).toMatch(/^1: lo:/);
    expect(out).toHaveLength(2);
    expect(lines.failingCode).toBe(7);
  });

  it("opens a tap and sockets inside a namespace on helper threads while the main thread stays in the host's", () => {
    expect(lines.innerCode).toBe(0);
    expect(lines.uid).toBe(0);
    expect(lines.tap).toBe("tap0");
    expect(lines.bound).toEqual(["127.0.0.1", "::1"]);
    expect(lines.sent).toBe(1);
    expect(lines.received).toBe(1);
    expect(lines.payload).toBe("hello");
    expect(lines.linkCode).toBe(0);
    expect(String(lines.links)).toMatch(/tap0:.*UP/);
    expect(lines.mainStill).toBe(true);
    expect(lines.threadStill).toBe(true);
    expect(lines.nsDiffers).toBe(true);
  });
});

describe.runIf(isRoot())("a tap device exchanging frames with the kernel", () => {
  let ns: Netns;
  beforeAll(() => {
    ns = new Netns(uniqueName("xsys"));
  });
  afterAll(() => ns?.remove());

  it("gets an ARP reply from the namespace's kernel", async () => {
    const nsFd = openNamespace(ns.path);
    const tap = netnsOpenTap(nsFd, { name: "xtap0", up: true });
    close(nsFd);
    ns.sh(["ip", "addr", "add", "198.51.100.1/24", "dev", "xtap0"]);
    const ourMac = [0x02, 0x00, 0x00, 0x00, 0x00, 0x02];
    // An ARP request: who has 198.51.100.1? tell 198.51.100.2.
    const frame = new Uint8Array([
      0xff, 0xff, 0xff, 0xff, 0xff, 0xff, ...ourMac, 0x08, 0x06,
      0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x01, ...ourMac, 198, 51, 100, 2,
      0, 0, 0, 0, 0, 0, 198, 51, 100, 1,
    ]);
    expect(writeBatch(tap.fd, frame, new Uint32Array([0, frame.length]), 1)).toBe(1);
    const slab = new Uint8Array(4 * 2048);
    const lengths = new Uint32Array(4);
    let reply: Uint8Array | undefined;
    const end = Date.now() + 5000;
    while (!reply && Date.now() < end) {
      const n = readBatch(tap.fd, slab, 2048, 0, 4, lengths);
      for (let i = 0; i < n; i++) {
        const f = slab.subarray(i * 2048, i * 2048 + (lengths[i] as number));
        if (f[12] === 0x08 && f[13] === 0x06 && f[21] === 2) reply = f;
      }
      if (!reply) await new Promise((r) => setTimeout(r, 10));
    }
    close(tap.fd);
    expect(reply).toBeDefined();
    const r = reply as Uint8Array;
    expect(Array.from(r.subarray(0, 6))).toEqual(ourMac);
    expect(Array.from(r.subarray(28, 32))).toEqual([198, 51, 100, 1]);
    expect(Array.from(r.subarray(38, 42))).toEqual([198, 51, 100, 2]);
  });

  it("passes a child's exit status and signal back", async () => {
    expect((await waitPid(spawn({ argv: ["sh", "-c", "exit 3"] }))).code).toBe(3);
    const st = await waitPid(spawn({ argv: ["sh", "-c", "kill -TERM $$"] }));
    expect(st.signal).toBe(15);
  });
});
