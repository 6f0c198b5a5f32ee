/**
 * Port forwarding specifications, as passt(1) and pasta(1) spell them.
 *
 * A spec is `none`, `all`, `auto`, or a comma-separated list of items, the
 * whole optionally preceded by `ADDRESS/` to listen on one address only:
 *   22          one port              1000-1010     a range
 *   80:8080     port 80 to 8080       1000-1010:2000-2010   a range, remapped
 *   ~25         exclude a port        ~30000-30010  exclude a range
 * A list made only of exclusions means "everything but these", as in passt.
 * The parser returns plain ranges; PortForwards (forwards.ts) turns them into
 * tables and rejects overlaps, so both places say precisely what is wrong.
 */
import { isWireError, parseIpAddr } from "@x/l2";
import type { PortForwardEntry, PortRange } from "./forwards.js";
/** A port-forward spec that does not parse; the command line reports it as a usage error. */
export class PortSpecError extends Error {
  override readonly name = "PortSpecError";
}

export interface PortSpec {
  mode: "none" | "all" | "auto" | "list";
  entries: PortForwardEntry[];
  exclude: PortRange[];
  /** The list had only exclusions, so `entries` is the implied "every port". */
  onlyExclusions?: boolean;
}

function port(text: string, spec: string): number {
  if (!/^\d{1,5}$/.test(text)) throw new PortSpecError(`invalid port '${text}' in '${spec}'`);
  const n = Number(text);
  if (n < 1 || n > 65535) throw new PortSpecError(`port ${n} out of range 1-65535 in '${spec}'`);
  return n;
}

function range(text: string, spec: string): PortRange {
  const [a, b, ...rest] = text.split("-");
  if (a === undefined || rest.length > 0 || a === "") throw new PortSpecError(`invalid port range '${text}' in '${spec}'`);
  const start = port(a, spec);
  const end = b === undefined ? start : port(b, spec);
  if (end < start) throw new PortSpecError(`port range '${text}' ends before it starts in '${spec}'`);
  return { start, end };
}

/** Parses one -u/-U (or -t/-T) argument. */
export function parsePortSpec(spec: string): PortSpec {
  const s = spec.trim();
  if (s === "none") return { mode: "none", entries: [], exclude: [] };
  if (s === "auto") return { mode: "auto", entries: [], exclude: [] };
  if (s === "all") return { mode: "all", entries: [{ start: 1, end: 65535 }], exclude: [] };
  let body = s;
  let bindAddress: Uint8Array | undefined;
  let bindInterface: string | undefined;
  const slash = s.lastIndexOf("/");
  if (slash >= 0) {
    // [ADDR][%IFNAME]/PORTS: an address, an interface (SO_BINDTODEVICE), or both.
    let prefix = s.slice(0, slash);
    const pct = prefix.indexOf("%");
    if (pct >= 0) {
      bindInterface = prefix.slice(pct + 1);
      if (!/^[^\s/%]{1,15}$/.test(bindInterface)) throw new PortSpecError(`invalid interface name '${bindInterface}' in port spec '${spec}'`);
      prefix = prefix.slice(0, pct);
    }
    if (prefix !== "" || bindInterface === undefined) {
      const a = parseIpAddr(prefix);
      if (isWireError(a)) throw new PortSpecError(`invalid address '${prefix}' in port spec '${spec}'`);
      bindAddress = a;
    }
    body = s.slice(slash + 1);
  }
  const bind = { ...(bindAddress ? { bindAddress } : {}), ...(bindInterface !== undefined ? { bindInterface } : {}) };
  if (body === "") throw new PortSpecError(`empty port spec '${spec}'`);
  const entries: PortForwardEntry[] = [];
  const exclude: PortRange[] = [];
  for (const item of body.split(",")) {
    if (item.startsWith("~")) {
      exclude.push(range(item.slice(1), spec));
      continue;
    }
    const [from, to, ...rest] = item.split(":");
    if (from === undefined || rest.length > 0) throw new PortSpecError(`invalid port item '${item}' in '${spec}'`);
    const r = range(from, spec);
    let toStart: number | undefined;
    if (to !== undefined) {
      const t = range(to, spec);
      if (t.end - t.start !== r.end - r.start) throw new PortSpecError(`remap '${item}' maps ranges of different lengths in '${spec}'`);
      toStart = t.start;
    }
    entries.push({ ...r, ...(toStart !== undefined ? { toStart } : {}), ...bind });
  }
  if (entries.length === 0) {
    entries.push({ start: 1, end: 65535, ...bind });
    return { mode: "list", entries, exclude, onlyExclusions: true };
  }
  return { mode: "list", entries, exclude };
}

/**
 * Merges several -u arguments into one spec. With `auto` among them, the
 * result is `auto` with the other arguments' ports and exclusions; a list
 * of exclusions only then excludes ports from `auto` rather than meaning
 * "every other port".
 */
export function mergePortSpecs(specs: PortSpec[]): PortSpec {
  if (specs.length === 0) return { mode: "none", entries: [], exclude: [] };
  const auto = specs.some((s) => s.mode === "auto");
  const out: PortSpec = { mode: auto ? "auto" : "none", entries: [], exclude: [] };
  for (const s of specs) {
    if (s.mode === "none" || s.mode === "auto") continue;
    if (!auto) out.mode = "list";
    if (!(auto && s.onlyExclusions)) out.entries.push(...s.entries);
    out.exclude.push(...s.exclude);
  }
  return out;
}
