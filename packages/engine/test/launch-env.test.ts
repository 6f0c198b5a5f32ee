import { describe, expect, it } from "vitest";
import { envForNode, HIDDEN_PREFIX, restoreHiddenEnv } from "../src/launch-env.js";

describe("the variables kept from Node", () => {
  it("envForNode moves NODE_EXTRA_CA_CERTS aside, drops what it is told, keeps the rest", () => {
    const env = { NODE_EXTRA_CA_CERTS: "/etc/ca.pem", PATH: "/bin", STAGE: "x", EMPTY: "" };
    expect(envForNode(["STAGE"], env).sort()).toEqual(["EMPTY=", `${HIDDEN_PREFIX}NODE_EXTRA_CA_CERTS=/etc/ca.pem`, "PATH=/bin"]);
  });

  it("restoreHiddenEnv gives each hidden variable its name back, and only those", () => {
    const env: NodeJS.ProcessEnv = { [`${HIDDEN_PREFIX}NODE_EXTRA_CA_CERTS`]: "/etc/ca.pem", [HIDDEN_PREFIX]: "odd", PATH: "/bin" };
    restoreHiddenEnv(env);
    expect(env).toEqual({ NODE_EXTRA_CA_CERTS: "/etc/ca.pem", PATH: "/bin" });
  });

  it("what envForNode hides, restoreHiddenEnv restores as it was", () => {
    const env = { NODE_EXTRA_CA_CERTS: "a=b c", HOME: "/root" };
    const back: NodeJS.ProcessEnv = Object.fromEntries(envForNode([], env).map((e) => [e.slice(0, e.indexOf("=")), e.slice(e.indexOf("=") + 1)]));
    restoreHiddenEnv(back);
    expect(back).toEqual(env);
  });
});
