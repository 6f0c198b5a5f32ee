/**
 * The end-to-end topology of ARCHITECTURE.md, built from namespaces.
 *
 *   remote ns                         host ns (passt/pasta runs here)
 *   ┌──────────────────────┐  veth   ┌───────────────────────────────┐
 *   │ lo:    198.51.100.1  │─────────│ 203.0.113.2/24, 2001:db8:1::2 │
 *   │        2001:db8:2::1 │ .1  ::1 │ default via .1 / 2001:db8:1::1│
 *   └──────────────────────┘         └───────────────────────────────┘
 *
 * The remote namespace plays the internet: a "server" at 198.51.100.1 and
 * 2001:db8:2::1 behind the host's default gateway 203.0.113.1 /
 * 2001:db8:1::1. Nothing leaves these namespaces.
 */
import { Netns, uniqueName, veth } from "./index.js";

export const REMOTE4 = "198.51.100.1";
export const REMOTE6 = "2001:db8:2::1";
export const HOST4 = "203.0.113.2";
export const HOST6 = "2001:db8:1::2";
export const GW4 = "203.0.113.1";
export const GW6 = "2001:db8:1::1";

export class World {
  readonly host: Netns;
  readonly remote: Netns;

  constructor(prefix = "w") {
    this.host = new Netns(uniqueName(`${prefix}h`));
    this.remote = new Netns(uniqueName(`${prefix}r`));
    try {
      veth(this.host, "eth0", [`${HOST4}/24`, `${HOST6}/64`], this.remote, "eth0", [`${GW4}/24`, `${GW6}/64`]);
      // The remote server's addresses live on its loopback: no dummy driver needed.
      this.remote.sh(["ip", "addr", "add", `${REMOTE4}/32`, "dev", "lo"]);
      this.remote.sh(["ip", "addr", "add", `${REMOTE6}/128`, "dev", "lo", "nodad"]);
      this.host.sh(["ip", "route", "add", "default", "via", GW4]);
      this.host.sh(["ip", "-6", "route", "add", "default", "via", GW6]);
      this.remote.sh(["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
    } catch (e) {
      this.remove();
      throw e;
    }
  }

  remove(): void {
    this.host.remove();
    this.remote.remove();
  }
}
