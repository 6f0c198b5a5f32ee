//! Growing the descriptor table once, ahead of the flows.
//!
//! The kernel's table of open files grows by doubling when a descriptor
//! past its end is asked for, and when the table is shared by several
//! threads, as Node's is, each growth waits for an RCU grace period before
//! the old table may be freed. A translator that opens a socket per flow
//! meets that wait every time its flows double, in the middle of the
//! traffic, on Node's main thread: about ten of the fifteen microseconds a
//! new binding cost, averaged over 10,000. Asking once for a descriptor
//! just below the limit grows the table to its final size in one step; the
//! table never shrinks, so the descriptor is closed again at once. Done on
//! a thread of its own, the wait blocks only that thread.
use crate::errno::{Result, check};
use napi_derive::napi;

fn reserve(count: u32) -> Result<()> {
    if count < 2 {
        return Ok(());
    }
    let path = c"/dev/null";
    // SAFETY: path is NUL-terminated.
    let fd = check(unsafe { libc::open(path.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) }, "open", "/dev/null")?;
    // SAFETY: F_DUPFD_CLOEXEC takes an int and duplicates a descriptor we own.
    let high = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, (count - 1) as libc::c_int) };
    // SAFETY: both descriptors are ours and closed once (high only if made).
    unsafe {
        if high >= 0 {
            libc::close(high);
        }
        libc::close(fd);
    }
    check(high, "fcntl", "(F_DUPFD_CLOEXEC)").map(|_| ())
}

/// Grows the descriptor table to hold `count` descriptors. With `background`
/// it returns at once and the growth happens on a short-lived thread (an
/// error there is dropped: the table then grows as it used to).
#[napi]
pub fn reserve_descriptors(count: u32, background: bool) -> Result<()> {
    if background {
        std::thread::spawn(move || {
            let _ = reserve(count);
        });
        return Ok(());
    }
    reserve(count)
}
