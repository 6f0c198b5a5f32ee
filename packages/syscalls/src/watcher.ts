/**
 * Readiness watchers on Node's event loop.
 *
 * A Watcher asks libuv (the loop Node already runs) to call back when a
 * descriptor is readable, writable or hung up. The callback then drains the
 * descriptor with non-blocking batch calls until they return 0. There is no
 * thread per descriptor and nothing waits on the main thread.
 */
import { native } from "./native.js";
import { guard } from "./errors.js";

export const READABLE = 1;
export const WRITABLE = 2;
/** The peer hung up (POLLRDHUP). */
export const HANGUP = 4;

/** `status` is 0 or a negative libuv error; `events` the ready set. */
export type WatchCallback = (status: number, events: number) => void;

export class Watcher {
  private id: number;

  constructor(
    readonly fd: number,
    events: number,
    callback: WatchCallback,
    options: { unref?: boolean } = {},
  ) {
    this.id = guard(() => native.watch(fd, events, callback, options.unref ?? false));
  }

  /** Changes the set of events waited for (0 pauses the watch). */
  update(events: number): void {
    guard(() => native.watchUpdate(this.id, events));
  }

  get closed(): boolean {
    return this.id === 0;
  }

  /** Stops watching; call before closing the descriptor. Idempotent. */
  close(): void {
    if (this.id !== 0) native.unwatch(this.id);
    this.id = 0;
  }

  /** Live watchers in this process, for leak checks. */
  static count(): number {
    return native.watchCount();
  }
}
