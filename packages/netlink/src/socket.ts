/**
 * Request and response over one rtnetlink descriptor.
 *
 * Theory of operation: the descriptor comes from @x/syscalls, non-blocking,
 * opened in Node's namespace or (on a helper thread) in another one. A
 * request is one datagram written whole; the kernel answers on the same
 * socket with messages carrying the request's sequence number:
 * - a "do" request (create, change, get one) is sent with NLM_F_ACK and ends
 *   with an NLMSG_ERROR whose errno is 0 (ack) or the reason it failed; a get
 *   sends its answer before the ack;
 * - a dump is answered by messages flagged NLM_F_MULTI spread over several
 *   datagrams and ends with NLMSG_DONE (or an NLMSG_ERROR).
 * Requests go one at a time (a queue), so replies never interleave, and any
 * message with another sequence number (left over from a request that timed
 * out) is dropped. Waiting is a libuv readiness watch plus a timer: the event
 * loop keeps running, and a kernel that never answers gives ETIMEDOUT rather
 * than a hang. A dump the kernel flags as interrupted (the tables changed
 * under it) is retried a few times before it is reported as EAGAIN.
 */
import { close, read, write, Watcher, READABLE } from "@x/syscalls";
import { asNetlinkError, describeErrno, errnoName, NetlinkError } from "./errors.js";
import {
  MessageBuilder,
  NLMSG_DONE,
  NLMSG_ERROR,
  NLMSG_NOOP,
  NLMSG_OVERRUN,
  NLM_F_ACK,
  NLM_F_DUMP,
  NLM_F_DUMP_INTR,
  NLM_F_REQUEST,
  parseDone,
  parseError,
  parseMessages,
  type NlMessage,
} from "./messages.js";

/** Large enough for any datagram the kernel sends on a dump (it caps them near 32 KiB). */
const RECV_SIZE = 64 * 1024;
const DUMP_RETRIES = 3;

export interface SocketOptions {
  /** How long one request may wait for its answer; default 5000 ms. */
  timeoutMs?: number;
}

export class NetlinkSocket {
  private seq: number;
  private readonly buf = new Uint8Array(RECV_SIZE);
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;
  private readonly timeoutMs: number;

  constructor(
    readonly fd: number,
    options: SocketOptions = {},
  ) {
    this.timeoutMs = options.timeoutMs ?? 5000;
    // Start somewhere unlikely to match a stale reply from an earlier owner.
    this.seq = (Date.now() & 0x7fffffff) >>> 0;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    close(this.fd);
  }

  /** Sends a request with NLM_F_ACK; resolves with whatever came before the ack. */
  request(build: MessageBuilder, what: string): Promise<NlMessage[]> {
    return this.enqueue(() => this.exchange(build, what, false));
  }

  /** Sends a dump request; resolves with every message up to NLMSG_DONE. */
  dump(build: MessageBuilder, what: string): Promise<NlMessage[]> {
    return this.enqueue(async () => {
      for (let attempt = 1; ; attempt++) {
        try {
          return await this.exchange(build, what, true);
        } catch (e) {
          if (!(e instanceof DumpInterrupted)) throw e;
          if (attempt >= DUMP_RETRIES) {
            throw new NetlinkError("EAGAIN", `${what}: dump interrupted by concurrent changes ${attempt} times`);
          }
        }
      }
    });
  }

  private enqueue<T>(job: () => Promise<T>): Promise<T> {
    const run = this.queue.then(job, job);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private nextSeq(): number {
    this.seq = (this.seq + 1) >>> 0;
    if (this.seq === 0) this.seq = 1;
    return this.seq;
  }

  private exchange(build: MessageBuilder, what: string, isDump: boolean): Promise<NlMessage[]> {
    if (this.closed) return Promise.reject(new NetlinkError("EBADF", `${what}: the netlink socket is closed`));
    const seq = this.nextSeq();
    const packet = build.finish(seq, NLM_F_REQUEST | (isDump ? NLM_F_DUMP : NLM_F_ACK));

    try {
      const n = write(this.fd, packet);
      if (n < 0) return Promise.reject(new NetlinkError("EAGAIN", `${what}: the netlink socket would block on send`));
      if (n !== packet.length) {
        return Promise.reject(new NetlinkError("EIO", `${what}: short send (${n} of ${packet.length} bytes)`));
      }
    } catch (e) {
      return Promise.reject(asNetlinkError(e, `${what}: send`));
    }

    return new Promise<NlMessage[]>((resolve, reject) => {
      const collected: NlMessage[] = [];
      let interrupted = false;
      let done = false;
      let watcher: Watcher | undefined;
      const finish = (err?: Error): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        watcher?.close();
        if (err) reject(err);
        else resolve(collected);
      };
      const timer = setTimeout(
        () => finish(new NetlinkError("ETIMEDOUT", `${what}: no answer from the kernel within ${this.timeoutMs} ms`)),
        this.timeoutMs,
      );

      /** Handles one message; true when the exchange is over. */
      const handle = (m: NlMessage): boolean => {
        if (m.seq !== seq) return false;
        if (m.type === NLMSG_ERROR) {
          const e = parseError(m);
          if (e.errno === 0) {
            if (!isDump) finish();
            else finish(new NetlinkError("EBADMSG", `${what}: unexpected acknowledgement in a dump`));
            return true;
          }
          const name = errnoName(e.errno);
          const detail = e.message ? ` (${e.message})` : "";
          finish(new NetlinkError(name, `${what}: ${describeErrno(e.errno)}${detail}`, { errno: e.errno }));
          return true;
        }
        if (m.type === NLMSG_DONE) {
          const errno = parseDone(m);
          if (errno !== 0) {
            const name = errnoName(errno);
            finish(new NetlinkError(name, `${what}: dump failed with ${describeErrno(errno)}`, { errno }));
          } else if (interrupted) finish(new DumpInterrupted());
          else finish();
          return true;
        }
        if (m.type === NLMSG_OVERRUN) {
          finish(new NetlinkError("ENOBUFS", `${what}: the kernel reports lost messages`));
          return true;
        }
        if (m.type === NLMSG_NOOP) return false;
        if (m.flags & NLM_F_DUMP_INTR) interrupted = true;
        collected.push(m);
        return false;
      };

      const drain = (): void => {
        try {
          while (!done) {
            const n = read(this.fd, this.buf);
            if (n < 0) return;
            if (n === 0) {
              finish(new NetlinkError("EPIPE", `${what}: the netlink socket returned end of stream`));
              return;
            }
            // Copy out: the receive buffer is reused by the next read.
            for (const m of parseMessages(this.buf.slice(0, n))) {
              if (handle(m)) return;
            }
          }
        } catch (e) {
          finish(asNetlinkError(e, `${what}: receive`));
        }
      };

      try {
        watcher = new Watcher(this.fd, READABLE, (status) => {
          if (status < 0) finish(new NetlinkError("EIO", `${what}: readiness watch failed (libuv status ${status})`));
          else drain();
        });
      } catch (e) {
        finish(asNetlinkError(e, `${what}: watch`));
        return;
      }
      drain();
    });
  }
}

/** Internal marker: the dump must be repeated. */
class DumpInterrupted extends Error {}
