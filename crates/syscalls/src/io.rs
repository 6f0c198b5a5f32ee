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

/// What a read()/write()-style call returned, as the byte-count calls here
/// report it: the count, -1 when the descriptor would block, or the error.
pub(crate) fn byte_count(r: isize, call: &str, what: &str) -> Result<i64> {
    if r >= 0 {
        return Ok(r as i64);
    }
    let e = last();
    if would_block(e) { Ok(-1) } else { Err(err(call, e, what)) }
}

/// One writev() of iovecs that describe live storage for the whole call.
fn writev_iov(fd: i32, iov: &[libc::iovec]) -> Result<i64> {
    // SAFETY: the caller's iovecs point at typed arrays or checked slab ranges held for this call.
    let r = unsafe { libc::writev(fd, iov.as_ptr(), iov.len() as i32) };
    byte_count(r, "writev", &format!("fd {fd}"))
}

fn range(len: usize, offset: u32, length: u32) -> Result<(usize, usize)> {
    let (o, l) = (offset as usize, length as usize);
    if o.checked_add(l).is_none_or(|e| e > len) {
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
    byte_count(r, "read", &format!("fd {fd}")).map(|n| n as i32)
}

/// Writes buf[offset, offset+length): bytes written, -1 if it would block.
#[napi]
pub fn write(fd: i32, buf: Uint8ArraySlice, offset: u32, length: u32) -> Result<i32> {
    let (o, l) = range(buf.len(), offset, length)?;
    // SAFETY: the range lies inside buf, checked above.
    let r = unsafe { libc::write(fd, buf[o..].as_ptr() as *const libc::c_void, l) };
    byte_count(r, "write", &format!("fd {fd}")).map(|n| n as i32)
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
    // Each iovec describes a live typed array held by `parts` for the whole call.
    writev_iov(fd, &iov)
}

/// Reads up to `max` frames, one read() each, frame i into slot i at `offset`;
/// lengths[i] gets its length. Returns how many (0 when none is waiting).
/// `skip` bytes at the head of every frame (a tap's virtio-net header) are
/// read into a scratch area and dropped, so slots hold bare frames; a read
/// shorter than `skip` gives a frame of length 0 for the caller to discard.
#[napi]
pub fn read_batch(
    fd: i32,
    mut slab: Uint8ArraySlice,
    slot_size: u32,
    offset: u32,
    max: u32,
    mut lengths: Uint32ArraySlice,
    skip: Option<u32>,
) -> Result<u32> {
    // SAFETY: JS is not running while this call is; the slices are ours until we return.
    let (slab, lengths) = unsafe { (slab.as_mut(), lengths.as_mut()) };
    let (slot, off, n) = (slot_size as usize, offset as usize, max as usize);
    if off >= slot || slot.checked_mul(n).is_none_or(|t| t > slab.len()) || lengths.len() < n {
        return Err(invalid(format!(
            "slab of {} bytes and {} lengths for {n} slots of {slot} at offset {off}",
            slab.len(),
            lengths.len()
        )));
    }
    let mut reader = FrameReader::new(fd, skip)?;
    let mut got = 0usize;
    while got < n {
        // In bounds: start + (slot - off) <= n * slot <= slab.len(), checked above.
        let start = got * slot + off;
        let Some(len) = reader.next(&mut slab[start..start + slot - off], got > 0)? else { break };
        lengths[got] = len as u32;
        got += 1;
    }
    Ok(got as u32)
}

/// Frame starts in `read_packed` are rounded up to this (a cache line).
const PACK_ALIGN: usize = 64;

/// Reads up to `max` frames, one read() each, packed one after another in
/// `slab`, as a tap gives them: frame i lands at offsets[i], `headroom` bytes
/// after the previous frame's end rounded up to 64, and lengths[i] gets its
/// length. Each read is offered `room` bytes (the largest frame), so the
/// batch ends when less than that is left, when `max` frames are in, or when
/// the device is empty. Packed, a batch of small frames takes a few pages
/// where a slot each took 64 KiB: the slab is sized for bytes, not frames.
/// `skip` is as for read_batch.
#[napi]
pub fn read_packed(
    fd: i32,
    mut slab: Uint8ArraySlice,
    room: u32,
    headroom: u32,
    max: u32,
    mut offsets: Uint32ArraySlice,
    mut lengths: Uint32ArraySlice,
    skip: Option<u32>,
) -> Result<u32> {
    // SAFETY: JS is not running while this call is; the slices are ours until we return.
    let (slab, offsets, lengths) = unsafe { (slab.as_mut(), offsets.as_mut(), lengths.as_mut()) };
    let (room, head, n) = (room as usize, headroom as usize, max as usize);
    if room == 0 || head >= PACK_ALIGN || offsets.len() < n || lengths.len() < n || slab.len() > u32::MAX as usize {
        return Err(invalid(format!(
            "read_packed: room {room}, headroom {head} (below {PACK_ALIGN}), {} offsets and {} lengths for {n} frames",
            offsets.len(),
            lengths.len()
        )));
    }
    let mut reader = FrameReader::new(fd, skip)?;
    let (mut got, mut end) = (0usize, 0usize);
    while got < n {
        let start = end.next_multiple_of(PACK_ALIGN) + head;
        // Checked: start + room stays inside the slab.
        if start.checked_add(room).is_none_or(|e| e > slab.len()) {
            break;
        }
        let Some(len) = reader.next(&mut slab[start..start + room], got > 0)? else { break };
        offsets[got] = start as u32;
        lengths[got] = len as u32;
        end = start + len;
        got += 1;
    }
    Ok(got as u32)
}

/// One frame per read() from a tap, its `skip` leading bytes dropped into
/// a scratch area.
struct FrameReader {
    fd: i32,
    skip: usize,
    scratch: [u8; MAX_SKIP],
}

impl FrameReader {
    fn new(fd: i32, skip: Option<u32>) -> Result<Self> {
        let skip = skip.unwrap_or(0) as usize;
        if skip > MAX_SKIP {
            return Err(invalid(format!("skip of {skip} bytes (at most {MAX_SKIP})")));
        }
        Ok(Self { fd, skip, scratch: [0u8; MAX_SKIP] })
    }

    /// The next frame's length in `dst`, or None when the device is empty
    /// or at its end. An error after frames were read (`have`) ends the
    /// batch too, so they are not lost; the next call reports it.
    fn next(&mut self, dst: &mut [u8], have: bool) -> Result<Option<usize>> {
        let iov = [
            libc::iovec { iov_base: self.scratch.as_mut_ptr() as *mut libc::c_void, iov_len: self.skip },
            libc::iovec { iov_base: dst.as_mut_ptr() as *mut libc::c_void, iov_len: dst.len() },
        ];
        let parts = if self.skip == 0 { &iov[1..] } else { &iov[..] };
        // SAFETY: both iovecs describe live, writable storage of the stated sizes.
        let r = unsafe { libc::readv(self.fd, parts.as_ptr(), parts.len() as i32) };
        if r < 0 {
            let e = last();
            if would_block(e) || have {
                return Ok(None);
            }
            return Err(err("read", e, &format!("fd {}", self.fd)));
        }
        if r == 0 {
            return Ok(None);
        }
        Ok(Some((r as usize).saturating_sub(self.skip)))
    }
}

/// The largest per-frame header `read_batch` skips and `write_batch` prepends
/// (virtio-net headers are 10 or 12 bytes).
const MAX_SKIP: usize = 64;

/// Writes `count` frames, one write() each, from the (offset, length) pairs in
/// `desc`. Returns how many went out; fails only when the first one fails.
/// With `prefix` (a tap's virtio-net header) every frame is written as
/// prefix + frame with writev().
#[napi]
pub fn write_batch(
    fd: i32,
    slab: Uint8ArraySlice,
    desc: Uint32ArraySlice,
    count: u32,
    prefix: Option<Uint8ArraySlice>,
) -> Result<u32> {
    let n = count as usize;
    if desc.len() < 2 * n {
        return Err(invalid(format!("{} descriptor words for {n} frames", desc.len())));
    }
    let head: &[u8] = prefix.as_deref().unwrap_or(&[]);
    if head.len() > MAX_SKIP {
        return Err(invalid(format!("prefix of {} bytes (at most {MAX_SKIP})", head.len())));
    }
    let mut done = 0usize;
    while done < n {
        let (o, l) = range(slab.len(), desc[2 * done], desc[2 * done + 1])?;
        let iov = [
            libc::iovec { iov_base: head.as_ptr() as *mut libc::c_void, iov_len: head.len() },
            libc::iovec { iov_base: slab[o..].as_ptr() as *mut libc::c_void, iov_len: l },
        ];
        let parts = if head.is_empty() { &iov[1..] } else { &iov[..] };
        // SAFETY: the prefix is a live typed array and the range lies inside the slab, checked above.
        let r = unsafe { libc::writev(fd, parts.as_ptr(), parts.len() as i32) };
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

/// One writev() of `prefix` followed by the `count` slab ranges in `desc`:
/// how a tap takes a whole UDP burst as one segmentation-offload frame
/// (virtio-net header, headers, then each datagram's payload where it was
/// received). Bytes written; -1 if it would block.
#[napi]
pub fn write_gather(fd: i32, prefix: Uint8ArraySlice, slab: Uint8ArraySlice, desc: Uint32ArraySlice, count: u32) -> Result<i64> {
    let n = count as usize;
    if n == 0 || n >= 1024 || desc.len() < 2 * n {
        return Err(invalid(format!("{n} ranges with {} descriptor words (1 to 1023 ranges)", desc.len())));
    }
    let mut iov: Vec<libc::iovec> = Vec::with_capacity(n + 1);
    iov.push(libc::iovec { iov_base: prefix.as_ptr() as *mut libc::c_void, iov_len: prefix.len() });
    for i in 0..n {
        let (o, l) = range(slab.len(), desc[2 * i], desc[2 * i + 1])?;
        iov.push(libc::iovec { iov_base: slab[o..].as_ptr() as *mut libc::c_void, iov_len: l });
    }
    // Every iovec describes the live prefix or a checked range of the slab.
    writev_iov(fd, &iov)
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
    byte_count(r, "sendmsg", &format!("fd {fd}"))
}
