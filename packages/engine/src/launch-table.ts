/**
 * The option table as the native launcher reads it.
 *
 * The launcher (crates/launcher) runs before Node, to enter a user namespace
 * or detach, and so must find -f, --userns, --netns and the positional
 * arguments in argv without parsing values. For that it needs to know only
 * which names exist in the command and which of them take a value: one
 * line per option, `SHORT LONG[,ALIAS...] ARG`, with `-` for no short name
 * and ARG 1 when a value follows. It is written into each app's dist/ at
 * build time from the table the parser reads, so the two cannot drift.
 */
import type { Mode } from "./options.js";
import { SPECS } from "./option-table.js";

export function launchTable(mode: Mode): string {
  return SPECS.filter((s) => !s.modes || s.modes.includes(mode))
    .map((s) => `${s.short ?? "-"} ${[s.long, ...(s.aliases ?? [])].join(",")} ${s.arg !== undefined ? 1 : 0}\n`)
    .join("");
}
