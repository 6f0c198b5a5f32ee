//! Sockets: UDP and ICMP echo of either family, UNIX streams for qemu,
//! netlink for routes.
//!
//! Every descriptor is made non-blocking and close-on-exec at creation, so
//! that nothing here can stall Node's event loop and no command we start
//! inherits a socket by accident.

use crate::addr::{check_port, parse, Sockaddr};
use crate::errno::{Result, check, invalid, last, last_err};
use napi_derive::napi;
use std::ffi::CString;
use std::mem::size_of;

const FLAGS: libc::c_int = libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC;

pub fn domain(family: u32) -> Result<libc::c_int> {
    match family {
        4 => Ok(libc::AF_INET),
        6 => Ok(libc::AF_INET6),
        f => Err(invalid(format!("address family {f} (want 4 or 6)"))),
    }
}

fn setopt(fd: i32, level: libc::c_int, name: libc::c_int, value: libc::c_int, what: &str) -> Result<()> {
    // SAFETY: the option value is a live c_int and its size is passed along.
    let r = unsafe {
        libc::setsockopt(fd, level, name, &value as *const _ as *const libc::c_void, size_of::<libc::c_int>() as u32)
    };
    check(r, "setsockopt", what).map(|_| ())
}

/// Opens a UDP socket in the calling thread's network namespace.
pub fn udp_socket_here(family: u32) -> Result<i32> {
    let d = domain(family)?;
    // SAFETY: socket() takes no pointers.
    check(unsafe { libc::socket(d, libc::SOCK_DGRAM | FLAGS, libc::IPPROTO_UDP) }, "socket", "(udp)")
}

#[napi]
pub fn udp_socket(family: u32) -> Result<i32> {
    udp_socket_here(family)
}

/// Opens a ping socket in the calling thread's network namespace (see `ping_socket`).
pub fn ping_socket_here(family: u32) -> Result<i32> {
    let d = domain(family)?;
    let proto = if d == libc::AF_INET { libc::IPPROTO_ICMP } else { libc::IPPROTO_ICMPV6 };
    let what = if d == libc::AF_INET { "(icmp)" } else { "(icmpv6)" };
    // SAFETY: socket() takes no pointers.
    check(unsafe { libc::socket(d, libc::SOCK_DGRAM | FLAGS, proto) }, "socket", what)
}

/// An unprivileged ICMP echo ("ping") socket: SOCK_DGRAM with IPPROTO_ICMP
/// or IPPROTO_ICMPV6, the kind ping(8) opens without CAP_NET_RAW. The kernel
/// lets a process open one only when one of its groups lies in
/// `net.ipv4.ping_group_range` (for both families, and for root as for
/// anyone), and fails with EACCES otherwise; a new network namespace starts
/// with "1 0", which admits nobody.
///
/// It is a datagram socket like UDP, so the same calls serve it: `bind`
/// takes the echo identifier as its port (0: the kernel picks a free one,
/// as it also does on the first send of an unbound socket), `getsockname`
/// reports it, `sendmmsg` sends ICMP messages that start with the 8-byte
/// echo request header (the kernel writes the identifier and the checksum,
/// and refuses anything but an echo request), and `recvmmsg` gives back the
/// ICMP header and data of each echo reply, without the IP header.
#[napi]
pub fn ping_socket(family: u32) -> Result<i32> {
    ping_socket_here(family)
}

#[napi(object)]
pub struct BindOptions {
    /// IPV6_V6ONLY (IPv6 sockets only); the kernel's default applies when absent.
    pub v6only: Option<bool>,
    pub reuse_addr: Option<bool>,
    pub scope_id: Option<u32>,
    /// IP_FREEBIND / IPV6_FREEBIND: bind an address not (yet) configured on the host (--freebind).
    pub freebind: Option<bool>,
}

pub fn bind_here(fd: i32, family: u32, address: &str, port: u32, opts: &Option<BindOptions>) -> Result<()> {
    let ip = parse(family, address)?;
    let port = check_port(port)?;
    let mut scope = 0;
    if let Some(o) = opts {
        if let Some(v) = o.v6only {
            if family == 6 {
                setopt(fd, libc::IPPROTO_IPV6, libc::IPV6_V6ONLY, v as i32, "IPV6_V6ONLY")?;
            }
        }
        if o.reuse_addr == Some(true) {
            setopt(fd, libc::SOL_SOCKET, libc::SO_REUSEADDR, 1, "SO_REUSEADDR")?;
        }
        if o.freebind == Some(true) {
            if family == 6 {
                setopt(fd, libc::IPPROTO_IPV6, libc::IPV6_FREEBIND, 1, "IPV6_FREEBIND")?;
            } else {
                setopt(fd, libc::IPPROTO_IP, libc::IP_FREEBIND, 1, "IP_FREEBIND")?;
            }
        }
        scope = o.scope_id.unwrap_or(0);
    }
    let sa = Sockaddr::from_ip(ip, port, scope);
    // SAFETY: sa holds a valid sockaddr of sa.len bytes.
    let r = unsafe { libc::bind(fd, sa.ptr(), sa.len) };
    check(r, "bind", &describe(&ip, port)).map(|_| ())
}

fn describe(ip: &std::net::IpAddr, port: u16) -> String {
    match ip {
        std::net::IpAddr::V4(a) => format!("{a}:{port}"),
        std::net::IpAddr::V6(a) => format!("[{a}]:{port}"),
    }
}

#[napi]
pub fn bind(fd: i32, family: u32, address: String, port: u32, options: Option<BindOptions>) -> Result<()> {
    bind_here(fd, family, &address, port, &options)
}

pub fn connect_here(fd: i32, family: u32, address: &str, port: u32, scope: u32) -> Result<()> {
    let ip = parse(family, address)?;
    let port = check_port(port)?;
    let sa = Sockaddr::from_ip(ip, port, scope);
    // SAFETY: sa holds a valid sockaddr of sa.len bytes.
    let r = unsafe { libc::connect(fd, sa.ptr(), sa.len) };
    check(r, "connect", &describe(&ip, port)).map(|_| ())
}

#[napi]
pub fn connect(fd: i32, family: u32, address: String, port: u32, scope_id: Option<u32>) -> Result<()> {
    connect_here(fd, family, &address, port, scope_id.unwrap_or(0))
}

#[napi(object)]
pub struct SocketName {
    pub family: u32,
    pub address: String,
    pub port: u32,
    pub scope_id: u32,
}

#[napi]
pub fn getsockname(fd: i32) -> Result<SocketName> {
    let mut sa = Sockaddr::empty();
    // SAFETY: sa is writable storage of sa.len bytes; the kernel updates len.
    let r = unsafe { libc::getsockname(fd, sa.mut_ptr(), &mut sa.len) };
    check(r, "getsockname", "")?;
    let (family, port, scope, bytes) = sa.decode();
    let address = match family {
        4 => std::net::Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3]).to_string(),
        6 => std::net::Ipv6Addr::from(bytes).to_string(),
        _ => String::new(),
    };
    Ok(SocketName { family: family as u32, address, port: port as u32, scope_id: scope })
}

/// Sets SO_RCVBUF and SO_SNDBUF (either may be 0 to leave it).
#[napi]
pub fn set_buffer_sizes(fd: i32, rcvbuf: u32, sndbuf: u32) -> Result<()> {
    if rcvbuf > 0 {
        setopt(fd, libc::SOL_SOCKET, libc::SO_RCVBUF, rcvbuf.min(i32::MAX as u32) as i32, "SO_RCVBUF")?;
    }
    if sndbuf > 0 {
        setopt(fd, libc::SOL_SOCKET, libc::SO_SNDBUF, sndbuf.min(i32::MAX as u32) as i32, "SO_SNDBUF")?;
    }
    Ok(())
}

/// Takes over a connected stream socket someone else opened (passt's
/// --fd): fails with ENOTSOCK or EPROTOTYPE unless it is one, then puts it
/// in non-blocking mode, as every descriptor on Node's loop must be.
#[napi]
pub fn adopt_stream_socket(fd: i32) -> Result<()> {
    let mut kind: libc::c_int = 0;
    let mut len = size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: the kernel writes at most `len` bytes into `kind`.
    let r = unsafe {
        libc::getsockopt(fd, libc::SOL_SOCKET, libc::SO_TYPE, &mut kind as *mut libc::c_int as *mut libc::c_void, &mut len)
    };
    check(r, "getsockopt", &format!("fd {fd} (SO_TYPE)"))?;
    if kind != libc::SOCK_STREAM {
        return Err(crate::errno::err("getsockopt", libc::EPROTOTYPE, &format!("fd {fd} is not a stream socket")));
    }
    // SAFETY: fcntl with F_GETFL/F_SETFL takes and returns plain ints.
    let flags = check(unsafe { libc::fcntl(fd, libc::F_GETFL) }, "fcntl", &format!("fd {fd} (F_GETFL)"))?;
    // SAFETY: as above.
    check(unsafe { libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) }, "fcntl", &format!("fd {fd} (F_SETFL)"))?;
    Ok(())
}

#[napi]
pub fn close(fd: i32) -> Result<()> {
    // SAFETY: close() takes no pointers; a wrong fd is reported as EBADF.
    check(unsafe { libc::close(fd) }, "close", &format!("fd {fd}")).map(|_| ())
}

fn unix_addr(path: &str) -> Result<(libc::sockaddr_un, libc::socklen_t)> {
    // SAFETY: sockaddr_un is plain old data; all-zero is valid.
    let mut sun: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    sun.sun_family = libc::AF_UNIX as u16;
    let bytes = path.as_bytes();
    if bytes.is_empty() || bytes.len() >= sun.sun_path.len() || bytes.contains(&0) {
        return Err(invalid(format!("UNIX socket path '{path}' (1 to 107 bytes, no NUL)")));
    }
    for (i, b) in bytes.iter().enumerate() {
        sun.sun_path[i] = *b as libc::c_char;
    }
    let len = (size_of::<libc::sa_family_t>() + bytes.len() + 1) as u32;
    Ok((sun, len))
}

/// A listening UNIX stream socket at `path` (which must not exist).
#[napi]
pub fn unix_listen(path: String, backlog: Option<i32>) -> Result<i32> {
    let (sun, len) = unix_addr(&path)?;
    // SAFETY: socket() takes no pointers.
    let fd = check(unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_STREAM | FLAGS, 0) }, "socket", "(unix)")?;
    // SAFETY: sun is a valid sockaddr_un of len bytes.
    let r = unsafe { libc::bind(fd, &sun as *const _ as *const libc::sockaddr, len) };
    if r < 0 {
        let e = last_err("bind", &path);
        // SAFETY: fd is ours and open.
        unsafe { libc::close(fd) };
        return Err(e);
    }
    // SAFETY: listen() takes no pointers.
    if unsafe { libc::listen(fd, backlog.unwrap_or(1)) } < 0 {
        let e = last_err("listen", &path);
        // SAFETY: fd is ours and open.
        unsafe { libc::close(fd) };
        return Err(e);
    }
    Ok(fd)
}

/// Connects a UNIX stream socket to `path` (blocking connect, then non-blocking I/O).
#[napi]
pub fn unix_connect(path: String) -> Result<i32> {
    let (sun, len) = unix_addr(&path)?;
    // SAFETY: socket() takes no pointers.
    let fd = check(unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) }, "socket", "(unix)")?;
    // SAFETY: sun is a valid sockaddr_un of len bytes.
    if unsafe { libc::connect(fd, &sun as *const _ as *const libc::sockaddr, len) } < 0 {
        let e = last_err("connect", &path);
        // SAFETY: fd is ours and open.
        unsafe { libc::close(fd) };
        return Err(e);
    }
    // SAFETY: fcntl on our own fd with integer arguments.
    unsafe {
        let fl = libc::fcntl(fd, libc::F_GETFL);
        libc::fcntl(fd, libc::F_SETFL, fl | libc::O_NONBLOCK);
    }
    Ok(fd)
}

/// A UNIX datagram socket connected to `path`, non-blocking: the system
/// logger's /dev/log, where a detached passt or pasta writes its log.
#[napi]
pub fn unix_dgram_connect(path: String) -> Result<i32> {
    let (sun, len) = unix_addr(&path)?;
    // SAFETY: socket() takes no pointers.
    let fd = check(unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_DGRAM | FLAGS, 0) }, "socket", "(unix datagram)")?;
    // SAFETY: sun is a valid sockaddr_un of len bytes.
    if unsafe { libc::connect(fd, &sun as *const _ as *const libc::sockaddr, len) } < 0 {
        let e = last_err("connect", &path);
        // SAFETY: fd is ours and open.
        unsafe { libc::close(fd) };
        return Err(e);
    }
    Ok(fd)
}

/// Accepts one connection: its fd, or -1 when none is waiting.
#[napi]
pub fn accept(fd: i32) -> Result<i32> {
    // SAFETY: null address pointers are allowed when the peer address is not wanted.
    let r = unsafe { libc::accept4(fd, std::ptr::null_mut(), std::ptr::null_mut(), FLAGS) };
    if r < 0 {
        let e = last();
        if e == libc::EAGAIN || e == libc::EWOULDBLOCK {
            return Ok(-1);
        }
        return Err(crate::errno::err("accept", e, &format!("fd {fd}")));
    }
    Ok(r)
}

/// An rtnetlink socket in the calling thread's network namespace.
pub fn netlink_here() -> Result<i32> {
    // SAFETY: socket() takes no pointers.
    let fd = check(
        unsafe { libc::socket(libc::AF_NETLINK, libc::SOCK_RAW | FLAGS, libc::NETLINK_ROUTE) },
        "socket",
        "(netlink)",
    )?;
    // SAFETY: sockaddr_nl is plain old data; pid 0 lets the kernel choose.
    let mut snl: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
    snl.nl_family = libc::AF_NETLINK as u16;
    // SAFETY: snl is a valid sockaddr_nl.
    let r = unsafe { libc::bind(fd, &snl as *const _ as *const libc::sockaddr, size_of::<libc::sockaddr_nl>() as u32) };
    if r < 0 {
        let e = last_err("bind", "(netlink)");
        // SAFETY: fd is ours and open.
        unsafe { libc::close(fd) };
        return Err(e);
    }
    Ok(fd)
}

#[napi]
pub fn netlink_socket() -> Result<i32> {
    netlink_here()
}

/// Keeps CString conversion errors readable.
pub fn cstr(what: &str, s: &str) -> Result<CString> {
    CString::new(s).map_err(|_| invalid(format!("{what} '{s}' contains a NUL byte")))
}
