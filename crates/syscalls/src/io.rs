//! Reads and writes on any descriptor: tap devices, UNIX streams, netlink.
//!
//! A tap device gives one frame per read() and takes one per write(), so the
//! batch calls here loop over those in a single native call, draining until
//! the kernel says "would block" or the batch is full. Stream sockets use
//! read(), write() and writev(), which may move fewer bytes than asked: the
//! caller keeps what is left, as qemu's framing requires.
//!
//! "Would block" is a return value: -1 from the byte-count calls (where 0
//! means end of stream for a read), 0 from the batch calls.

use crate::errno::{Result, err, invalid, last};
use napi::bindgen_prelude::{Uint32ArraySlice, Uint8Array, Uint8ArraySlice};
use napi_derive::napi;

fn would_block(e: i32) -> bool {
    e == libc::EAGAIN || e == libc::EWOULDBLOCK
}

fn range(len: usize, offset: u32, length: u32) -> Result<(usize, usize)> {
    let (o, l) = (offset as usize, length as usize);
    if o.checked_add(l).map_or(true, |e| e > len) {
        return Err(invalid(format!("range {o}+{l} past a buffer of {len} bytes")));
    }
    Ok((o, l))
}

/// Reads into buf[offset, offset+length): bytes read, 0 at end of stream, -1 if it would block.
#[napi]
pub fn read(fd: i32, mut buf: Uint8ArraySlice, offset: u32, length: u32) -> Result<i32> {
    // SAFETY: JS is not running while this call is; the slice is ours until we return.
    let buf = unsafe { buf.as_mut() };
    let (o, l) = range(buf.len(), offset, length)?;
    // SAFETY: the range lies inside buf, checked above.
    let r = unsafe { libc::read(fd, buf[o..].as_mut_ptr() as *mut libc::c_void, l) };
    if r < 0 {
        let e = last();
        return if would_block(e) { Ok(-1) } else { Err(err("read", e, &format!("fd {fd}"))) };
    }
    Ok(r as i32)
}

/// Writes buf[offset, offset+length): bytes written, -1 if it would block.
#[napi]
pub fn write(fd: i32, buf: Uint8ArraySlice, offset: u32, length: u32) -> Result<i32> {
    let (o, l) = range(buf.len(), offset, length)?;
    // SAFETY: the range lies inside buf, checked above.
    let r = unsafe { libc::write(fd, buf[o..].as_ptr() as *const libc::c_void, l) };
    if r < 0 {
        let e = last();
        return if would_block(e) { Ok(-1) } else { Err(err("write", e, &format!("fd {fd}"))) };
    }
    Ok(r as i32)
}

/// Writes the parts in order with one writev(): bytes written, -1 if it would block.
#[napi]
pub fn writev(fd: i32, parts: Vec<Uint8Array>) -> Result<i64> {
    if parts.len() > 1024 {
        return Err(invalid(format!("{} parts (at most 1024, IOV_MAX)", parts.len())));
    }
    let iov: Vec<libc::iovec> = parts
        .iter()
        .map(|p| libc::iovec { iov_base: p.as_ptr() as *mut libc::c_void, iov_len: p.len() })
        .collect();
    // SAFETY: each iovec describes a live typed array held by `parts` for the whole call.
    let r = unsafe { libc::writev(fd, iov.as_ptr(), iov.len() as i32) };
    if r < 0 {
        let e = last();
        return if would_block(e) { Ok(-1) } else { Err(err("writev", e, &format!("fd {fd}"))) };
    }
    Ok(r as i64)
}

/// Reads up to `max` frames, one read() each, frame i into slot i at `offset`;
/// lengths[i] gets its length. Returns how many (0 when none is waiting).
#[napi]
pub fn read_batch(
    fd: i32,
    mut slab: Uint8ArraySlice,
    slot_size: u32,
    offset: u32,
    max: u32,
    mut lengths: Uint32ArraySlice,
) -> Result<u32> {
    // SAFETY: JS is not running while this call is; the slices are ours until we return.
    let (slab, lengths) = unsafe { (slab.as_mut(), lengths.as_mut()) };
    let (slot, off, n) = (slot_size as usize, offset as usize, max as usize);
    if off >= slot || slot.checked_mul(n).map_or(true, |t| t > slab.len()) || lengths.len() < n {
        return Err(invalid(format!(
            "slab of {} bytes and {} lengths for {n} slots of {slot} at offset {off}",
            slab.len(),
            lengths.len()
        )));
    }
    let mut got = 0usize;
    while got < n {
        let start = got * slot + off;
        // SAFETY: start + (slot - off) <= n * slot <= slab.len(), checked above.
        let r = unsafe { libc::read(fd, slab[start..].as_mut_ptr() as *mut libc::c_void, slot - off) };
        if r < 0 {
            let e = last();
            if would_block(e) || got > 0 {
                break;
            }
            return Err(err("read", e, &format!("fd {fd}")));
        }
        if r == 0 {
            break;
        }
        lengths[got] = r as u32;
        got += 1;
    }
    Ok(got as u32)
}

/// Writes `count` frames, one write() each, from the (offset, length) pairs in
/// `desc`. Returns how many went out; fails only when the first one fails.
#[napi]
pub fn write_batch(fd: i32, slab: Uint8ArraySlice, desc: Uint32ArraySlice, count: u32) -> Result<u32> {
    let n = count as usize;
    if desc.len() < 2 * n {
        return Err(invalid(format!("{} descriptor words for {n} frames", desc.len())));
    }
    let mut done = 0usize;
    while done < n {
        let (o, l) = range(slab.len(), desc[2 * done], desc[2 * done + 1])?;
        // SAFETY: the range lies inside the slab, checked above.
        let r = unsafe { libc::write(fd, slab[o..].as_ptr() as *const libc::c_void, l) };
        if r < 0 {
            let e = last();
            if would_block(e) || done > 0 {
                break;
            }
            return Err(err("write", e, &format!("fd {fd}")));
        }
        done += 1;
    }
    Ok(done as u32)
}

/// Sends the parts in order with one sendmsg() on a socket (MSG_NOSIGNAL |
/// MSG_DONTWAIT): bytes sent, -1 if it would block. This is how the rest of
/// a short write to qemu's stream socket is completed.
#[napi]
pub fn sendmsg(fd: i32, parts: Vec<Uint8Array>) -> Result<i64> {
    if parts.len() > 1024 {
        return Err(invalid(format!("{} parts (at most 1024, IOV_MAX)", parts.len())));
    }
    let mut iov: Vec<libc::iovec> = parts
        .iter()
        .map(|p| libc::iovec { iov_base: p.as_ptr() as *mut libc::c_void, iov_len: p.len() })
        .collect();
    // SAFETY: msghdr is plain old data; zero is "no name, no control".
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = iov.as_mut_ptr();
    msg.msg_iovlen = iov.len();
    // SAFETY: each iovec describes a live typed array held by `parts` for the whole call.
    let r = unsafe { libc::sendmsg(fd, &msg, libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT) };
    if r < 0 {
        let e = last();
        return if would_block(e) { Ok(-1) } else { Err(err("sendmsg", e, &format!("fd {fd}"))) };
    }
    Ok(r as i64)
}
