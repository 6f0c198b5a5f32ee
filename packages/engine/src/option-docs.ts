/**
 * `--help` and the man pages, written from the option table.
 *
 * Both are rendered from option-table.ts, the table the parser reads, so
 * what the program accepts and what it documents cannot drift apart. The
 * man pages are generated at build time (apps/{passt,pasta}/scripts/man.mjs)
 * into each app's man/ folder, which its package ships: `man pasta` works
 * after a global install.
 */
import { SPECS } from "./option-table.js";
import { textFor, type Spec } from "./option-spec.js";
import type { Mode } from "./options.js";

const USAGE: Record<Mode, string[]> = {
  passt: ["passt [OPTION]..."],
  pasta: ["pasta [OPTION]... [COMMAND [ARG]...]", "pasta [OPTION]... PID", "pasta [OPTION]... --netns [PATH|NAME]"],
};

const SUMMARY: Record<Mode, string> = {
  passt: "Unprivileged user-mode network connectivity for virtual machines",
  pasta: "Unprivileged user-mode network connectivity for network namespaces",
};

function forMode(mode: Mode): Spec[] {
  return SPECS.filter((s) => !s.modes || s.modes.includes(mode));
}

function names(s: Spec): string {
  const longs = [s.long, ...(s.aliases ?? [])].map((n) => `--${n}`).join(", ");
  return `${s.short ? `-${s.short}, ` : ""}${longs}${s.arg ? ` ${s.arg}` : ""}`;
}

export function helpText(mode: Mode): string {
  const lines = USAGE[mode].map((u, i) => `${i === 0 ? "Usage: " : "       "}${u}`);
  lines.push("");
  if (mode === "pasta") {
    lines.push("Without PID or --netns, run the given command or a default shell in a new", "network and user namespace, and connect it via pasta.", "");
  }
  const width = 34;
  for (const s of forMode(mode)) {
    const left = `  ${s.short ? "" : "    "}${names(s)}`;
    const help = `${s.deprecated ? "DEPRECATED: " : ""}${textFor(s.help, mode)}${s.ours ? " (ours)" : ""}`;
    lines.push(left.length < width ? `${left.padEnd(width)}${help}` : `${left}\n${"".padEnd(width)}${help}`);
    if (s.dflt) lines.push(`${"".padEnd(width)}  default: ${textFor(s.dflt, mode)}`);
  }
  lines.push("", `See ${mode}(1) for the meaning of each option.`);
  return lines.join("\n");
}

/** roff-escapes text: backslashes, leading dots and quotes, and hyphens of option names. */
function roff(text: string): string {
  return text.replace(/\\/g, "\\e").replace(/-/g, "\\-").replace(/^([.'])/gm, "\\&$1");
}

/** The man page of one command, in roff (man macros). */
export function manPage(mode: Mode, version: string): string {
  const name = mode;
  const other = mode === "passt" ? "pasta" : "passt";
  const out: string[] = [
    `.\\" Generated from packages/engine/src/option-table.ts; do not edit.`,
    `.TH ${name} 1 "" "passt-ts ${version}" "User Commands"`,
    ".SH NAME",
    `${name} \\- ${roff(SUMMARY[mode])}`,
    ".SH SYNOPSIS",
    ...USAGE[mode].flatMap((u) => [".B", roff(u), ".br"]),
    ".SH DESCRIPTION",
  ];
  if (mode === "passt") {
    out.push(
      roff("passt gives a virtual machine (qemu, from 7.2, on a UNIX domain socket) a network without privileges:"),
      roff("the guest's frames are translated to and from ordinary sockets of the host (TCP, UDP, ICMP echo), and"),
      roff("built-in ARP, DHCP, NDP and DHCPv6 responders give the guest addresses that resemble the host's."),
    );
  } else {
    out.push(
      roff("pasta gives a network namespace the same connectivity through a tap device. Without PID or --netns it"),
      roff("makes a new user and network namespace and runs COMMAND (or a shell) in it; with them it joins that namespace."),
      roff("Traffic between the loopbacks of the host and the namespace bypasses the tap (splicing)."),
    );
  }
  out.push(".SH OPTIONS", roff("When an option is given more than once, the last one counts, unless said otherwise."));
  for (const s of forMode(mode)) {
    out.push(".TP", `.B ${roff(names(s))}${s.deprecated ? " (DEPRECATED)" : ""}${s.ours ? " (passt\\-ts only)" : ""}`);
    let body = textFor(s.man ?? s.help, mode);
    if (!/[.)]$/.test(body)) body += ".";
    out.push(roff(body));
    if (s.dflt) out.push(".br", roff(`Default: ${textFor(s.dflt, mode)}.`));
  }
  out.push(
    ".SH EXIT STATUS",
    roff(
      mode === "pasta"
        ? "0 when the command (or the joined namespace's life) ends normally, the command's status otherwise; 1 on a usage error or when setting up fails, before anything starts."
        : "0 on a normal end; 1 on a usage error or when setting up fails, before anything starts.",
    ),
    ".SH SEE ALSO",
    `.BR ${other} (1),`,
    ".BR qemu (1),",
    ".BR ip\\-netns (8)",
  );
  return `${out.join("\n")}\n`;
}
