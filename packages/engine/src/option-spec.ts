/**
 * What a row of the option table (option-table.ts) is, and the parsers
 * its rows share for their values: addresses kept per family (with `none`
 * where an option allows it), numbers in a range, netmasks as dotted quads
 * or prefix lengths, the addresses a guest may be given. Each mistake is a
 * UsageError of one line naming the option, as the C implementation words
 * it where callers read it.
 */
import { isWireError, parseIpv4Addr, parseIpAddr, type WireError } from "@x/l2";
import type { PortSpec } from "@x/flow";
import { UsageError } from "./usage-error.js";
import type { Mode, Options } from "./options.js";

/** A text for both commands, or one for each. */
export type Text = string | { passt: string; pasta: string };

export function textFor(t: Text, mode: Mode): string {
  return typeof t === "string" ? t : t[mode];
}

/** What several occurrences of one option add up to, while parsing. */
export interface Collect {
  udpIn: PortSpec[];
  udpOut: PortSpec[];
  tcpIn: PortSpec[];
  tcpOut: PortSpec[];
}

export interface Spec {
  long: string;
  short?: string;
  /** Other long names for the same option (passt's --socket-path). */
  aliases?: string[];
  /** The value's name in --help and the man page; absent for a flag. */
  arg?: string;
  /** The commands that take it; both when absent. */
  modes?: Mode[];
  /** One line for --help. */
  help: Text;
  /** The man page's paragraph (our words); the help line when absent. */
  man?: Text;
  /** The default, as --help and the man page state it. */
  dflt?: Text;
  deprecated?: boolean;
  /** Ours, not in passt(1). */
  ours?: boolean;
  apply: (o: Options, value: string, name: string, c: Collect) => void;
}

export function need(v: Uint8Array | WireError, name: string, value: string, what: string): Uint8Array {
  if (isWireError(v)) throw new UsageError(`invalid ${what} '${value}' for ${name}`);
  return v;
}

/** Options that take one address and keep it per family. */
type PerFamily = "gateway" | "mapHostLoopback" | "mapGuestAddr" | "dnsForward" | "dnsHost" | "outbound";

/**
 * The `apply` of an option taking one IPv4 or IPv6 address, kept per
 * family (the last of each family wins, as in passt); `none`, where the
 * option allows it, runs `none` instead.
 */
export function perFamily(field: PerFamily, what: string, none?: (o: Options) => void): Spec["apply"] {
  return (o, v, n) => {
    if (none && v === "none") {
      none(o);
      return;
    }
    const a = need(parseIpAddr(v), n, v, what);
    if (a.length === 4) o[`${field}4`] = a;
    else o[`${field}6`] = a;
  };
}

/** An address a guest can be given: not unspecified, loopback, multicast, broadcast or IPv6 link-local (C refuses them too). */
export function assignable(a: Uint8Array): boolean {
  if (a.length === 4) {
    const [b0 = 0] = a;
    return !(a.every((b) => b === 0) || b0 === 127 || (b0 >= 224 && b0 <= 239) || a.every((b) => b === 255));
  }
  const zeroTo14 = a.subarray(0, 15).every((b) => b === 0);
  return !(zeroTo14 && (a[15] === 0 || a[15] === 1)) && a[0] !== 0xff && !(a[0] === 0xfe && ((a[1] ?? 0) & 0xc0) === 0x80);
}

export function integer(value: string, name: string, min: number, max: number): number {
  if (!/^\d+$/.test(value)) throw new UsageError(`invalid number '${value}' for ${name}`);
  const n = Number(value);
  if (n < min || n > max) throw new UsageError(`${name} ${n} out of range ${min}-${max}`);
  return n;
}

export function netmask(o: Options, v: string, n: string): void {
  if (/^\d+$/.test(v)) {
    o.prefix4 = integer(v, n, 0, 32);
    return;
  }
  const m = need(parseIpv4Addr(v), n, v, "netmask");
  const bits = (((m[0] ?? 0) << 24) | ((m[1] ?? 0) << 16) | ((m[2] ?? 0) << 8) | (m[3] ?? 0)) >>> 0;
  const len = Math.clz32(~bits >>> 0);
  const want = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
  if (bits !== want) throw new UsageError(`invalid netmask '${v}' for ${n}`);
  o.prefix4 = len;
}

/** The smallest --log-size the C release takes (it refuses 40959). */
export const LOG_SIZE_MIN = 40960;
