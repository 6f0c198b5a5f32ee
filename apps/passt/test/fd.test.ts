/**
 * passt -F/--fd: a parent process opens a socket pair and hands passt one
 * end, instead of passt listening on a path. Real passt, real sockets, in a
 * namespace of its own (World's host side gives it a template interface):
 * the guest side gets a DHCP offer through the adopted socket, and when the
 * parent closes its end passt stops with status 0, as --one-off does. A
 * descriptor that is not a stream socket is a one-line error.
 */
import { describe, expect, it, beforeAll, afterAll } from "vitest";
import { fileURLToPath } from "node:url";
import { HOST4, World, isRoot } from "@x/harness";
import { CLI, run } from "./lab.js";

const PARENT = fileURLToPath(new URL("./fixtures/fd-parent.py", import.meta.url));

describe.runIf(isRoot())("passt -F/--fd", () => {
  let world: World;
  beforeAll(() => {
    world = new World("pf");
  });
  afterAll(() => world?.remove());

  it("serves the guest on an inherited socket and stops when it closes", async () => {
    const r = await run(["ip", "netns", "exec", world.host.name, "/usr/bin/python3", PARENT, process.execPath, CLI], 40_000);
    const line = r.out.trim().split("\n").pop() ?? "";
    const got = JSON.parse(line) as { offer: { type: number; yiaddr: string; xid: number } | null; exit: number | string; stderr: string };
    expect(got.offer, got.stderr).toEqual({ type: 2, yiaddr: HOST4, xid: 0x1234 });
    expect(got.exit, got.stderr).toBe(0);
  }, 60_000);

  it("refuses a descriptor that is not a stream socket, in one line", async () => {
    // fd 5 is /dev/null here: open, but no socket.
    const r = await run(["sh", "-c", `exec "$0" "$1" -f -t none --fd 5 5</dev/null`, process.execPath, CLI], 20_000);
    expect(r.code).toBe(1);
    expect(r.err.trim().split("\n")).toHaveLength(1);
    expect(r.err).toMatch(/--fd 5: .*ENOTSOCK/);
  });
});
