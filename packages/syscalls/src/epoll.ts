/**
 * An epoll set behind one libuv watch.
 *
 * libuv's own polls are level-triggered and cost one trip into JavaScript
 * per ready descriptor. A TCP translator needs edge-triggered readiness (a
 * socket whose queued bytes are all in flight to the guest stays readable,
 * but only new data is news) and does better with one wake-up for all the
 * sockets that became ready together. An EpollSet is an epoll instance of
 * our own: its descriptor is watched on Node's loop, and each wake-up
 * drains epoll_wait (never blocking) into one reusable array and calls the
 * handler once per ready descriptor with the token it was added with.
 */
import { native } from "./native.js";
import { guard } from "./errors.js";
import { Watcher, READABLE } from "./watcher.js";

/** Event bits of an EpollSet. */
export const Epoll = {
  IN: 1,
  OUT: 2,
  /** The peer shut its sending side (EPOLLRDHUP). */
  RDHUP: 4,
  /** Reported only: EPOLLERR. */
  ERR: 8,
  /** Reported only: EPOLLHUP, both directions are gone. */
  HUP: 16,
  /** Asked for only: edge-triggered (EPOLLET). */
  EDGE: 32,
} as const;

/** Called per ready descriptor with its token and the Epoll bits that are ready. */
export type EpollHandler = (token: number, events: number) => void;

export class EpollSet {
  readonly fd: number;
  private readonly watcher: Watcher;
  private readonly ready = new Uint32Array(2 * 128);

  /**
   * `after` runs once per wake-up, after the last handler call: where a
   * caller sends what the whole batch of events produced.
   */
  constructor(handler: EpollHandler, options: { unref?: boolean; after?: () => void } = {}) {
    this.fd = guard(() => native.epollCreate());
    const ready = this.ready;
    const fd = this.fd;
    const after = options.after;
    this.watcher = new Watcher(
      fd,
      READABLE,
      () => {
        for (;;) {
          const n = native.epollWait(fd, ready);
          for (let i = 0; i < n; i++) handler(ready[2 * i] as number, ready[2 * i + 1] as number);
          if (n < ready.length / 2) break;
        }
        after?.();
      },
      { unref: options.unref ?? false },
    );
  }

  add(fd: number, events: number, token: number): void {
    guard(() => native.epollAdd(this.fd, fd, events, token));
  }

  modify(fd: number, events: number, token: number): void {
    guard(() => native.epollModify(this.fd, fd, events, token));
  }

  /** Removes `fd`; ignores a descriptor that is not in the set (or already closed). */
  remove(fd: number): void {
    try {
      native.epollRemove(this.fd, fd);
    } catch {
      /* not in the set */
    }
  }

  close(): void {
    this.watcher.close();
    native.close(this.fd);
  }
}
