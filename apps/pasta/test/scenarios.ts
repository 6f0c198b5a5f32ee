import { writeFileSync } from "node:fs";

/**
 * Side-by-side results of the end-to-end tests: a row per scenario, a
 * column per implementation (ours, the C pasta), each cell a pass or a
 * failure with a short note, written out as a markdown table for the
 * report files beside the tests. A scenario's failure fails its test only
 * where the side is judged (ours always; the C side where the caller says).
 */
export interface Outcome {
  ok: boolean;
  note: string;
}

/** Makes a message one line of at most `n` characters. */
export const oneLine = (s: string, n = 300): string => s.replace(/\s+/g, " ").trim().slice(0, n);

export class Scenarios {
  readonly rows = new Map<string, Map<string, Outcome>>();

  record(name: string, label: string, outcome: Outcome): void {
    const row = this.rows.get(name) ?? new Map<string, Outcome>();
    this.rows.set(name, row.set(label, outcome));
  }

  /** Runs one scenario for one side and records it, with its time; rethrows a failure when `judged`. */
  async run(label: string, name: string, fn: () => Promise<string>, judged: boolean, noteLength = 300): Promise<void> {
    const t0 = Date.now();
    try {
      const note = await fn();
      this.record(name, label, { ok: true, note: `${note} (${Date.now() - t0} ms)` });
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      this.record(name, label, { ok: false, note: `${oneLine(msg, noteLength)} (${Date.now() - t0} ms)` });
      if (judged) throw e;
    }
  }

  /** Writes `file` (a report beside the tests): a heading, what made it, and the table. */
  write(file: URL, heading: string, about: string, labels: string[]): void {
    writeFileSync(file, `${[`# ${heading}`, "", about, "", ...this.table(labels)].join("\n")}\n`);
  }

  /** The table, one column per label, in the order the scenarios first ran. */
  table(labels: string[]): string[] {
    const cell = (o: Outcome | undefined): string => (o ? `${o.ok ? "PASS" : "FAIL"}: ${o.note}`.replace(/\|/g, "/").replace(/\n/g, " ") : "not run");
    return [
      `| scenario | ${labels.join(" | ")} |`,
      `| --- | ${labels.map(() => "---").join(" | ")} |`,
      ...[...this.rows].map(([name, row]) => `| ${name} | ${labels.map((l) => cell(row.get(l))).join(" | ")} |`),
    ];
  }
}
