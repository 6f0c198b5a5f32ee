//! An epoll set of our own, for many sockets behind one libuv watch.
//!
//! libuv's poll handles are level-triggered, one per descriptor, and each
//! ready one costs a trip into JavaScript. A TCP translator with thousands
//! of connections wants two things libuv does not give: edge-triggered
//! readiness (a socket whose queued data is all in flight to the guest is
//! readable forever, yet there is nothing to do until *new* data arrives),
//! and one wake-up for every socket that became ready in one turn. So the
//! sockets go into an epoll instance created here; the epoll descriptor
//! itself is watched by libuv (it is readable while any event is pending),
//! and the callback drains `epoll_wait` with a zero timeout into a
//! caller-owned array of (token, events) pairs.

use crate::errno::{Result, check, invalid};
use napi::bindgen_prelude::Uint32ArraySlice;
use napi_derive::napi;

/// Event bits as the JavaScript side speaks them.
const IN: u32 = 1;
const OUT: u32 = 2;
const RDHUP: u32 = 4;
const ERR: u32 = 8;
const HUP: u32 = 16;
/// Asked for with the events: edge-triggered.
const EDGE: u32 = 32;

fn to_epoll(events: u32) -> Result<u32> {
    if events & !(IN | OUT | RDHUP | EDGE) != 0 {
        return Err(invalid(format!("epoll events {events} (a mix of 1, 2, 4 and 32)")));
    }
    let mut e = 0u32;
    if events & IN != 0 {
        e |= libc::EPOLLIN as u32;
    }
    if events & OUT != 0 {
        e |= libc::EPOLLOUT as u32;
    }
    if events & RDHUP != 0 {
        e |= libc::EPOLLRDHUP as u32;
    }
    if events & EDGE != 0 {
        e |= libc::EPOLLET as u32;
    }
    Ok(e)
}

fn from_epoll(e: u32) -> u32 {
    let mut r = 0;
    if e & libc::EPOLLIN as u32 != 0 {
        r |= IN;
    }
    if e & libc::EPOLLOUT as u32 != 0 {
        r |= OUT;
    }
    if e & libc::EPOLLRDHUP as u32 != 0 {
        r |= RDHUP;
    }
    if e & libc::EPOLLERR as u32 != 0 {
        r |= ERR;
    }
    if e & libc::EPOLLHUP as u32 != 0 {
        r |= HUP;
    }
    r
}

/// A new epoll instance (close-on-exec).
#[napi]
pub fn epoll_create() -> Result<i32> {
    // SAFETY: epoll_create1 takes no pointers.
    check(unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) }, "epoll_create1", "")
}

fn ctl(ep: i32, op: libc::c_int, fd: i32, events: u32, token: u32) -> Result<()> {
    let mut ev = libc::epoll_event { events: to_epoll(events)?, u64: token as u64 };
    // SAFETY: ev is a live epoll_event; the kernel copies it.
    let r = unsafe { libc::epoll_ctl(ep, op, fd, &mut ev) };
    check(r, "epoll_ctl", &format!("epoll {ep} fd {fd}")).map(|_| ())
}

/// Adds `fd` with `events` (1 in, 2 out, 4 read hang-up, 32 edge-triggered);
/// `token` comes back with its readiness.
#[napi]
pub fn epoll_add(ep: i32, fd: i32, events: u32, token: u32) -> Result<()> {
    ctl(ep, libc::EPOLL_CTL_ADD, fd, events, token)
}

/// Changes the events (and token) of a descriptor in the set.
#[napi]
pub fn epoll_modify(ep: i32, fd: i32, events: u32, token: u32) -> Result<()> {
    ctl(ep, libc::EPOLL_CTL_MOD, fd, events, token)
}

/// Removes a descriptor from the set (closing it also does).
#[napi]
pub fn epoll_remove(ep: i32, fd: i32) -> Result<()> {
    ctl(ep, libc::EPOLL_CTL_DEL, fd, 0, 0)
}

/// Most events one wait returns.
const MAX_EVENTS: usize = 256;

/// epoll_wait without waiting: up to `out.len() / 2` ready descriptors as
/// (token, events) pairs, events as 1 in, 2 out, 4 read hang-up, 8 error,
/// 16 hang-up. Returns how many.
#[napi]
pub fn epoll_wait(ep: i32, mut out: Uint32ArraySlice) -> Result<u32> {
    // SAFETY: JS is not running while this call is; the array is ours until we return.
    let out = unsafe { out.as_mut() };
    let max = (out.len() / 2).min(MAX_EVENTS);
    if max == 0 {
        return Err(invalid("epoll_wait output has room for no event"));
    }
    let mut evs = [libc::epoll_event { events: 0, u64: 0 }; MAX_EVENTS];
    // SAFETY: evs has room for `max` events; timeout 0 never blocks.
    let n = unsafe { libc::epoll_wait(ep, evs.as_mut_ptr(), max as libc::c_int, 0) };
    let n = if n < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
        0
    } else {
        check(n, "epoll_wait", &format!("epoll {ep}"))?
    };
    for (i, e) in evs.iter().take(n as usize).enumerate() {
        let token = e.u64;
        out[2 * i] = token as u32;
        out[2 * i + 1] = from_epoll(e.events);
    }
    Ok(n as u32)
}
