//! TCP sockets and the calls a TCP translator makes on them, plus pipes and
//! splice() for connections carried socket to socket.
//!
//! The translator keeps no buffers of its own: the host socket is the
//! buffer. Data toward the guest is peeked (MSG_PEEK, at a peek offset),
//! dropped once the guest acknowledges it (MSG_TRUNC), and the state the
//! translator mirrors is read from TCP_INFO. Everything here is one system
//! call over caller-owned memory; the decisions stay in TypeScript.
//!
//! Conventions as elsewhere in the crate: every descriptor is non-blocking
//! and close-on-exec; failures are errors named by errno; "would block" is a
//! return value (-1 from the byte-count calls, where 0 is end of stream).

use crate::addr::{Sockaddr, check_port, parse};
use crate::errno::{Result, check, err, invalid, last, last_err, name};
use crate::io::byte_count;
use napi::bindgen_prelude::{Float64ArraySlice, Uint32ArraySlice, Uint8ArraySlice};
use napi_derive::napi;
use std::cell::RefCell;
use std::mem::size_of;

const FLAGS: libc::c_int = libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC;

fn would_block(e: i32) -> bool {
    e == libc::EAGAIN || e == libc::EWOULDBLOCK
}

fn set_int(fd: i32, level: libc::c_int, opt: libc::c_int, value: i32, what: &str) -> Result<()> {
    // SAFETY: the option value is a live c_int and its size is passed along.
    let r = unsafe {
        libc::setsockopt(fd, level, opt, &value as *const i32 as *const libc::c_void, size_of::<i32>() as libc::socklen_t)
    };
    check(r, "setsockopt", &format!("fd {fd} ({what})")).map(|_| ())
}

fn get_int(fd: i32, level: libc::c_int, opt: libc::c_int, what: &str) -> Result<i32> {
    let mut value: i32 = 0;
    let mut len = size_of::<i32>() as libc::socklen_t;
    // SAFETY: the kernel writes at most `len` bytes into `value`, a live c_int.
    let r = unsafe { libc::getsockopt(fd, level, opt, &mut value as *mut i32 as *mut libc::c_void, &mut len) };
    check(r, "getsockopt", &format!("fd {fd} ({what})"))?;
    Ok(value)
}

fn domain(family: u32) -> Result<libc::c_int> {
    crate::sock::domain(family)
}

/// A non-blocking, close-on-exec TCP socket of family 4 or 6.
#[napi]
pub fn tcp_socket(family: u32) -> Result<i32> {
    tcp_socket_here(family)
}

/// A TCP socket in the calling thread's network namespace (see `netns_tcp_socket`).
pub fn tcp_socket_here(family: u32) -> Result<i32> {
    let d = domain(family)?;
    // SAFETY: socket() takes no pointers.
    check(unsafe { libc::socket(d, libc::SOCK_STREAM | FLAGS, libc::IPPROTO_TCP) }, "socket", "(tcp)")
}

#[napi]
pub fn listen(fd: i32, backlog: i32) -> Result<()> {
    // SAFETY: listen() takes no pointers.
    check(unsafe { libc::listen(fd, backlog) }, "listen", &format!("fd {fd}")).map(|_| ())
}

#[napi(object)]
pub struct Accepted {
    pub fd: i32,
    pub family: u32,
    pub address: String,
    pub port: u32,
    pub scope_id: u32,
}

/// Accepts one connection with its peer address; `None` when none is waiting.
#[napi]
pub fn accept4(fd: i32) -> Result<Option<Accepted>> {
    let mut sa = Sockaddr::empty();
    // SAFETY: sa is writable storage of sa.len bytes; the kernel updates len.
    let r = unsafe { libc::accept4(fd, sa.mut_ptr(), &mut sa.len, FLAGS) };
    if r < 0 {
        let e = last();
        if would_block(e) {
            return Ok(None);
        }
        return Err(err("accept4", e, &format!("fd {fd}")));
    }
    let (family, port, scope, bytes) = sa.decode();
    let address = match family {
        4 => std::net::Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3]).to_string(),
        6 => std::net::Ipv6Addr::from(bytes).to_string(),
        _ => String::new(),
    };
    Ok(Some(Accepted { fd: r, family: family as u32, address, port: port as u32, scope_id: scope }))
}

/// A non-blocking connect: "connected", or "in-progress" (EINPROGRESS), in
/// which case the socket turns writable when it is done and `socket_error`
/// tells how it went.
#[napi]
pub fn tcp_connect(fd: i32, family: u32, address: String, port: u32, scope_id: Option<u32>) -> Result<String> {
    let ip = parse(family, &address)?;
    let port = check_port(port)?;
    let sa = Sockaddr::from_ip(ip, port, scope_id.unwrap_or(0));
    // SAFETY: sa holds a valid sockaddr of sa.len bytes.
    let r = unsafe { libc::connect(fd, sa.ptr(), sa.len) };
    if r == 0 {
        return Ok("connected".to_string());
    }
    let e = last();
    if e == libc::EINPROGRESS {
        return Ok("in-progress".to_string());
    }
    let shown = match ip {
        std::net::IpAddr::V4(a) => format!("{a}:{port}"),
        std::net::IpAddr::V6(a) => format!("[{a}]:{port}"),
    };
    Err(err("connect", e, &shown))
}

/// SO_ERROR (which also clears it): the pending error's name, or `None`.
#[napi]
pub fn socket_error(fd: i32) -> Result<Option<String>> {
    let e = get_int(fd, libc::SOL_SOCKET, libc::SO_ERROR, "SO_ERROR")?;
    Ok(if e == 0 { None } else { Some(name(e).to_string()) })
}

fn range(len: usize, offset: u32, length: u32) -> Result<(usize, usize)> {
    let (o, l) = (offset as usize, length as usize);
    if o.checked_add(l).is_none_or(|e| e > len) {
        return Err(invalid(format!("range {o}+{l} past a buffer of {len} bytes")));
    }
    Ok((o, l))
}

/// Largest `peek_offset` accepted: the kernel's receive buffers stay well below.
const MAX_PEEK_SKIP: usize = 1 << 30;

thread_local! {
    /// Where the bytes before the peek offset land when the kernel cannot
    /// skip them itself (no SO_PEEK_OFF); grown on demand, never read.
    static SKIP: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// recv(MSG_PEEK | MSG_DONTWAIT) into buf[offset, offset+length).
///
/// With `peek_offset`, the first `peek_offset` queued bytes are peeked into
/// a scratch area and only what follows them reaches `buf` (for kernels or
/// sockets without SO_PEEK_OFF). Returns the bytes placed in `buf`, 0 at end
/// of stream, and -1 when it would block, including when everything queued
/// lies before the peek offset (even with a FIN behind it, which a peek at
/// the kernel's SO_PEEK_OFF position would report as 0).
#[napi]
pub fn recv_peek(fd: i32, mut buf: Uint8ArraySlice, offset: u32, length: u32, peek_offset: Option<u32>) -> Result<i32> {
    // SAFETY: JS is not running while this call is; the slice is ours until we return.
    let buf = unsafe { buf.as_mut() };
    let (o, l) = range(buf.len(), offset, length)?;
    let skip = peek_offset.unwrap_or(0) as usize;
    if skip > MAX_PEEK_SKIP {
        return Err(invalid(format!("peek offset {skip} (at most {MAX_PEEK_SKIP})")));
    }
    let flags = libc::MSG_PEEK | libc::MSG_DONTWAIT;
    let what = format!("fd {fd}");
    if skip == 0 {
        // SAFETY: the range lies inside buf, checked above.
        let r = unsafe { libc::recv(fd, buf[o..].as_mut_ptr() as *mut libc::c_void, l, flags) };
        return byte_count(r, "recv", &what).map(|n| n as i32);
    }
    SKIP.with(|cell| {
        let mut scratch = cell.borrow_mut();
        if scratch.len() < skip {
            scratch.resize(skip, 0);
        }
        let mut iov = [
            libc::iovec { iov_base: scratch.as_mut_ptr() as *mut libc::c_void, iov_len: skip },
            libc::iovec { iov_base: buf[o..].as_mut_ptr() as *mut libc::c_void, iov_len: l },
        ];
        // SAFETY: msghdr is plain old data; zero is "no name, no control".
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_iov = iov.as_mut_ptr();
        msg.msg_iovlen = iov.len();
        // SAFETY: both iovecs describe live, writable storage of the stated sizes
        // (the scratch is at least `skip` bytes, the range lies inside buf).
        let r = unsafe { libc::recvmsg(fd, &mut msg, flags) };
        let n = byte_count(r, "recvmsg", &what)?;
        Ok(if n == 0 {
            0
        } else if n as usize <= skip {
            -1
        } else {
            (n as usize - skip) as i32
        })
    })
}

/// recv(MSG_TRUNC | MSG_DONTWAIT) with no buffer: drops up to `length`
/// queued bytes without copying them. Bytes dropped, 0 at end of stream, -1
/// when nothing is queued.
#[napi]
pub fn recv_discard(fd: i32, length: u32) -> Result<i64> {
    // SAFETY: with MSG_TRUNC a TCP socket discards the data and writes nothing to the (null) buffer.
    let r = unsafe { libc::recv(fd, std::ptr::null_mut(), length as usize, libc::MSG_TRUNC | libc::MSG_DONTWAIT) };
    byte_count(r, "recv", &format!("fd {fd} (MSG_TRUNC)"))
}

/// shutdown(): `how` is "read", "write" or "both".
#[napi]
pub fn shutdown(fd: i32, how: String) -> Result<()> {
    let h = match how.as_str() {
        "read" => libc::SHUT_RD,
        "write" => libc::SHUT_WR,
        "both" => libc::SHUT_RDWR,
        other => return Err(invalid(format!("shutdown '{other}' (want read, write or both)"))),
    };
    // SAFETY: shutdown() takes no pointers.
    check(unsafe { libc::shutdown(fd, h) }, "shutdown", &format!("fd {fd}")).map(|_| ())
}

/// SO_PEEK_OFF: where the next MSG_PEEK starts (-1 turns it off).
#[napi]
pub fn set_peek_offset(fd: i32, offset: i32) -> Result<()> {
    set_int(fd, libc::SOL_SOCKET, libc::SO_PEEK_OFF, offset, "SO_PEEK_OFF")
}

/// Whether this kernel takes SO_PEEK_OFF on a TCP socket (tried once on a
/// fresh socket, which is closed again).
#[napi]
pub fn peek_offset_supported() -> Result<bool> {
    let fd = tcp_socket(4).or_else(|_| tcp_socket(6))?;
    let r = set_int(fd, libc::SOL_SOCKET, libc::SO_PEEK_OFF, 0, "SO_PEEK_OFF");
    // SAFETY: fd is ours and open.
    unsafe { libc::close(fd) };
    match r {
        Ok(()) => Ok(true),
        Err(e) if e.status == "EOPNOTSUPP" || e.status == "ENOPROTOOPT" || e.status == "EINVAL" => Ok(false),
        Err(e) => Err(e),
    }
}

#[napi]
pub fn set_no_delay(fd: i32, on: bool) -> Result<()> {
    set_int(fd, libc::IPPROTO_TCP, libc::TCP_NODELAY, on as i32, "TCP_NODELAY")
}

#[napi]
pub fn set_quick_ack(fd: i32, on: bool) -> Result<()> {
    set_int(fd, libc::IPPROTO_TCP, libc::TCP_QUICKACK, on as i32, "TCP_QUICKACK")
}

#[napi]
pub fn get_max_seg(fd: i32) -> Result<i32> {
    get_int(fd, libc::IPPROTO_TCP, libc::TCP_MAXSEG, "TCP_MAXSEG")
}

#[napi]
pub fn set_max_seg(fd: i32, mss: i32) -> Result<()> {
    set_int(fd, libc::IPPROTO_TCP, libc::TCP_MAXSEG, mss, "TCP_MAXSEG")
}

#[napi]
pub fn get_rcv_buf(fd: i32) -> Result<i32> {
    get_int(fd, libc::SOL_SOCKET, libc::SO_RCVBUF, "SO_RCVBUF")
}

#[napi]
pub fn get_snd_buf(fd: i32) -> Result<i32> {
    get_int(fd, libc::SOL_SOCKET, libc::SO_SNDBUF, "SO_SNDBUF")
}

#[napi]
pub fn set_rcv_buf(fd: i32, bytes: i32) -> Result<()> {
    set_int(fd, libc::SOL_SOCKET, libc::SO_RCVBUF, bytes, "SO_RCVBUF")
}

#[napi]
pub fn set_snd_buf(fd: i32, bytes: i32) -> Result<()> {
    set_int(fd, libc::SOL_SOCKET, libc::SO_SNDBUF, bytes, "SO_SNDBUF")
}

/// The fields of struct tcp_info a translator reads; each is absent when
/// the length the kernel returned does not cover it.
#[napi(object)]
pub struct TcpInfo {
    /// The kernel's TCP state number (1 ESTABLISHED ... 11 CLOSING).
    pub state: u32,
    pub snd_mss: Option<u32>,
    pub rcv_mss: Option<u32>,
    pub snd_wscale: Option<u32>,
    pub rcv_wscale: Option<u32>,
    /// Smoothed round-trip time, microseconds.
    pub rtt: Option<u32>,
    pub rttvar: Option<u32>,
    pub snd_cwnd: Option<u32>,
    pub unacked: Option<u32>,
    pub bytes_acked: Option<f64>,
    pub bytes_received: Option<f64>,
    pub notsent_bytes: Option<u32>,
    /// Microseconds.
    pub min_rtt: Option<u32>,
    /// The peer's advertised window after scaling (Linux 6.2 and later).
    pub snd_wnd: Option<u32>,
    /// Our advertised window after scaling (Linux 6.8 and later).
    pub rcv_wnd: Option<u32>,
    /// How many bytes of struct tcp_info the kernel filled.
    pub length: u32,
}

/// Offsets in struct tcp_info (include/uapi/linux/tcp.h), stable by ABI.
const TI_WSCALE: usize = 6;
const TI_SND_MSS: usize = 16;
const TI_RCV_MSS: usize = 20;
const TI_UNACKED: usize = 24;
const TI_RTT: usize = 68;
const TI_RTTVAR: usize = 72;
const TI_SND_CWND: usize = 80;
const TI_BYTES_ACKED: usize = 120;
const TI_BYTES_RECEIVED: usize = 128;
const TI_NOTSENT: usize = 144;
const TI_MIN_RTT: usize = 148;
const TI_SND_WND: usize = 228;
const TI_RCV_WND: usize = 232;
/// Room for the struct as newer kernels define it, and then some.
const TI_ROOM: usize = 512;

/// TCP_INFO as raw bytes, with how many of them the kernel filled.
fn read_tcp_info(fd: i32) -> Result<([u8; TI_ROOM], usize)> {
    // u64 storage keeps the buffer aligned for the kernel's 64-bit fields.
    let mut raw = [0u64; TI_ROOM / 8];
    let mut len = TI_ROOM as libc::socklen_t;
    // SAFETY: the kernel writes at most `len` bytes into `raw`, which has TI_ROOM.
    let r = unsafe {
        libc::getsockopt(fd, libc::IPPROTO_TCP, libc::TCP_INFO, raw.as_mut_ptr() as *mut libc::c_void, &mut len)
    };
    if r < 0 {
        return Err(last_err("getsockopt", &format!("fd {fd} (TCP_INFO)")));
    }
    let mut b = [0u8; TI_ROOM];
    for (i, w) in raw.iter().enumerate() {
        b[i * 8..i * 8 + 8].copy_from_slice(&w.to_ne_bytes());
    }
    Ok((b, (len as usize).min(TI_ROOM)))
}

#[napi]
pub fn tcp_info(fd: i32) -> Result<TcpInfo> {
    let (b, n) = read_tcp_info(fd)?;
    let u32_at = |o: usize| (o + 4 <= n).then(|| u32::from_ne_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]));
    let u64_at = |o: usize| {
        (o + 8 <= n).then(|| {
            let mut x = [0u8; 8];
            x.copy_from_slice(&b[o..o + 8]);
            u64::from_ne_bytes(x) as f64
        })
    };
    if n < 1 {
        return Err(err("getsockopt", libc::EINVAL, &format!("fd {fd} (TCP_INFO returned {n} bytes)")));
    }
    // The window scales are bit fields sharing one byte: send in the low nibble.
    let ws = (TI_WSCALE < n).then(|| b[TI_WSCALE]);
    Ok(TcpInfo {
        state: b[0] as u32,
        snd_mss: u32_at(TI_SND_MSS),
        rcv_mss: u32_at(TI_RCV_MSS),
        snd_wscale: ws.map(|w| (w & 0x0f) as u32),
        rcv_wscale: ws.map(|w| (w >> 4) as u32),
        rtt: u32_at(TI_RTT),
        rttvar: u32_at(TI_RTTVAR),
        snd_cwnd: u32_at(TI_SND_CWND),
        unacked: u32_at(TI_UNACKED),
        bytes_acked: u64_at(TI_BYTES_ACKED),
        bytes_received: u64_at(TI_BYTES_RECEIVED),
        notsent_bytes: u32_at(TI_NOTSENT),
        min_rtt: u32_at(TI_MIN_RTT),
        snd_wnd: u32_at(TI_SND_WND),
        rcv_wnd: u32_at(TI_RCV_WND),
        length: n as u32,
    })
}

/// A non-blocking, close-on-exec pipe for splice(): [read end, write end].
#[napi]
pub fn pipe2() -> Result<Vec<i32>> {
    let mut fds = [0i32; 2];
    // SAFETY: fds has room for the two descriptors pipe2 writes.
    check(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) }, "pipe2", "")?;
    Ok(fds.to_vec())
}

/// F_SETPIPE_SZ: asks for a pipe of `bytes` and returns the size the kernel set.
#[napi]
pub fn set_pipe_size(fd: i32, bytes: i32) -> Result<i32> {
    // SAFETY: fcntl with F_SETPIPE_SZ takes and returns plain ints.
    check(unsafe { libc::fcntl(fd, libc::F_SETPIPE_SZ, bytes) }, "fcntl", &format!("fd {fd} (F_SETPIPE_SZ)"))
}

/// splice() of up to `length` bytes from `fd_in` to `fd_out` (one of them a
/// pipe), SPLICE_F_MOVE | SPLICE_F_NONBLOCK, and SPLICE_F_MORE with `more`.
/// Bytes moved, 0 at end of input, -1 when it would block.
#[napi]
pub fn splice(fd_in: i32, fd_out: i32, length: u32, more: Option<bool>) -> Result<i64> {
    let mut flags = libc::SPLICE_F_MOVE | libc::SPLICE_F_NONBLOCK;
    if more == Some(true) {
        flags |= libc::SPLICE_F_MORE;
    }
    // SAFETY: null offsets mean "the descriptors' own positions"; nothing else is a pointer.
    let r = unsafe { libc::splice(fd_in, std::ptr::null_mut(), fd_out, std::ptr::null_mut(), length as usize, flags) };
    byte_count(r, "splice", &format!("fd {fd_in} -> fd {fd_out}"))
}

/// Most pieces one gather call takes (one iovec is kept for the skip area).
const MAX_PIECES: usize = 1023;

/// Checked iovecs for the (offset, length) pairs in `desc` over `slab`.
fn pieces(slab: &[u8], desc: &[u32], count: u32, iov: &mut Vec<libc::iovec>) -> Result<usize> {
    let n = count as usize;
    if n == 0 || n > MAX_PIECES || desc.len() < 2 * n {
        return Err(invalid(format!("{n} pieces with {} descriptor words (1 to {MAX_PIECES} pieces)", desc.len())));
    }
    let mut total = 0usize;
    for i in 0..n {
        let (o, l) = range(slab.len(), desc[2 * i], desc[2 * i + 1])?;
        iov.push(libc::iovec { iov_base: slab[o..].as_ptr() as *mut libc::c_void, iov_len: l });
        total += l;
    }
    Ok(total)
}

/// One recvmsg(MSG_PEEK | MSG_DONTWAIT) scattering queued data over the
/// `count` (offset, length) pieces of `slab` in `desc`: each piece is the
/// payload room of one frame for the guest, so the data lands behind the
/// headers that are written in front of it afterwards. `skip` bytes are
/// peeked into a scratch area first (no SO_PEEK_OFF: what is in flight).
/// Returns the bytes placed in the pieces, 0 at end of stream, -1 when it
/// would block or everything queued lies within `skip`.
#[napi]
pub fn recv_peek_pieces(fd: i32, mut slab: Uint8ArraySlice, desc: Uint32ArraySlice, count: u32, skip: u32) -> Result<i64> {
    // SAFETY: JS is not running while this call is; the slab is ours until we return.
    let slab = unsafe { slab.as_mut() };
    let skip = skip as usize;
    if skip > MAX_PEEK_SKIP {
        return Err(invalid(format!("peek skip {skip} (at most {MAX_PEEK_SKIP})")));
    }
    SKIP.with(|cell| {
        let mut scratch = cell.borrow_mut();
        if scratch.len() < skip {
            scratch.resize(skip, 0);
        }
        let mut iov: Vec<libc::iovec> = Vec::with_capacity(count as usize + 1);
        if skip > 0 {
            iov.push(libc::iovec { iov_base: scratch.as_mut_ptr() as *mut libc::c_void, iov_len: skip });
        }
        pieces(slab, &desc, count, &mut iov)?;
        // SAFETY: msghdr is plain old data; zero is "no name, no control".
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_iov = iov.as_mut_ptr();
        msg.msg_iovlen = iov.len();
        // SAFETY: every iovec is the scratch area (at least `skip` bytes) or a
        // range of the slab checked by `pieces`, all writable for the call.
        let r = unsafe { libc::recvmsg(fd, &mut msg, libc::MSG_PEEK | libc::MSG_DONTWAIT) };
        let n = byte_count(r, "recvmsg", &format!("fd {fd} (peek)"))?;
        Ok(if n <= 0 {
            n
        } else if n as usize <= skip {
            -1
        } else {
            n - skip as i64
        })
    })
}

/// One sendmsg(MSG_NOSIGNAL | MSG_DONTWAIT) gathering the `count` (offset,
/// length) pieces of `slab` in `desc`: the in-order payloads of a batch of
/// guest segments, left where they were received. Bytes the socket took,
/// -1 when it took none and would block.
#[napi]
pub fn send_pieces(fd: i32, slab: Uint8ArraySlice, desc: Uint32ArraySlice, count: u32) -> Result<i64> {
    let mut iov: Vec<libc::iovec> = Vec::with_capacity(count as usize);
    pieces(&slab, &desc, count, &mut iov)?;
    // SAFETY: msghdr is plain old data; zero is "no name, no control".
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = iov.as_mut_ptr();
    msg.msg_iovlen = iov.len();
    // SAFETY: each iovec is a range of the live slab checked by `pieces`.
    let r = unsafe { libc::sendmsg(fd, &msg, libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT) };
    byte_count(r, "sendmsg", &format!("fd {fd}"))
}

/// Slots of `tcp_info_into`'s output, each -1 when the kernel's struct is
/// too short to hold the field. Kept in step with TcpInfoSlot in tcp.ts.
const SLOTS: [(usize, u8); 14] = [
    (TI_SND_MSS, 4),
    (TI_RCV_MSS, 4),
    (TI_WSCALE, 0),
    (TI_WSCALE, 1),
    (TI_RTT, 4),
    (TI_RTTVAR, 4),
    (TI_SND_CWND, 4),
    (TI_UNACKED, 4),
    (TI_BYTES_ACKED, 8),
    (TI_BYTES_RECEIVED, 8),
    (TI_NOTSENT, 4),
    (TI_MIN_RTT, 4),
    (TI_SND_WND, 4),
    (TI_RCV_WND, 4),
];

/// TCP_INFO into a caller's Float64Array, so that reading a connection's
/// state on every acknowledgement allocates nothing: out[0] the state,
/// out[1 + k] the field of SLOTS[k] (-1 when absent), out[15] the struct
/// length the kernel filled. Returns that length.
#[napi]
pub fn tcp_info_into(fd: i32, mut out: Float64ArraySlice) -> Result<u32> {
    // SAFETY: JS is not running while this call is; the array is ours until we return.
    let out = unsafe { out.as_mut() };
    if out.len() < SLOTS.len() + 2 {
        return Err(invalid(format!("tcp_info output of {} slots (want {})", out.len(), SLOTS.len() + 2)));
    }
    let (b, n) = read_tcp_info(fd)?;
    out[0] = if n >= 1 { b[0] as f64 } else { -1.0 };
    for (k, &(o, kind)) in SLOTS.iter().enumerate() {
        out[1 + k] = match kind {
            // The window scales share one byte of bit fields: send in the low nibble.
            0 if o < n => (b[o] & 0x0f) as f64,
            1 if o < n => (b[o] >> 4) as f64,
            4 if o + 4 <= n => u32::from_ne_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]) as f64,
            8 if o + 8 <= n => {
                let mut x = [0u8; 8];
                x.copy_from_slice(&b[o..o + 8]);
                u64::from_ne_bytes(x) as f64
            }
            _ => -1.0,
        };
    }
    out[SLOTS.len() + 1] = n as f64;
    Ok(n as u32)
}

/// SIOCOUTQ: bytes written to the socket and not yet acknowledged by the
/// peer, which bounds the window offered to the guest.
#[napi]
pub fn out_queue(fd: i32) -> Result<i32> {
    let mut v: libc::c_int = 0;
    // SAFETY: SIOCOUTQ (TIOCOUTQ) writes one c_int to the live `v`.
    let r = unsafe { libc::ioctl(fd, libc::TIOCOUTQ, &mut v as *mut libc::c_int) };
    check(r, "ioctl", &format!("fd {fd} (SIOCOUTQ)"))?;
    Ok(v)
}

/// SIOCINQ: bytes queued for reading.
#[napi]
pub fn in_queue(fd: i32) -> Result<i32> {
    let mut v: libc::c_int = 0;
    // SAFETY: SIOCINQ (FIONREAD) writes one c_int to the live `v`.
    let r = unsafe { libc::ioctl(fd, libc::FIONREAD, &mut v as *mut libc::c_int) };
    check(r, "ioctl", &format!("fd {fd} (SIOCINQ)"))?;
    Ok(v)
}

/// SO_LINGER with a zero timeout, so that close() sends a RST: how a
/// guest's RST is carried to the peer.
#[napi]
pub fn set_linger_zero(fd: i32) -> Result<()> {
    let l = libc::linger { l_onoff: 1, l_linger: 0 };
    // SAFETY: the option value is a live struct linger and its size is passed along.
    let r = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            &l as *const libc::linger as *const libc::c_void,
            size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    check(r, "setsockopt", &format!("fd {fd} (SO_LINGER)")).map(|_| ())
}

/// SO_REUSEADDR, for listeners of forwarded ports.
#[napi]
pub fn set_reuse_addr(fd: i32, on: bool) -> Result<()> {
    set_int(fd, libc::SOL_SOCKET, libc::SO_REUSEADDR, on as i32, "SO_REUSEADDR")
}

/// SO_BINDTODEVICE: the socket only sees traffic of interface `name`
/// (a forward spec's `%IFNAME`). Names are at most 15 bytes (IFNAMSIZ - 1).
#[napi]
pub fn bind_to_device(fd: i32, name: String) -> Result<()> {
    if name.is_empty() || name.len() >= libc::IFNAMSIZ || name.contains('\0') {
        return Err(invalid(format!("interface name '{name}'")));
    }
    // SAFETY: the option value is the name's bytes, valid for their length for the call.
    let r = unsafe {
        libc::setsockopt(fd, libc::SOL_SOCKET, libc::SO_BINDTODEVICE, name.as_ptr() as *const libc::c_void, name.len() as libc::socklen_t)
    };
    check(r, "setsockopt", &format!("fd {fd} (SO_BINDTODEVICE {name})")).map(|_| ())
}
