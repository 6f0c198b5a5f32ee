//! x-syscalls: the Linux system calls of passt-ts, and nothing else.
//!
//! Theory of operation
//!
//! Everything that needs the kernel passes through this crate, and everything
//! that needs a decision stays in TypeScript. A function here takes integers
//! and caller-owned typed arrays, makes one system call (or one tight batch of
//! them), and reports what the kernel said. There is no protocol knowledge on
//! this side: addresses cross the boundary as strings only on the slow paths
//! (bind, connect) and as raw bytes in a metadata array on the hot paths
//! (recvmmsg, sendmmsg), so that a batch of datagrams moves without a single
//! JavaScript allocation.
//!
//! Failures become JavaScript errors whose `code` is the errno name and whose
//! message names the system call; "would block" is not a failure, it is a
//! return value (a count of zero, or -1 where zero means something else).
//!
//! The modules: `errno` (errors), `addr` (socket addresses), `sock` (UDP,
//! UNIX and netlink sockets), `mmsg` (batched datagrams), `io` (reads and
//! writes, batched for tap devices), `tap` (/dev/net/tun), `tcp` (TCP sockets, peeking,
//! TCP_INFO, pipes and splice), `netns` (work
//! inside another network namespace on a short-lived thread), `epoll` (an
//! epoll set of our own behind one libuv watch, edge-triggered), `spawn`
//! (starting a command in new namespaces from a multithreaded process) and
//! `poll` (readiness through libuv, on Node's own event loop).

mod addr;
mod epoll;
mod errno;
mod fdtable;
mod io;
mod mmsg;
mod netns;
mod poll;
mod sock;
mod spawn;
mod tap;
mod tcp;
