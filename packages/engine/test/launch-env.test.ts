import { describe, expect, it } from "vitest";
import { ADDED, envForNode, HIDDEN_PREFIX, MALLOC_TUNABLE, restoreHiddenEnv } from "../src/launch-env.js";

const asEnv = (entries: string[]): NodeJS.ProcessEnv =>
  Object.fromEntries(entries.map((e) => [e.slice(0, e.indexOf("=")), e.slice(e.indexOf("=") + 1)]));

describe("the environment Node starts with", () => {
  it("envForNode moves NODE_EXTRA_CA_CERTS aside, adds the malloc tunable, drops what it is told, keeps the rest", () => {
    const env = { NODE_EXTRA_CA_CERTS: "/etc/ca.pem", PATH: "/bin", STAGE: "x", EMPTY: "" };
    expect(envForNode(["STAGE"], env).sort()).toEqual(
      ["EMPTY=", `${HIDDEN_PREFIX}NODE_EXTRA_CA_CERTS=/etc/ca.pem`, "PATH=/bin", `GLIBC_TUNABLES=${MALLOC_TUNABLE}`, `${ADDED}=GLIBC_TUNABLES`].sort(),
    );
  });

  it("appends the malloc tunable to the user's GLIBC_TUNABLES and keeps theirs to restore", () => {
    const out = asEnv(envForNode([], { GLIBC_TUNABLES: "glibc.malloc.arena_max=2" }));
    expect(out.GLIBC_TUNABLES).toBe(`glibc.malloc.arena_max=2:${MALLOC_TUNABLE}`);
    expect(out[`${HIDDEN_PREFIX}GLIBC_TUNABLES`]).toBe("glibc.malloc.arena_max=2");
    expect(out[ADDED]).toBeUndefined();
  });

  it("restoreHiddenEnv gives each hidden variable its name back, removes the added ones, and touches nothing else", () => {
    const env: NodeJS.ProcessEnv = {
      [`${HIDDEN_PREFIX}NODE_EXTRA_CA_CERTS`]: "/etc/ca.pem",
      [HIDDEN_PREFIX]: "odd",
      GLIBC_TUNABLES: MALLOC_TUNABLE,
      [ADDED]: "GLIBC_TUNABLES",
      PATH: "/bin",
    };
    restoreHiddenEnv(env);
    expect(env).toEqual({ NODE_EXTRA_CA_CERTS: "/etc/ca.pem", PATH: "/bin" });
  });

  it.each([
    [{ NODE_EXTRA_CA_CERTS: "a=b c", HOME: "/root" }],
    [{ GLIBC_TUNABLES: "glibc.malloc.arena_max=2", HOME: "/root" }],
    [{ GLIBC_TUNABLES: "" }],
    [{}],
  ])("what envForNode changes, restoreHiddenEnv undoes: %j", (env) => {
    const back = asEnv(envForNode([], env));
    restoreHiddenEnv(back);
    expect(back).toEqual(env);
  });
});
