/**
 * Namespaces and child processes.
 *
 * Node is multithreaded from its first instruction, so it can neither enter
 * a user namespace nor move its main thread into another network namespace
 * and back. What needs another namespace happens in one of two places:
 * - a child process, forked by the native layer, joins or creates user and
 *   network namespaces before exec (`spawn`);
 * - a short-lived native thread enters a network namespace, opens a tap, a
 *   socket or a netlink socket there and hands the descriptor back
 *   (`netns*`); the main thread never moves.
 * Entering a network namespace needs CAP_SYS_ADMIN over its user namespace
 * and in our own, so a rootless caller runs inside the user namespace that
 * owns the guest's network namespace (see ARCHITECTURE.md, decision 4).
 */
import { native } from "./native.js";
import { guard } from "./errors.js";
import type { Tap, TapOptions } from "./types.js";
import type { Family } from "./batch.js";

export type NamespaceKind = "net" | "user" | "mnt" | "uts" | "ipc" | "pid";

export interface SpawnOptions {
  /** Program and arguments; a program without "/" is looked up in PATH. */
  argv: string[];
  /** "NAME=value" entries; the current environment when absent. */
  env?: string[];
  cwd?: string;
  /** Join this user namespace first (a descriptor from openNamespace). */
  usernsFd?: number;
  /** Then join this network namespace. */
  netnsFd?: number;
  /** Then create a new user namespace, mapping uid/gid as below. */
  newUser?: boolean;
  /** Then create a new network namespace. */
  newNet?: boolean;
  /** uid_map text, default "0 EUID 1". */
  uidMap?: string;
  /** gid_map text, default "0 EGID 1". */
  gidMap?: string;
  stdin?: number;
  stdout?: number;
  stderr?: number;
  /** SIGKILL the child when the spawning thread (Node's main thread) ends. */
  killWithParent?: boolean;
  newSession?: boolean;
  /** Descriptors the child keeps at the same numbers (close-on-exec cleared in the child). */
  keepFds?: number[];
}

export interface ExitStatus {
  pid: number;
  code?: number;
  signal?: number;
}

/** Starts a child; returns its pid. Setup failures throw with the failing step. */
export function spawn(options: SpawnOptions): number {
  return guard(() => native.spawn(options));
}

/** Resolves when the child ends (waitpid on libuv's thread pool). */
export function waitPid(pid: number): Promise<ExitStatus> {
  return native.waitPid(pid) as Promise<ExitStatus>;
}

/** A close-on-exec pipe, [read end, write end]. */
export function pipe(): [number, number] {
  const p = guard(() => native.pipe());
  return [p[0] as number, p[1] as number];
}

/** /proc/PID/ns/KIND. */
export function namespacePath(pid: number, kind: NamespaceKind = "net"): string {
  if (!Number.isInteger(pid) || pid <= 0) throw new RangeError(`pid ${pid} is not a positive integer`);
  return `/proc/${pid}/ns/${kind}`;
}

/** Opens a namespace file and checks its kind; returns the descriptor. */
export function openNamespace(path: string, kind: NamespaceKind = "net"): number {
  return guard(() => native.openNamespace(path, kind));
}

/** A new network namespace, made on a helper thread; the descriptor keeps it alive. */
export function createNetns(): number {
  return guard(() => native.createNetns());
}

/** A tap device opened inside the network namespace `nsFd`. */
export function netnsOpenTap(nsFd: number, options?: TapOptions): Tap {
  return guard(() => native.netnsOpenTap(nsFd, options));
}

export function netnsLinkUp(nsFd: number, name: string): void {
  guard(() => native.netnsLinkUp(nsFd, name));
}

export interface NsUdpOptions {
  family: Family;
  address?: string;
  port?: number;
  v6only?: boolean;
  scopeId?: number;
  connectAddress?: string;
  connectPort?: number;
}

/** A UDP socket created (and bound, and maybe connected) inside `nsFd`. */
export function netnsUdpSocket(nsFd: number, o: NsUdpOptions): number {
  return guard(() =>
    native.netnsUdpSocket(nsFd, {
      family: o.family,
      address: o.address,
      port: o.port,
      v6Only: o.v6only,
      scopeId: o.scopeId,
      connectAddress: o.connectAddress,
      connectPort: o.connectPort,
    }),
  );
}

/** An rtnetlink socket inside `nsFd`. */
/**
 * A TCP socket inside the namespace (pasta's -T listeners and its splice
 * connections into the guest's loopback); bind, listen and connect then
 * work from the main thread.
 */
export function netnsTcpSocket(nsFd: number, family: Family): number {
  return guard(() => native.netnsTcpSocket(nsFd, family));
}

/**
 * Up to `count` TCP sockets inside the namespace, made in one trip there
 * (one helper thread for all): a pool, so that each connection into the
 * namespace does not pay for a thread.
 */
export function netnsTcpSockets(nsFd: number, family: Family, count: number): number[] {
  return guard(() => native.netnsTcpSockets(nsFd, family, count));
}

export function netnsNetlinkSocket(nsFd: number): number {
  return guard(() => native.netnsNetlinkSocket(nsFd));
}

/**
 * Writes `contents` to `path` (opened write-only, never created) in one
 * write() from a helper thread inside the network namespace `nsFd`, then
 * closes it. Files under /proc/sys/net belong to the opener's network
 * namespace, so this sets a sysctl of the guest's namespace without moving
 * Node's main thread, e.g.
 * `netnsWriteFile(nsFd, "/proc/sys/net/ipv4/ping_group_range", "0 2147483647")`.
 * Throws a SyscallError: ENOENT for a missing path, EACCES without
 * permission, EINVAL (syscall "write") when the kernel rejects the value.
 */
export function netnsWriteFile(nsFd: number, path: string, contents: string): void {
  guard(() => native.netnsWriteFile(nsFd, path, contents));
}

/**
 * Reads files as a thread inside `nsFd` sees them (an unreadable one is
 * ""): `netnsReadFiles(nsFd, ["/proc/thread-self/net/tcp"])` is the
 * namespace's TCP table.
 */
export function netnsReadFiles(nsFd: number, paths: string[]): string[] {
  return guard(() => native.netnsReadFiles(nsFd, paths));
}
