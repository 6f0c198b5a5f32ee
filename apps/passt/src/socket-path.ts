/**
 * Where passt listens for qemu.
 *
 * Theory of operation
 *
 * qemu connects to a UNIX stream socket, so passt needs a path that is not
 * already someone else's. With -s PATH the user chose it; otherwise we look
 * for the first free name in /tmp/passt_1.socket .. /tmp/passt_64.socket, the
 * names the C passt uses, so that scripts written for it keep working.
 *
 * A path is "free" when nobody accepts connections on it. We find out by
 * connecting to it:
 *   - ENOENT: nothing there, bind;
 *   - ECONNREFUSED: a socket file left behind by a process that is gone
 *     (passt killed with SIGKILL): remove it and bind;
 *   - connected: a live passt (or anything else) owns it: try the next name,
 *     or, for -s, fail with a message naming the path;
 *   - anything else (EACCES on another user's socket...): not ours, skip.
 * Probing and binding are two steps, so two passt started at once may race
 * for a name; the loser's bind fails with EADDRINUSE and it moves on.
 *
 * The probe is a blocking connect(), which returns at once on a listening
 * UNIX socket unless its backlog is full; a passt drains its backlog
 * promptly (second clients are accepted and closed), so in practice it never
 * waits.
 */
import { unlinkSync } from "node:fs";
import { close, hasCode, unixConnect, unixListen } from "@x/syscalls";

export const DEFAULT_SOCKET_FIRST = 1;
export const DEFAULT_SOCKET_LAST = 64;

/** The i-th default socket path, as the C passt names it. */
export function defaultSocketPath(i: number): string {
  return `/tmp/passt_${i}.socket`;
}

export interface Listening {
  fd: number;
  path: string;
}

type Probe = "free" | "stale" | "busy";

/** What is at `path` now, judged by a connection attempt. */
export function probeSocket(path: string): Probe {
  let fd: number;
  try {
    fd = unixConnect(path);
  } catch (e) {
    if (hasCode(e, "ENOENT")) return "free";
    if (hasCode(e, "ECONNREFUSED")) return "stale";
    return "busy";
  }
  close(fd);
  return "busy";
}

/** Binds and listens at `path` after removing a stale socket file; throws as bind does. */
function listenReplacing(path: string, probe: Probe): number {
  if (probe === "stale") {
    try {
      unlinkSync(path);
    } catch {
      /* someone else removed it first: bind decides */
    }
  }
  return unixListen(path, 8);
}

/**
 * Listens at `wanted`, or at the first free default path.
 * Throws an Error with a one-line message when no path can be had.
 */
export function listenForQemu(wanted?: string): Listening {
  if (wanted !== undefined) {
    const probe = probeSocket(wanted);
    if (probe === "busy") throw new Error(`socket path ${wanted} already in use`);
    try {
      return { fd: listenReplacing(wanted, probe), path: wanted };
    } catch (e) {
      throw new Error(`cannot listen on ${wanted}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  for (let i = DEFAULT_SOCKET_FIRST; i <= DEFAULT_SOCKET_LAST; i++) {
    const path = defaultSocketPath(i);
    const probe = probeSocket(path);
    if (probe === "busy") continue;
    try {
      return { fd: listenReplacing(path, probe), path };
    } catch {
      /* lost a race, or not ours to replace: next name */
    }
  }
  throw new Error(
    `no free socket path among ${defaultSocketPath(DEFAULT_SOCKET_FIRST)} .. ${defaultSocketPath(DEFAULT_SOCKET_LAST)}: give one with -s`,
  );
}
