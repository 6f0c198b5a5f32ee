//! Batched datagrams: recvmmsg() into a caller's slab, sendmmsg() out of one.
//!
//! The caller owns every byte: a slab cut into equal slots, and a metadata
//! array of 32-byte records (see `addr`). Datagram i lands in slot i at a
//! fixed offset, so that the caller can leave room in front of it for the
//! Ethernet, IP and UDP headers it will write in place. The message headers,
//! iovecs and address buffers the kernel needs are kept per thread and reused,
//! so a call allocates nothing once it has seen its largest batch.

use crate::addr::{Sockaddr, META};
use crate::errno::{Result, err, invalid, last};
use napi::bindgen_prelude::{Uint32ArraySlice, Uint8ArraySlice};
use napi_derive::napi;
use std::cell::RefCell;

/// The most messages one call moves; a larger request is an error.
pub const MAX_BATCH: usize = 1024;

struct Scratch {
    hdrs: Vec<libc::mmsghdr>,
    iovs: Vec<libc::iovec>,
    addrs: Vec<Sockaddr>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = const { RefCell::new(Scratch { hdrs: Vec::new(), iovs: Vec::new(), addrs: Vec::new() }) };
}

fn prepare(s: &mut Scratch, n: usize) {
    if s.hdrs.len() < n {
        // SAFETY: mmsghdr and iovec are plain old data; zero is a valid value for both.
        s.hdrs.resize(n, unsafe { std::mem::zeroed() });
        s.iovs.resize(n, libc::iovec { iov_base: std::ptr::null_mut(), iov_len: 0 });
        s.addrs.resize(n, Sockaddr::empty());
    }
}

fn would_block(e: i32) -> bool {
    e == libc::EAGAIN || e == libc::EWOULDBLOCK
}

/// Receives up to `max` datagrams; returns how many (0 when none is waiting).
#[napi]
pub fn recvmmsg(
    fd: i32,
    mut slab: Uint8ArraySlice,
    slot_size: u32,
    offset: u32,
    max: u32,
    mut meta: Uint8ArraySlice,
) -> Result<u32> {
    // SAFETY: JS is not running while this call is; the slices are ours until we return.
    let (slab, meta) = unsafe { (slab.as_mut(), meta.as_mut()) };
    let (slot, off, n) = (slot_size as usize, offset as usize, max as usize);
    if n == 0 || n > MAX_BATCH {
        return Err(invalid(format!("batch of {n} (1 to {MAX_BATCH})")));
    }
    if off >= slot || slot.checked_mul(n).is_none_or(|t| t > slab.len()) {
        return Err(invalid(format!(
            "slab of {} bytes for {n} slots of {slot} at offset {off}",
            slab.len()
        )));
    }
    if meta.len() < n * META {
        return Err(invalid(format!("metadata of {} bytes for {n} records of {META}", meta.len())));
    }
    SCRATCH.with(|cell| {
        let s = &mut *cell.borrow_mut();
        prepare(s, n);
        let base = slab.as_mut_ptr();
        for i in 0..n {
            // SAFETY: i * slot + off < n * slot <= slab.len(), checked above.
            s.iovs[i].iov_base = unsafe { base.add(i * slot + off) } as *mut libc::c_void;
            s.iovs[i].iov_len = slot - off;
            s.addrs[i] = Sockaddr::empty();
            let h = &mut s.hdrs[i].msg_hdr;
            h.msg_name = s.addrs[i].mut_ptr() as *mut libc::c_void;
            h.msg_namelen = s.addrs[i].len;
            h.msg_iov = &mut s.iovs[i];
            h.msg_iovlen = 1;
            h.msg_control = std::ptr::null_mut();
            h.msg_controllen = 0;
            h.msg_flags = 0;
            s.hdrs[i].msg_len = 0;
        }
        // SAFETY: every header points into live scratch storage and into the slab,
        // whose bounds were checked; the kernel writes at most iov_len per slot.
        let r = unsafe { libc::recvmmsg(fd, s.hdrs.as_mut_ptr(), n as u32, libc::MSG_DONTWAIT, std::ptr::null_mut()) };
        if r < 0 {
            let e = last();
            if would_block(e) {
                return Ok(0);
            }
            return Err(err("recvmmsg", e, &format!("fd {fd}")));
        }
        for i in 0..r as usize {
            let trunc = (s.hdrs[i].msg_hdr.msg_flags & libc::MSG_TRUNC != 0) as u32;
            s.addrs[i].len = s.hdrs[i].msg_hdr.msg_namelen;
            s.addrs[i].write_meta(&mut meta[i * META..(i + 1) * META], s.hdrs[i].msg_len, trunc);
        }
        Ok(r as u32)
    })
}

/// Sends `count` datagrams whose (offset, length) pairs are in `desc`, each to
/// the destination in its `addrs` record, or on the connected peer when
/// `addrs` is absent or the record's family is 0. Returns how many went out:
/// 0 when the socket would block. Fails only when the first one fails.
#[napi]
pub fn sendmmsg(
    fd: i32,
    slab: Uint8ArraySlice,
    desc: Uint32ArraySlice,
    count: u32,
    addrs: Option<Uint8ArraySlice>,
) -> Result<u32> {
    let addrs: Option<&[u8]> = addrs.as_deref();
    let n = count as usize;
    if n == 0 {
        return Ok(0);
    }
    if n > MAX_BATCH {
        return Err(invalid(format!("batch of {n} (1 to {MAX_BATCH})")));
    }
    if desc.len() < 2 * n {
        return Err(invalid(format!("{} descriptor words for {n} messages", desc.len())));
    }
    if let Some(a) = addrs {
        if a.len() < n * META {
            return Err(invalid(format!("{} address bytes for {n} records of {META}", a.len())));
        }
    }
    SCRATCH.with(|cell| {
        let s = &mut *cell.borrow_mut();
        prepare(s, n);
        for i in 0..n {
            let (o, l) = (desc[2 * i] as usize, desc[2 * i + 1] as usize);
            if o.checked_add(l).is_none_or(|end| end > slab.len()) {
                return Err(invalid(format!("message {i} at {o}+{l} past a slab of {}", slab.len())));
            }
            s.iovs[i].iov_base = slab[o..].as_ptr() as *mut libc::c_void;
            s.iovs[i].iov_len = l;
            let dest = match addrs {
                Some(a) => Sockaddr::read_meta(&a[i * META..(i + 1) * META])?,
                None => None,
            };
            let h = &mut s.hdrs[i].msg_hdr;
            match dest {
                Some(d) => {
                    s.addrs[i] = d;
                    h.msg_name = s.addrs[i].mut_ptr() as *mut libc::c_void;
                    h.msg_namelen = s.addrs[i].len;
                }
                None => {
                    h.msg_name = std::ptr::null_mut();
                    h.msg_namelen = 0;
                }
            }
            h.msg_iov = &mut s.iovs[i];
            h.msg_iovlen = 1;
            h.msg_control = std::ptr::null_mut();
            h.msg_controllen = 0;
            h.msg_flags = 0;
        }
        // SAFETY: headers point into live scratch storage and into the slab, whose
        // ranges were checked; the kernel only reads them.
        let r = unsafe { libc::sendmmsg(fd, s.hdrs.as_mut_ptr(), n as u32, libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL) };
        if r < 0 {
            let e = last();
            if would_block(e) {
                return Ok(0);
            }
            return Err(err("sendmmsg", e, &format!("fd {fd}")));
        }
        Ok(r as u32)
    })
}

const SOL_UDP: libc::c_int = 17;
const UDP_SEGMENT: libc::c_int = 103;

/// Sends `count` pieces of the slab, given as (offset, length) pairs in
/// `desc`, as datagrams of `segment` bytes each with one sendmsg() and the
/// UDP_SEGMENT option (UDP GSO): the kernel gathers the pieces (no copy
/// here) and cuts the whole into segments, so a burst of equal datagrams to
/// one peer crosses the network stack once. Every piece but the last must
/// be exactly `segment` bytes. `dest` is a 32-byte record (family 0 or
/// absent: the connected peer). Returns the bytes sent, or -1 when the
/// socket would block.
#[napi]
pub fn send_segments(
    fd: i32,
    slab: Uint8ArraySlice,
    desc: Uint32ArraySlice,
    count: u32,
    segment: u32,
    dest: Option<Uint8ArraySlice>,
) -> Result<i64> {
    let n = count as usize;
    if n == 0 || n > 128 || desc.len() < 2 * n {
        return Err(invalid(format!("{n} pieces with {} descriptor words (1 to 128 pieces)", desc.len())));
    }
    if segment == 0 || segment > 65507 {
        return Err(invalid(format!("segment size {segment} (1 to 65507)")));
    }
    let mut iov: Vec<libc::iovec> = Vec::with_capacity(n);
    let mut total = 0usize;
    for i in 0..n {
        let (o, l) = (desc[2 * i] as usize, desc[2 * i + 1] as usize);
        if o.checked_add(l).is_none_or(|e| e > slab.len()) {
            return Err(invalid(format!("piece {i} at {o}+{l} past a slab of {}", slab.len())));
        }
        if (i + 1 < n && l != segment as usize) || l > segment as usize || l == 0 {
            return Err(invalid(format!("piece {i} of {l} bytes with segments of {segment}")));
        }
        total += l;
        iov.push(libc::iovec { iov_base: slab[o..].as_ptr() as *mut libc::c_void, iov_len: l });
    }
    if total > 65000 {
        return Err(invalid(format!("{total} bytes in one GSO send (at most 65000)")));
    }
    let mut to = match dest.as_deref() {
        Some(rec) if rec.len() >= META => Sockaddr::read_meta(&rec[..META])?,
        Some(rec) => return Err(invalid(format!("destination record of {} bytes (want {META})", rec.len()))),
        None => None,
    };
    // Room for one cmsg carrying a u16, aligned as the kernel expects.
    let mut control = [0u64; 4];
    // SAFETY: msghdr is plain old data; zero is "no name, no control".
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    if let Some(t) = to.as_mut() {
        msg.msg_name = t.mut_ptr() as *mut libc::c_void;
        msg.msg_namelen = t.len;
    }
    msg.msg_iov = iov.as_mut_ptr();
    msg.msg_iovlen = n;
    msg.msg_control = control.as_mut_ptr() as *mut libc::c_void;
    // SAFETY: CMSG_SPACE is a pure size computation.
    msg.msg_controllen = unsafe { libc::CMSG_SPACE(2) } as usize;
    // SAFETY: msg_control points at `control`, large enough for one cmsg of 2 bytes
    // (CMSG_SPACE(2) = 24 <= 32), so CMSG_FIRSTHDR is non-null and CMSG_DATA in bounds.
    unsafe {
        let c = libc::CMSG_FIRSTHDR(&msg);
        (*c).cmsg_level = SOL_UDP;
        (*c).cmsg_type = UDP_SEGMENT;
        (*c).cmsg_len = libc::CMSG_LEN(2) as usize;
        std::ptr::write_unaligned(libc::CMSG_DATA(c) as *mut u16, segment as u16);
    }
    // SAFETY: every pointer in msg refers to live storage above or to checked ranges of the slab.
    let r = unsafe { libc::sendmsg(fd, &msg, libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL) };
    crate::io::byte_count(r, "sendmsg", &format!("fd {fd} (UDP_SEGMENT {segment})"))
}
