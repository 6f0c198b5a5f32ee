/**
 * Random bytes from the kernel, for the keyed hashes of start-up: the flow
 * table's seed and TCP's initial-sequence-number secret.
 *
 * @x/flow and @x/l2 draw those from webcrypto when none is given, which is
 * right for libraries but costs a Node start about 5 ms: webcrypto's first
 * use loads a dozen modules. Reading /dev/urandom costs a few microseconds
 * and draws from the same pool (getrandom's).
 */
import { closeSync, openSync, readSync } from "node:fs";

export function kernelRandomBytes(n: number): Uint8Array {
  const b = new Uint8Array(n);
  try {
    const fd = openSync("/dev/urandom", "r");
    try {
      if (readSync(fd, b) === n) return b;
    } finally {
      closeSync(fd);
    }
  } catch {
    /* no /dev (a bare chroot): webcrypto below */
  }
  globalThis.crypto.getRandomValues(b);
  return b;
}

export function kernelRandomU32(): number {
  const b = kernelRandomBytes(4);
  return new DataView(b.buffer).getUint32(0);
}
