/**
 * The link to qemu: frames in and out of one connected stream socket.
 *
 * Theory of operation
 *
 * qemu's `-netdev stream` sends each Ethernet frame as a 4-byte big-endian
 * length followed by the frame, and expects the same from us. A stream has
 * no boundaries: one read() may end in the middle of a length or of a
 * frame, or hold dozens of frames.
 *
 * Inbound (QemuConnection). The socket is read into @x/flow's
 * QemuStreamReader, which hands complete frames on in place, in batches,
 * exactly like a tap's frames in pasta, and keeps a frame that straddles
 * two reads. A length of zero or above the largest frame cannot be
 * recovered from: the frames before it are still delivered, then the
 * connection is closed with a log line, and passt waits for the next guest.
 *
 * Outbound (QemuSink). @x/flow's QemuStreamSink does the framing: prefixes
 * written in the 4 spare bytes before each frame, messages of at most 32767
 * bytes, a cut write completed before anything else, a bounded queue when
 * qemu reads slowly and drops beyond it. We give it a writer over the
 * socket (the native writev() says "would block" with -1, the sink expects
 * 0) and wake it when the socket is writable again. QemuSink itself lives as
 * long as the process: udp-core and the responders hold on to it, while
 * guests come and go; between guests it drops frames and counts them, as
 * there is nobody to send them to.
 */
import { HANGUP, READABLE, WRITABLE, Watcher, close, isSyscallError, read, writev } from "@x/syscalls";
import { QemuStreamReader, QemuStreamSink, STREAM_LENGTH_PREFIX, STREAM_MAX_FRAME, type StreamStats } from "@x/engine";
import type { FramesHandler, GuestSink, Log } from "@x/engine";

/** Largest frame length we accept from qemu; anything above is garbage. */
export const MAX_FRAME = STREAM_MAX_FRAME;
/** Reads per readiness callback, so host sockets get their turn under a flood. */
const ROUNDS = 64;

function errText(e: unknown): string {
  if (isSyscallError(e)) return e.code;
  if (e instanceof Error) return e.message;
  return String(e);
}

/** Where frames for the guest go, whichever guest is connected now. */
export class QemuSink implements GuestSink {
  onFrame: ((frame: Uint8Array) => void) | undefined;
  /** Frames dropped because no guest was connected. */
  droppedUnconnected = 0;
  private stream: QemuStreamSink | undefined;
  /** A responder's reply is copied here behind 4 spare bytes for the length prefix. */
  private readonly scratch = new Uint8Array(STREAM_LENGTH_PREFIX + MAX_FRAME);
  private readonly oneOffset = new Uint32Array([STREAM_LENGTH_PREFIX]);
  private readonly oneLength = new Uint32Array(1);

  attach(stream: QemuStreamSink): void {
    this.stream = stream;
  }

  detach(): void {
    this.stream = undefined;
  }

  get connected(): boolean {
    return this.stream !== undefined;
  }

  sendFrames(slab: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, count: number): number {
    const s = this.stream;
    if (!s) {
      this.droppedUnconnected += count;
      return 0;
    }
    if (this.onFrame) {
      for (let i = 0; i < count; i++) {
        const o = offsets[i] as number;
        this.onFrame(slab.subarray(o, o + (lengths[i] as number)));
      }
    }
    return s.sendFrames(slab, offsets, lengths, count);
  }

  sendOne(frame: Uint8Array): boolean {
    const s = this.stream;
    if (!s || frame.length > MAX_FRAME) {
      this.droppedUnconnected++;
      return false;
    }
    this.onFrame?.(frame);
    this.scratch.set(frame, STREAM_LENGTH_PREFIX);
    this.oneLength[0] = frame.length;
    return s.sendFrames(this.scratch, this.oneOffset, this.oneLength, 1) === 1;
  }
}

export interface ConnectionOptions {
  /** Bytes of frames queued for a slow guest before we drop (QemuStreamSink's queue). */
  queueBytes?: number;
}

/** Why a connection ended, for the log line. */
export type CloseReason = string;

/** One connected qemu: reads its frames, owns its descriptor and its output queue. */
export class QemuConnection {
  readonly stream: QemuStreamSink;
  /** Frames received, and garbage seen (0 or 1: the connection ends on it). */
  framesIn = 0;
  bytesIn = 0;
  private readonly reader = new QemuStreamReader({ maxFrame: MAX_FRAME });
  private readonly deliver = (buf: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, count: number): void => {
    this.framesIn += count;
    try {
      this.onFrames(buf, offsets, lengths, count);
    } catch (e) {
      // A bug below us must not take the whole process down with one guest.
      this.log.error(`frame handler failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    }
  };
  private watcher: Watcher | undefined;
  private wantWrite = false;
  private closed = false;

  constructor(
    private readonly fd: number,
    private readonly onFrames: FramesHandler,
    private readonly onClose: (reason: CloseReason) => void,
    private readonly log: Log,
    options: ConnectionOptions = {},
  ) {
    this.stream = new QemuStreamSink(
      {
        writev: (parts) => {
          try {
            const n = writev(this.fd, parts);
            return n < 0 ? 0 : n;
          } catch (e) {
            // The sink drops what it holds; the connection is over, but we
            // may be deep inside udp-core's send loop: close on the next turn.
            this.closeSoon(`write failed: ${errText(e)}`);
            throw e;
          }
        },
      },
      {
        ...(options.queueBytes !== undefined ? { queueBytes: options.queueBytes } : {}),
        onWantWritable: (want) => {
          this.wantWrite = want;
          this.rearm();
        },
      },
    );
  }

  /** Starts watching the socket. */
  start(): void {
    this.watcher = new Watcher(this.fd, READABLE | HANGUP, (status, events) => this.onEvents(status, events));
    this.rearm();
  }

  get outStats(): StreamStats {
    return this.stream.stats;
  }

  private rearm(): void {
    if (this.closed || !this.watcher) return;
    this.watcher.update(READABLE | HANGUP | (this.wantWrite ? WRITABLE : 0));
  }

  private onEvents(status: number, events: number): void {
    if (this.closed) return;
    if (status < 0) {
      this.close(`poll error ${status}`);
      return;
    }
    if (events & WRITABLE) this.stream.onWritable();
    if (this.closed) return;
    if (events & (READABLE | HANGUP)) this.drain();
  }

  /** Reads and hands on frames until the socket is empty or the round budget is spent. */
  private drain(): void {
    const r = this.reader;
    for (let round = 0; round < ROUNDS && !this.closed; round++) {
      let n: number;
      try {
        n = read(this.fd, r.buf, r.fill, r.room);
      } catch (e) {
        this.close(`read failed: ${errText(e)}`);
        return;
      }
      if (n < 0) return;
      if (n === 0) {
        this.close(r.pending > 0 ? `end of stream inside a frame (${r.pending} bytes pending)` : "guest closed the connection");
        return;
      }
      this.bytesIn += n;
      const garbage = r.received(n, this.deliver);
      if (this.closed) return;
      if (garbage >= 0) {
        this.log.warn(`guest sent a frame length of ${garbage} (allowed 1..${MAX_FRAME}): closing the connection`);
        this.close(`bad frame length ${garbage}`);
        return;
      }
    }
  }

  private closeSoon(reason: CloseReason): void {
    setImmediate(() => this.close(reason));
  }

  /** Stops watching, closes the descriptor and tells the owner. Idempotent. */
  close(reason: CloseReason): void {
    if (this.closed) return;
    this.closed = true;
    this.watcher?.close();
    this.watcher = undefined;
    try {
      close(this.fd);
    } catch {
      /* already gone */
    }
    this.onClose(reason);
  }

  get isClosed(): boolean {
    return this.closed;
  }
}
