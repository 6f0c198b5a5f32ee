import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { Netns, isRoot, uniqueName } from "@x/harness";

// Ping sockets need a network namespace whose ping_group_range we may set,
// and Node's main thread must never change namespace: the fixture runs as
// its own process inside a throwaway namespace (root only, as in CI).
const fixture = fileURLToPath(new URL("./fixtures/ping.mjs", import.meta.url));

interface Name {
  family: number;
  address: string;
  port: number;
}
interface Echo {
  bound: Name;
  sent: number;
  received: number;
  reply?: { length: number; family: number; port: number; address: string; type: number; code: number; id: number; seq: number; data: string; truncated: boolean };
  expected?: { seq: number; data: string };
  notRequest: Refused;
  unboundName: Name;
  afterSendName: Name;
}
interface Refused {
  ok?: unknown;
  syscallError?: boolean;
  code?: string;
  syscall?: string;
  message?: string;
}

describe.runIf(isRoot())("ICMP echo (ping) sockets", () => {
  let ns: Netns | undefined;

  beforeAll(() => {
    ns = new Netns(uniqueName("xping")); // lo comes up in the constructor
  });
  afterAll(() => ns?.remove()); // kills whatever still runs inside, then deletes it

  function run(mode: "echo" | "refused", range: string): Record<"v4" | "v6", unknown> {
    const n = ns as Netns;
    n.sh(["sysctl", "-qw", `net.ipv4.ping_group_range=${range}`]);
    const text = execFileSync("ip", ["netns", "exec", n.name, process.execPath, fixture, mode], {
      encoding: "utf8",
      timeout: 20_000,
      killSignal: "SIGKILL",
      stdio: ["ignore", "pipe", "pipe"],
    });
    const line = text.split("\n").find((l) => l.startsWith("{"));
    if (!line) throw new Error(`fixture printed no result: ${text}`);
    return JSON.parse(line) as Record<"v4" | "v6", unknown>;
  }

  it("with ping_group_range \"0 2147483647\": an echo request to 127.0.0.1 and to ::1 comes back as a reply", () => {
    const r = run("echo", "0 2147483647");
    for (const [key, family, address, replyType] of [
      ["v4", 4, "127.0.0.1", 0],
      ["v6", 6, "::1", 129],
    ] as const) {
      const e = r[key] as Echo;
      expect(e.bound.family).toBe(family);
      // Port 0 at bind: the kernel chose an identifier, which getsockname reports.
      expect(e.bound.port).toBeGreaterThan(0);
      expect(e.sent).toBe(1);
      expect(e.received).toBe(1);
      const reply = e.reply!;
      expect(reply.type).toBe(replyType);
      expect(reply.code).toBe(0);
      expect(reply.seq).toBe(e.expected!.seq);
      expect(reply.data).toBe(e.expected!.data);
      // The kernel rewrote our zero identifier to the socket's bound one.
      expect(reply.id).toBe(e.bound.port);
      // The payload is the ICMP header and data only, no IP header.
      expect(reply.length).toBe(8 + e.expected!.data.length);
      expect(reply.truncated).toBe(false);
      // The record carries the source; its port field is 0 on a ping socket.
      expect(reply.family).toBe(family);
      expect(reply.address).toBe(address);
      expect(reply.port).toBe(0);
      // Anything but an echo request is refused by the kernel at send.
      expect(e.notRequest.syscallError).toBe(true);
      expect(e.notRequest.code).toBe("EINVAL");
      expect(e.notRequest.syscall).toBe("sendmmsg");
      // Unbound, a ping socket has identifier 0 until its first send picks one.
      expect(e.unboundName.port).toBe(0);
      expect(e.afterSendName.port).toBeGreaterThan(0);
    }
  }, 30_000);

  it("with ping_group_range \"1 0\" (a new namespace's default): pingSocket throws EACCES for both families", () => {
    const r = run("refused", "1 0");
    for (const [key, what] of [
      ["v4", "(icmp)"],
      ["v6", "(icmpv6)"],
    ] as const) {
      const e = r[key] as Refused;
      expect(e.ok).toBeUndefined();
      expect(e.syscallError).toBe(true);
      expect(e.code).toBe("EACCES");
      expect(e.syscall).toBe("socket");
      expect(e.message).toContain(what);
    }
  }, 30_000);
});
