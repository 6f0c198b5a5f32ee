import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { Netns, isRoot, uniqueName } from "@x/harness";
import { close, isSyscallError, netnsWriteFile, openNamespace, type SyscallError } from "../src/index.js";

const RANGE = "/proc/sys/net/ipv4/ping_group_range";

/** ping_group_range as this process's (Node's main thread's) namespace has it, blanks normalized. */
function ownRange(): string {
  return readFileSync(RANGE, "utf8").trim().split(/\s+/).join(" ");
}

/** What `f` threw, or a failure when it did not throw. */
function thrown(f: () => void): SyscallError {
  try {
    f();
  } catch (e) {
    expect(isSyscallError(e)).toBe(true);
    return e as SyscallError;
  }
  throw new Error("expected a SyscallError, nothing was thrown");
}

describe.runIf(isRoot())("netnsWriteFile: a sysctl of another network namespace", () => {
  let ns: Netns | undefined;
  let nsFd = -1;

  beforeAll(() => {
    ns = new Netns(uniqueName("xsysctl"));
    nsFd = openNamespace(ns.path);
  });
  afterAll(() => {
    try {
      if (nsFd >= 0) close(nsFd);
    } finally {
      ns?.remove();
    }
  });

  function theirRange(): string {
    const n = ns as Netns;
    return execFileSync("ip", ["netns", "exec", n.name, "sysctl", "-n", "net.ipv4.ping_group_range"], {
      encoding: "utf8",
      timeout: 10_000,
    })
      .trim()
      .split(/\s+/)
      .join(" ");
  }

  it("sets ping_group_range inside the namespace and not in ours", () => {
    const before = ownRange();
    // A new network namespace starts with ping sockets disabled.
    expect(theirRange()).toBe("1 0");
    netnsWriteFile(nsFd, RANGE, "0 2147483647");
    expect(theirRange()).toBe("0 2147483647");
    expect(ownRange()).toBe(before);
    // "5 1" is no error: the kernel turns an inverted range into "1 0" (disabled).
    netnsWriteFile(nsFd, RANGE, "5 1");
    expect(theirRange()).toBe("1 0");
    expect(ownRange()).toBe(before);
  });

  it("throws EINVAL from write() when the kernel rejects the value, and leaves the value as it was", () => {
    netnsWriteFile(nsFd, RANGE, "0 2147483647");
    for (const bad of ["x", "0 4294967295"]) {
      const e = thrown(() => netnsWriteFile(nsFd, RANGE, bad));
      expect(e.code).toBe("EINVAL");
      expect(e.syscall).toBe("write");
      expect(e.message).toContain(RANGE);
    }
    expect(theirRange()).toBe("0 2147483647");
  });

  it("throws ENOENT from open() for a missing path", () => {
    const missing = "/proc/sys/net/ipv4/no_such_sysctl";
    const e = thrown(() => netnsWriteFile(nsFd, missing, "1"));
    expect(e.code).toBe("ENOENT");
    expect(e.syscall).toBe("open");
    expect(e.message).toContain(missing);
  });

  it("throws EINVAL from setns() for a descriptor that is not a network namespace", () => {
    const fd = openNamespace("/proc/self/ns/user", "user");
    try {
      const e = thrown(() => netnsWriteFile(fd, RANGE, "0 0"));
      expect(e.code).toBe("EINVAL");
      expect(e.syscall).toBe("setns");
    } finally {
      close(fd);
    }
    expect(theirRange()).toBe("0 2147483647");
  });
});
