import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { Netns, asUnprivileged, ensureTunOpen, isRoot, uniqueName } from "@x/harness";
import {
  RecvBatch,
  close,
  netnsOpenTap,
  netnsUdpSocket,
  openNamespace,
  readBatch,
  readPacked,
  recvmmsg,
  writeBatch,
  writeGather,
  spawn,
  waitPid,
} from "../src/index.js";

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

  it("packs frames one after another, each 64-aligned after its headroom, and ends a batch when less than a frame's room is left", async () => {
    const nsFd = openNamespace(ns.path);
    const tap = netnsOpenTap(nsFd, { name: "xtap2", up: false });
    close(nsFd);
    // No IPv6 on the tap, so that the kernel sends only what we ask for.
    ns.sh(["sysctl", "-qw", "net.ipv6.conf.xtap2.disable_ipv6=1"]);
    ns.sh(["ip", "link", "set", "xtap2", "mtu", "65520", "up"]);
    ns.sh(["ip", "addr", "add", "203.0.113.1/24", "dev", "xtap2"]);
    ns.sh(["ip", "neigh", "replace", "203.0.113.2", "lladdr", "02:00:00:00:00:02", "dev", "xtap2"]);
    const sizes = [100, 1400, 9000, 50000, 30000, 20000];
    const send = `import socket; s = socket.socket(2, 2)\nfor i, n in enumerate(${JSON.stringify(sizes)}): s.sendto(bytes([i + 1]) * n, ("203.0.113.2", 4000))`;
    ns.sh(["python3", "-c", send]);
    const room = 65600;
    const slab = new Uint8Array(2 * room + 1000);
    const offsets = new Uint32Array(16);
    const lengths = new Uint32Array(16);
    const frames: { at: number; len: number; first: number }[] = [];
    for (const end = Date.now() + 5000; frames.length < sizes.length && Date.now() < end; ) {
      const n = readPacked(tap.fd, slab, room, 4, 16, offsets, lengths);
      let prevEnd = 0;
      for (let i = 0; i < n; i++) {
        const at = offsets[i] as number;
        const len = lengths[i] as number;
        // 64-aligned plus the headroom, after the previous frame, and room left for the largest.
        expect((at - 4) % 64).toBe(0);
        expect(at).toBeGreaterThanOrEqual(prevEnd + 4);
        expect(at + room).toBeLessThanOrEqual(slab.length);
        prevEnd = at + len;
        frames.push({ at, len, first: slab[at + 42] as number });
      }
      if (n === 0) await new Promise((r) => setTimeout(r, 10));
    }
    close(tap.fd);
    // Each datagram whole (Ethernet, IPv4 and UDP headers: 42 bytes), in order.
    expect(frames.map((f) => [f.len - 42, f.first])).toEqual(sizes.map((n, i) => [n, i + 1]));
    // All six were queued before the first read. The slab holds two rooms and
    // a bit: the fifth frame starts at 60804, and behind it less than a room
    // is left, so the sixth opens the next batch.
    expect(frames.map((f) => f.at)).toEqual([4, 196, 1668, 10756, 60804, 4]);
  });

  it("with a virtio-net header: frames in and out past the header, and one offload write that arrives as many datagrams", async () => {
    const nsFd = openNamespace(ns.path);
    const tap = netnsOpenTap(nsFd, { name: "xtap1", up: true, vnetHdr: true });
    ns.sh(["ip", "addr", "add", "203.0.113.1/24", "dev", "xtap1"]);
    ns.sh(["ip", "neigh", "replace", "203.0.113.2", "lladdr", "02:00:00:00:00:02", "dev", "xtap1"]);
    const sock = netnsUdpSocket(nsFd, { family: 4, address: "203.0.113.1", port: 5000 });
    close(nsFd);
    const hdr = new Uint8Array(12); // virtio_net_hdr_mrg_rxbuf, all zero: a plain frame
    const ourMac = [0x02, 0x00, 0x00, 0x00, 0x00, 0x02];
    const arp = new Uint8Array([
      0xff, 0xff, 0xff, 0xff, 0xff, 0xff, ...ourMac, 0x08, 0x06,
      0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x01, ...ourMac, 203, 0, 113, 2,
      0, 0, 0, 0, 0, 0, 203, 0, 113, 1,
    ]);
    expect(writeBatch(tap.fd, arp, new Uint32Array([0, arp.length]), 1, hdr)).toBe(1);
    const slab = new Uint8Array(4 * 2048);
    const lengths = new Uint32Array(4);
    let reply = false;
    let tapMac: number[] = [];
    for (const end = Date.now() + 5000; !reply && Date.now() < end; ) {
      const n = readBatch(tap.fd, slab, 2048, 0, 4, lengths, 12);
      for (let i = 0; i < n; i++) {
        const f = slab.subarray(i * 2048, i * 2048 + (lengths[i] as number));
        // The header was skipped: the frame starts at its destination MAC.
        if (f[12] === 0x08 && f[13] === 0x06 && f[21] === 2 && f[0] === 0x02 && f[5] === 0x02) {
          reply = true;
          tapMac = Array.from(f.subarray(6, 12));
        }
      }
      if (!reply) await new Promise((r) => setTimeout(r, 10));
    }
    expect(reply).toBe(true);

    // Ten 1000-byte payloads, each in its own 2048-byte slot, behind one set of
    // headers: a UDP segmentation-offload frame (gso_type UDP_L4).
    const seg = 1000;
    const count = 10;
    const pay = new Uint8Array(count * 2048);
    const desc = new Uint32Array(2 * count);
    for (let i = 0; i < count; i++) {
      pay.fill(i + 1, i * 2048, i * 2048 + seg);
      desc[2 * i] = i * 2048;
      desc[2 * i + 1] = seg;
    }
    const udpLen = 8 + count * seg;
    const head = new Uint8Array(12 + 14 + 20 + 8);
    const dv = new DataView(head.buffer);
    head[0] = 1; // VIRTIO_NET_HDR_F_NEEDS_CSUM
    head[1] = 5; // VIRTIO_NET_HDR_GSO_UDP_L4
    dv.setUint16(2, 14 + 20 + 8, true);
    dv.setUint16(4, seg, true);
    dv.setUint16(6, 14 + 20, true);
    dv.setUint16(8, 6, true);
    head.set([...tapMac, ...ourMac, 0x08, 0x00], 12);
    const ip = 12 + 14;
    head.set([0x45, 0, (20 + udpLen) >> 8, (20 + udpLen) & 0xff, 0, 0, 0x40, 0, 64, 17, 0, 0, 203, 0, 113, 2, 203, 0, 113, 1], ip);
    let sum = 0;
    for (let i = 0; i < 20; i += 2) sum += (head[ip + i]! << 8) | head[ip + i + 1]!;
    while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
    dv.setUint16(ip + 10, ~sum & 0xffff);
    // UDP header; the checksum field holds the pseudo-header sum for the kernel to finish.
    let ps = 0xcb00 + 0x7102 + 0xcb00 + 0x7101 + 17 + udpLen;
    while (ps > 0xffff) ps = (ps & 0xffff) + (ps >>> 16);
    head.set([4000 >> 8, 4000 & 0xff, 5000 >> 8, 5000 & 0xff, udpLen >> 8, udpLen & 0xff, ps >> 8, ps & 0xff], ip + 20);
    expect(writeGather(tap.fd, head, pay, desc, count)).toBe(head.length + count * seg);

    const batch = new RecvBatch(32, 2048, 0);
    const got: number[][] = [];
    for (const end = Date.now() + 5000; got.length < count && Date.now() < end; ) {
      const n = recvmmsg(sock, batch);
      for (let i = 0; i < n; i++) {
        const p = batch.slab.subarray(batch.payloadOffset(i), batch.payloadOffset(i) + batch.length(i));
        got.push([p.length, p[0]!, p[p.length - 1]!]);
      }
      if (got.length < count) await new Promise((r) => setTimeout(r, 10));
    }
    close(sock);
    close(tap.fd);
    expect(got).toEqual(Array.from({ length: count }, (_, i) => [seg, i + 1, i + 1]));
  });

  it("passes a child's exit status and signal back", async () => {
    expect((await waitPid(spawn({ argv: ["sh", "-c", "exit 3"] }))).code).toBe(3);
    const st = await waitPid(spawn({ argv: ["sh", "-c", "kill -TERM $$"] }));
    expect(st.signal).toBe(15);
  });
});
