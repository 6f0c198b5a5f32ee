/**
 * Logging, as passt does it: a level chosen on the command line (-q, -d,
 * --trace), each line stamped with the seconds since start so a trace reads
 * like a timeline. Nothing on the datagram path logs; rare events (a cap
 * reached, a socket that could not be opened) do, and the counters say the
 * rest.
 *
 * Where lines go follows the C implementation: to a file with -l, kept
 * within --log-size by dropping the oldest lines when it is full; else to
 * the system logger (/dev/log, as daemon messages) once detached, when
 * standard error leads nowhere; else to standard error.
 */
import { appendFileSync, readFileSync, statSync, writeFileSync, writeSync } from "node:fs";

export type Level = "error" | "warn" | "info" | "debug" | "trace";
const ORDER: Record<Level, number> = { error: 0, warn: 1, info: 2, debug: 3, trace: 4 };

/** syslog(3) severities, for the priority of a /dev/log message. */
const SEVERITY: Record<Level, number> = { error: 3, warn: 4, info: 6, debug: 7, trace: 7 };
const LOG_DAEMON = 3 << 3;

/** Where a Log writes besides (or instead of) standard error. */
export interface LogTarget {
  /** -l: the file, and --log-size, its cap in bytes. */
  file?: string;
  fileCap?: number;
  /** A connected datagram socket to the system logger (run-context.ts's logFor opens /dev/log). */
  syslogFd?: number;
}

export class Log {
  private readonly t0 = performance.now();
  private readonly file: string | undefined;
  private readonly cap: number;
  private readonly syslogFd: number | undefined;
  private fileSize = 0;

  constructor(
    private readonly name: string,
    public level: Level = "info",
    target?: string | LogTarget,
  ) {
    const t: LogTarget = typeof target === "string" ? { file: target } : (target ?? {});
    this.file = t.file;
    this.cap = t.fileCap ?? Infinity;
    this.syslogFd = t.syslogFd;
    if (this.file) {
      try {
        this.fileSize = statSync(this.file).size;
      } catch {
        this.fileSize = 0;
      }
    }
  }

  enabled(level: Level): boolean {
    return ORDER[level] <= ORDER[this.level];
  }

  private write(level: Level, msg: string): void {
    if (!this.enabled(level)) return;
    const t = ((performance.now() - this.t0) / 1000).toFixed(4);
    const text = `${level === "info" ? "" : `${level}: `}${msg}`;
    const line = `${this.name} ${t}: ${text}\n`;
    if (this.file) {
      try {
        this.toFile(line);
        return;
      } catch {
        /* fall back to stderr */
      }
    }
    if (this.syslogFd !== undefined) {
      try {
        writeSync(this.syslogFd, `<${LOG_DAEMON | SEVERITY[level]}>${this.name}[${process.pid}]: ${text}`);
        return;
      } catch {
        /* the logger is gone or full: fall back to stderr */
      }
    }
    toStderr(line);
  }

  /** Appends to the log file; when that would pass the cap, the oldest lines go first. */
  private toFile(line: string): void {
    const file = this.file as string;
    const n = Buffer.byteLength(line);
    if (this.fileSize + n > this.cap) {
      // Keep the newest three quarters of the cap, cut at a line boundary,
      // so that trimming happens once per quarter of the cap, not per line.
      const old = readFileSync(file);
      let from = Math.max(0, old.length - Math.floor((this.cap * 3) / 4) + n);
      const nl = old.indexOf(10, from);
      from = nl < 0 ? old.length : nl + 1;
      const kept = old.subarray(from);
      writeFileSync(file, kept);
      this.fileSize = kept.length;
    }
    appendFileSync(file, line);
    this.fileSize += n;
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

/**
 * Straight to descriptor 2. process.stderr's first use builds a stream,
 * which loads net, tty and the stream modules: about 6 ms of a start that
 * logs a line. Node writes stderr synchronously anyway when it is a file, a
 * pipe or a terminal. A non-blocking descriptor 2 (EAGAIN) goes through the
 * stream, which queues; a closed one (EPIPE) loses the line, as it would.
 */
export function toStderr(line: string): void {
  try {
    writeSync(2, line);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EAGAIN") process.stderr.write(line);
  }
}
