/**
 * Logging, as passt does it: a level chosen on the command line (-q, -d,
 * --trace), lines to standard error or to a file (-l), each stamped with the
 * seconds since start so a trace reads like a timeline. Nothing on the
 * datagram path logs; rare events (a cap reached, a socket that could not be
 * opened) do, and the counters say the rest.
 */
import { appendFileSync } from "node:fs";

export type Level = "error" | "warn" | "info" | "debug" | "trace";
const ORDER: Record<Level, number> = { error: 0, warn: 1, info: 2, debug: 3, trace: 4 };

export class Log {
  private readonly t0 = performance.now();

  constructor(
    private readonly name: string,
    public level: Level = "info",
    private readonly file?: string,
  ) {}

  enabled(level: Level): boolean {
    return ORDER[level] <= ORDER[this.level];
  }

  private write(level: Level, msg: string): void {
    if (!this.enabled(level)) return;
    const t = ((performance.now() - this.t0) / 1000).toFixed(4);
    const line = `${this.name} ${t}: ${level === "info" ? "" : `${level}: `}${msg}\n`;
    if (this.file) {
      try {
        appendFileSync(this.file, line);
        return;
      } catch {
        /* fall back to stderr */
      }
    }
    process.stderr.write(line);
  }

  error(msg: string): void {
    this.write("error", msg);
  }
  warn(msg: string): void {
    this.write("warn", msg);
  }
  info(msg: string): void {
    this.write("info", msg);
  }
  debug(msg: string): void {
    this.write("debug", msg);
  }
  trace(msg: string): void {
    this.write("trace", msg);
  }
}
