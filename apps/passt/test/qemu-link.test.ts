/**
 * qemu's framing over a real UNIX socket pair, without qemu: a Node client
 * plays qemu, QemuConnection is passt's side. No privileges needed.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { accept, close, unixListen } from "@x/syscalls";
import { Log } from "@x/engine";
import { until } from "@x/harness";
import { QemuConnection, QemuSink } from "../src/qemu-link.js";

const cleanups: (() => void)[] = [];
afterEach(() => {
  while (cleanups.length) cleanups.pop()?.();
});

function frame(n: number, tag: number): Uint8Array {
  const f = new Uint8Array(n);
  for (let i = 0; i < n; i++) f[i] = (tag + i) & 0xff;
  return f;
}

function prefixed(f: Uint8Array): Buffer {
  const b = Buffer.alloc(4 + f.length);
  b.writeUInt32BE(f.length, 0);
  b.set(f, 4);
  return b;
}

/** A connected pair: a Node client socket and passt's QemuConnection. */
async function pair(): Promise<{ client: Socket; conn: QemuConnection; frames: Uint8Array[]; closed: string[] }> {
  const dir = mkdtempSync(join(tmpdir(), "qemu-link-"));
  const path = join(dir, "s");
  const lfd = unixListen(path);
  cleanups.push(() => {
    close(lfd);
    rmSync(dir, { recursive: true, force: true });
  });
  const client = connect(path);
  client.on("error", () => {});
  cleanups.push(() => client.destroy());
  let fd = -1;
  await until(() => (fd = accept(lfd)) >= 0, 3_000, "accept");
  const frames: Uint8Array[] = [];
  const closed: string[] = [];
  const conn = new QemuConnection(
    fd,
    (slab, offs, lens, n) => {
      for (let i = 0; i < n; i++) frames.push(slab.slice(offs[i] as number, (offs[i] as number) + (lens[i] as number)));
    },
    (reason) => closed.push(reason),
    new Log("test", "error"),
  );
  conn.start();
  cleanups.push(() => conn.close("test over"));
  return { client, conn, frames, closed };
}

describe("QemuConnection", () => {
  it("reassembles frames split across writes and splits several in one write", async () => {
    const { client, frames } = await pair();
    const sent = [frame(60, 1), frame(1514, 2), frame(65000, 3), frame(14, 4), frame(60, 5)];
    const stream = Buffer.concat(sent.map(prefixed));
    // First three bytes, then odd-sized pieces, then the rest at once.
    const cuts = [3, 5, 64, 1600, 40000, stream.length];
    let at = 0;
    for (const c of cuts) {
      client.write(stream.subarray(at, c));
      at = c;
      await new Promise((r) => setTimeout(r, 5));
    }
    await until(() => frames.length === sent.length, 3_000, "all frames");
    sent.forEach((f, i) => expect(Buffer.from(frames[i] as Uint8Array).equals(Buffer.from(f))).toBe(true));
  });

  it.each([
    ["zero", 0],
    ["oversized", 0xffffffff],
  ])("delivers what came before a %s length, then closes", async (_name, bad) => {
    const { client, frames, closed } = await pair();
    const b = Buffer.alloc(4);
    b.writeUInt32BE(bad, 0);
    client.write(Buffer.concat([prefixed(frame(60, 9)), b, Buffer.from([1, 2, 3])]));
    await until(() => closed.length === 1, 3_000, "the connection to close");
    expect(frames.length).toBe(1);
    expect(closed[0]).toContain(`bad frame length ${bad}`);
    await until(() => client.destroyed || client.readableEnded, 3_000, "the client to see the close");
  });

  it("queues for a guest that does not read, never blocks, and keeps frames whole", async () => {
    const { client, conn } = await pair();
    client.pause();
    const sink = new QemuSink();
    sink.attach(conn.stream);
    const slab = new Uint8Array(4 + 1500);
    slab.set(frame(1500, 7), 4);
    const offs = new Uint32Array([4]);
    const lens = new Uint32Array([1500]);
    let accepted = 0;
    for (let i = 0; i < 3000; i++) accepted += sink.sendFrames(slab, offs, lens, 1);
    const st = conn.outStats;
    expect(accepted + st.dropped).toBe(3000);
    expect(st.dropped).toBeGreaterThan(0);
    // Now read everything: every frame must arrive whole, prefix and all.
    let got = Buffer.alloc(0);
    client.on("data", (d: Buffer) => (got = Buffer.concat([got, d])));
    client.resume();
    await until(() => got.length === accepted * 1504, 5_000, "the queue to drain");
    for (let p = 0; p < got.length; p += 1504) {
      expect(got.readUInt32BE(p)).toBe(1500);
      expect(got[p + 4]).toBe(7);
    }
  });
});
