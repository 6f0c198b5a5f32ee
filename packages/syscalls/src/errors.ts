/**
 * Errors from the native layer.
 *
 * Every failed system call is thrown as an Error whose `code` is the errno
 * name (EADDRINUSE, EPERM...) and whose message starts with the call's name.
 * `syscall` is filled from that message here, so callers can branch on both
 * without parsing text. "Would block" is never thrown: the calls return it.
 */

export interface SyscallError extends Error {
  /** The errno name, as Node spells it: "EADDRINUSE", "EPERM", "EINVAL"... */
  code: string;
  /** The system call that failed, or "invalid argument" when none was made. */
  syscall: string;
}

/** True for errors thrown by this package. */
export function isSyscallError(e: unknown): e is SyscallError {
  return e instanceof Error && typeof (e as { code?: unknown }).code === "string" && /^E[A-Z0-9]+$/.test(((e as unknown) as { code: string }).code);
}

/** Adds `syscall` to an error from the binding and returns it. */
export function decorate(e: unknown): unknown {
  if (e instanceof Error && typeof (e as { code?: unknown }).code === "string") {
    const m = /^([a-z_0-9]+(?: argument)?)/.exec(e.message);
    (e as SyscallError).syscall = m?.[1] ?? "unknown";
  }
  return e;
}

/** True when `e` is a SyscallError with this errno name. */
export function hasCode(e: unknown, code: string): boolean {
  return isSyscallError(e) && e.code === code;
}

/** Runs a native call, turning its errors into SyscallErrors. */
export function guard<R>(f: () => R): R {
  try {
    return f();
  } catch (e) {
    throw decorate(e);
  }
}
