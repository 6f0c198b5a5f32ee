/**
 * The one error type of this package.
 *
 * Theory of operation: everything that can go wrong here ends up as a
 * NetlinkError whose `code` is an errno name, so callers branch on one field
 * whatever the source was:
 * - the kernel refused a request: its NLMSG_ERROR carries a negative errno,
 *   which we name (EEXIST, ENODEV, EPERM...), and `errno` keeps the number;
 * - a reply could not be parsed: EBADMSG, with what was wrong and where;
 * - the kernel did not answer in time: ETIMEDOUT;
 * - the socket itself failed: the SyscallError's code, kept as `cause`;
 * - a caller passed something we refuse before asking the kernel: EINVAL.
 */
import { constants } from "node:os";
import { getSystemErrorMap } from "node:util";

export class NetlinkError extends Error {
  override readonly name = "NetlinkError";
  /** The errno name: "EEXIST", "ENODEV", "EBADMSG", "ETIMEDOUT"... */
  readonly code: string;
  /** The positive errno number when the kernel gave one. */
  readonly errno: number | undefined;

  constructor(code: string, message: string, options: { errno?: number; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.errno = options.errno;
  }
}

/** True for errors thrown by this package. */
export function isNetlinkError(e: unknown): e is NetlinkError {
  return e instanceof NetlinkError;
}

/** A malformed reply: always EBADMSG, so that bad input is one case to handle. */
export function malformed(what: string): NetlinkError {
  return new NetlinkError("EBADMSG", `malformed netlink data: ${what}`);
}

/** A request we refuse to send (the kernel would say EINVAL, less clearly). */
export function invalid(what: string): NetlinkError {
  return new NetlinkError("EINVAL", what);
}

// Node knows the names of the errno numbers; where two names share a number
// we keep the one the kernel's own headers use for rtnetlink.
const names = new Map<number, string>();
for (const [name, value] of Object.entries(constants.errno)) {
  if (!names.has(value)) names.set(value, name);
}
names.set(constants.errno.EOPNOTSUPP, "EOPNOTSUPP");
names.set(constants.errno.EAGAIN, "EAGAIN");

/** The name of a positive errno number, or "ERRNO<n>" for one Node does not know. */
export function errnoName(errno: number): string {
  return names.get(errno) ?? `ERRNO${errno}`;
}

const descriptions = getSystemErrorMap();

/** "EEXIST (file already exists)": the name with libuv's description when it has one. */
export function describeErrno(errno: number): string {
  const d = descriptions.get(-errno)?.[1];
  return d ? `${errnoName(errno)} (${d})` : errnoName(errno);
}

/** Turns anything thrown below us (a SyscallError, mostly) into a NetlinkError. */
export function asNetlinkError(e: unknown, doing: string): NetlinkError {
  if (e instanceof NetlinkError) return e;
  if (e instanceof Error) {
    const code = (e as { code?: unknown }).code;
    return new NetlinkError(typeof code === "string" ? code : "EIO", `${doing}: ${e.message}`, { cause: e });
  }
  return new NetlinkError("EIO", `${doing}: ${String(e)}`, { cause: e });
}
