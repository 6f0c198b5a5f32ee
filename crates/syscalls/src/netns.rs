//! Work inside another network namespace, without moving Node's main thread.
//!
//! A network namespace belongs to a thread, not to a process. Node's main
//! thread must stay where it is: once an unprivileged process has entered a
//! namespace of its own it cannot setns() back to the host's. So each piece
//! of work that needs the guest's namespace (opening its tap, binding a
//! socket there, talking rtnetlink to its kernel) runs on a thread that is
//! born for it, setns()es into the namespace, does the one thing, hands the
//! file descriptor back and ends. The descriptor keeps working from any
//! thread: a socket stays in the namespace it was created in.
//!
//! Creating a namespace is the same move in reverse: a fresh thread
//! unshare()s a new network namespace and returns a descriptor of it, which
//! keeps the namespace alive after the thread is gone.

use crate::errno::{Result, check, err, invalid, last_err};
use crate::sock::{bind_here, connect_here, cstr, netlink_here, udp_socket_here, BindOptions};
use crate::tap::{link_up_here, open_tap_here, Tap, TapOptions};
use napi_derive::napi;

const NS_GET_NSTYPE: libc::c_ulong = 0xb703;

/// Runs `f` on a new thread inside the network namespace `ns_fd`.
fn in_netns<T: Send + 'static>(ns_fd: i32, f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    let worker = std::thread::Builder::new().name("x-netns".into()).spawn(move || {
        // SAFETY: setns() takes an fd and a flag; it changes only this thread's namespace.
        if unsafe { libc::setns(ns_fd, libc::CLONE_NEWNET) } < 0 {
            return Err(last_err("setns", &format!("fd {ns_fd} (network)")));
        }
        f()
    });
    match worker {
        Ok(h) => h.join().unwrap_or_else(|_| Err(invalid("namespace worker panicked"))),
        Err(e) => Err(err("pthread_create", e.raw_os_error().unwrap_or(libc::EAGAIN), "(namespace worker)")),
    }
}

fn kind_flag(kind: &str) -> Result<i32> {
    match kind {
        "net" => Ok(libc::CLONE_NEWNET),
        "user" => Ok(libc::CLONE_NEWUSER),
        "mnt" => Ok(libc::CLONE_NEWNS),
        "uts" => Ok(libc::CLONE_NEWUTS),
        "ipc" => Ok(libc::CLONE_NEWIPC),
        "pid" => Ok(libc::CLONE_NEWPID),
        k => Err(invalid(format!("namespace kind '{k}' (net, user, mnt, uts, ipc or pid)"))),
    }
}

/// Opens a namespace file (/proc/PID/ns/net, /run/netns/NAME...) and checks
/// that it is a namespace of `kind` ("net" by default).
#[napi]
pub fn open_namespace(path: String, kind: Option<String>) -> Result<i32> {
    let want = kind_flag(kind.as_deref().unwrap_or("net"))?;
    let p = cstr("namespace path", &path)?;
    // SAFETY: p is NUL-terminated.
    let fd = check(unsafe { libc::open(p.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) }, "open", &path)?;
    // SAFETY: NS_GET_NSTYPE takes no argument; on a non-namespace file it fails with ENOTTY.
    let t = unsafe { libc::ioctl(fd, NS_GET_NSTYPE) };
    if t != want {
        // SAFETY: fd is ours and open.
        unsafe { libc::close(fd) };
        let what = if t < 0 { "is not a namespace".to_string() } else { "is a namespace of another kind".to_string() };
        return Err(napi::Error::new("EINVAL".to_string(), format!("open_namespace {path}: {what}: EINVAL")));
    }
    Ok(fd)
}

/// Makes a new network namespace and returns a descriptor that keeps it alive.
#[napi]
pub fn create_netns() -> Result<i32> {
    let worker = std::thread::Builder::new().name("x-netns".into()).spawn(|| {
        // SAFETY: unshare() with a flag; it changes only this thread's namespace.
        check(unsafe { libc::unshare(libc::CLONE_NEWNET) }, "unshare", "(network)")?;
        let p = cstr("path", "/proc/thread-self/ns/net")?;
        // SAFETY: p is NUL-terminated.
        check(unsafe { libc::open(p.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) }, "open", "/proc/thread-self/ns/net")
    });
    match worker {
        Ok(h) => h.join().unwrap_or_else(|_| Err(invalid("namespace worker panicked"))),
        Err(e) => Err(err("pthread_create", e.raw_os_error().unwrap_or(libc::EAGAIN), "(namespace worker)")),
    }
}

#[napi]
pub fn netns_open_tap(ns_fd: i32, options: Option<TapOptions>) -> Result<Tap> {
    let o = options.unwrap_or(TapOptions { name: None, vnet_hdr: None, offload: None, up: None });
    in_netns(ns_fd, move || open_tap_here(&o))
}

#[napi]
pub fn netns_link_up(ns_fd: i32, name: String) -> Result<()> {
    in_netns(ns_fd, move || link_up_here(&name))
}

#[napi(object)]
pub struct NsUdpOptions {
    pub family: u32,
    pub address: Option<String>,
    pub port: Option<u32>,
    pub v6only: Option<bool>,
    pub scope_id: Option<u32>,
    pub connect_address: Option<String>,
    pub connect_port: Option<u32>,
}

/// A UDP socket created, bound and optionally connected inside the namespace.
#[napi]
pub fn netns_udp_socket(ns_fd: i32, o: NsUdpOptions) -> Result<i32> {
    in_netns(ns_fd, move || {
        let fd = udp_socket_here(o.family)?;
        let result = (|| {
            let opts = Some(BindOptions { v6only: o.v6only, reuse_addr: None, scope_id: o.scope_id, freebind: None });
            bind_here(fd, o.family, o.address.as_deref().unwrap_or(""), o.port.unwrap_or(0), &opts)?;
            if let Some(a) = &o.connect_address {
                connect_here(fd, o.family, a, o.connect_port.unwrap_or(0), o.scope_id.unwrap_or(0))?;
            }
            Ok(fd)
        })();
        if result.is_err() {
            // SAFETY: fd is ours and open.
            unsafe { libc::close(fd) };
        }
        result
    })
}

/// A TCP socket created inside the namespace: pasta's listeners for -T and
/// its connections into the guest's loopback (splice). Binding, listening
/// and connecting then work from any thread.
#[napi]
pub fn netns_tcp_socket(ns_fd: i32, family: u32) -> Result<i32> {
    in_netns(ns_fd, move || crate::tcp::tcp_socket_here(family))
}

/// `count` TCP sockets created inside the namespace in one trip there: a
/// pool for connections into the namespace, so that each one does not pay
/// for a thread of its own.
#[napi]
pub fn netns_tcp_sockets(ns_fd: i32, family: u32, count: u32) -> Result<Vec<i32>> {
    if count == 0 || count > 1024 {
        return Err(invalid(format!("{count} sockets (1 to 1024)")));
    }
    in_netns(ns_fd, move || {
        let mut fds = Vec::with_capacity(count as usize);
        for _ in 0..count {
            match crate::tcp::tcp_socket_here(family) {
                Ok(fd) => fds.push(fd),
                Err(e) if fds.is_empty() => return Err(e),
                // Some are better than none (descriptors ran out): hand back what was made.
                Err(_) => break,
            }
        }
        Ok(fds)
    })
}

#[napi]
pub fn netns_netlink_socket(ns_fd: i32) -> Result<i32> {
    in_netns(ns_fd, netlink_here)
}

/// Opens `path` for writing (no create), writes `contents` in one write()
/// and closes it, all on the calling thread.
fn write_file_here(path: &str, contents: &[u8]) -> Result<()> {
    let p = cstr("path", path)?;
    // SAFETY: p is NUL-terminated and outlives the call; without O_CREAT no mode argument is read.
    let fd = check(unsafe { libc::open(p.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC) }, "open", path)?;
    // SAFETY: fd is ours and open; write() reads at most contents.len() bytes from the live slice.
    let n = unsafe { libc::write(fd, contents.as_ptr().cast(), contents.len()) };
    // The result is settled before close(), so errno is still write()'s.
    let result = if n < 0 {
        Err(last_err("write", path))
    } else if n as usize != contents.len() {
        Err(err("write", libc::EIO, &format!("{path} (short write: {n} of {} bytes)", contents.len())))
    } else {
        Ok(())
    };
    // SAFETY: fd is ours, open, and closed exactly once, here.
    let closed = unsafe { libc::close(fd) };
    if result.is_ok() && closed < 0 {
        return Err(last_err("close", path));
    }
    result
}

/// Reads each of `paths` as a thread inside the network namespace `ns_fd`
/// sees it; a file that cannot be read gives an empty string.
///
/// pasta's `-t auto` and `-u auto` read the namespace's socket tables this
/// way when no process of the namespace is known (--netns PATH): the
/// thread-self view of /proc (/proc/thread-self/net/tcp...) shows the
/// tables of the namespace the reading thread is in.
#[napi]
pub fn netns_read_files(ns_fd: i32, paths: Vec<String>) -> Result<Vec<String>> {
    in_netns(ns_fd, move || Ok(paths.iter().map(|p| std::fs::read_to_string(p).unwrap_or_default()).collect()))
}

/// Writes `contents` to the file at `path` as a thread inside the network
/// namespace `ns_fd` sees it, in one write().
///
/// This is how pasta sets a sysctl of the guest's namespace (for example
/// net.ipv4.ping_group_range): files under /proc/sys/net are resolved
/// against the network namespace of the thread that opens them, and Node's
/// main thread stays in the host's, so the open happens on a thread that
/// entered the guest's. The kernel validates the value on write(), and its
/// errno (EINVAL...) comes back as the error's code.
#[napi]
pub fn netns_write_file(ns_fd: i32, path: String, contents: String) -> Result<()> {
    in_netns(ns_fd, move || write_file_here(&path, contents.as_bytes()))
}
