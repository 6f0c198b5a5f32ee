//! tap devices: /dev/net/tun in TAP mode, without the packet-information
//! prefix, so every read() is one Ethernet frame and every write() takes one.
//!
//! Opening happens in whatever network namespace the calling thread is in;
//! `netns` runs these functions on a thread that entered the guest's
//! namespace, which is how pasta gets a tap inside it.

use crate::errno::{Result, check, invalid, last_err};
use crate::sock::cstr;
use napi_derive::napi;

const TUNSETIFF: libc::c_ulong = 0x4004_54ca;
const TUNSETOFFLOAD: libc::c_ulong = 0x4004_54d0;
const TUNSETVNETHDRSZ: libc::c_ulong = 0x4004_54d8;
const IFF_TAP: i16 = 0x0002;
const IFF_NO_PI: i16 = 0x1000;
const IFF_VNET_HDR: i16 = 0x4000;

/// The 40-byte struct ifreq, with the one union member we use.
#[repr(C)]
struct IfReq {
    name: [u8; 16],
    flags: i16,
    pad: [u8; 22],
}

impl IfReq {
    fn new(name: &str) -> Result<IfReq> {
        let b = name.as_bytes();
        if b.len() >= 16 || b.contains(&0) {
            return Err(invalid(format!("interface name '{name}' (at most 15 bytes)")));
        }
        let mut r = IfReq { name: [0; 16], flags: 0, pad: [0; 22] };
        r.name[..b.len()].copy_from_slice(b);
        Ok(r)
    }

    fn name(&self) -> String {
        let end = self.name.iter().position(|&c| c == 0).unwrap_or(16);
        String::from_utf8_lossy(&self.name[..end]).into_owned()
    }
}

#[napi(object)]
#[derive(Clone)]
pub struct TapOptions {
    /// Interface name; a pattern such as "tap%d" lets the kernel choose. Default "tap0".
    pub name: Option<String>,
    /// IFF_VNET_HDR: every frame carries a virtio-net header first.
    pub vnet_hdr: Option<bool>,
    /// TUNSETOFFLOAD flags (TUN_F_CSUM = 1, TUN_F_TSO4 = 2, ...); needs vnetHdr.
    pub offload: Option<u32>,
    /// Bring the link up after creating it.
    pub up: Option<bool>,
}

#[napi(object)]
pub struct Tap {
    pub fd: i32,
    pub name: String,
}

/// Sets IFF_UP on `name` in the calling thread's namespace.
pub fn link_up_here(name: &str) -> Result<()> {
    let mut req = IfReq::new(name)?;
    // SAFETY: socket() takes no pointers.
    let s = check(unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) }, "socket", "(ioctl)")?;
    // SAFETY: req is a valid ifreq; the kernel reads the name and writes the flags.
    let r = unsafe { libc::ioctl(s, libc::SIOCGIFFLAGS, &mut req as *mut IfReq) };
    let out = if r < 0 {
        Err(last_err("ioctl", &format!("SIOCGIFFLAGS {name}")))
    } else {
        req.flags |= libc::IFF_UP as i16;
        // SAFETY: as above; the kernel reads the flags.
        let r = unsafe { libc::ioctl(s, libc::SIOCSIFFLAGS, &req as *const IfReq) };
        check(r, "ioctl", &format!("SIOCSIFFLAGS {name}")).map(|_| ())
    };
    // SAFETY: s is ours and open.
    unsafe { libc::close(s) };
    out
}

pub fn open_tap_here(o: &TapOptions) -> Result<Tap> {
    let name = o.name.clone().unwrap_or_else(|| "tap0".into());
    let mut req = IfReq::new(&name)?;
    req.flags = IFF_TAP | IFF_NO_PI;
    if o.vnet_hdr == Some(true) {
        req.flags |= IFF_VNET_HDR;
    }
    let path = cstr("path", "/dev/net/tun")?;
    // SAFETY: path is a NUL-terminated string.
    let fd = check(
        unsafe { libc::open(path.as_ptr(), libc::O_RDWR | libc::O_NONBLOCK | libc::O_CLOEXEC) },
        "open",
        "/dev/net/tun",
    )?;
    let fail = |e| {
        // SAFETY: fd is ours and open.
        unsafe { libc::close(fd) };
        Err(e)
    };
    // SAFETY: req is a valid ifreq; the kernel reads flags and name, writes the name.
    if unsafe { libc::ioctl(fd, TUNSETIFF, &mut req as *mut IfReq) } < 0 {
        return fail(last_err("ioctl", &format!("TUNSETIFF {name}")));
    }
    if o.vnet_hdr == Some(true) {
        let size: libc::c_int = 12;
        // SAFETY: the kernel reads one int.
        if unsafe { libc::ioctl(fd, TUNSETVNETHDRSZ, &size as *const libc::c_int) } < 0 {
            return fail(last_err("ioctl", "TUNSETVNETHDRSZ"));
        }
    }
    if let Some(flags) = o.offload {
        // SAFETY: TUNSETOFFLOAD takes its flags by value.
        if unsafe { libc::ioctl(fd, TUNSETOFFLOAD, flags as libc::c_ulong) } < 0 {
            return fail(last_err("ioctl", "TUNSETOFFLOAD"));
        }
    }
    let tap = Tap { fd, name: req.name() };
    if o.up == Some(true) {
        if let Err(e) = link_up_here(&tap.name) {
            return fail(e);
        }
    }
    Ok(tap)
}

/// Opens a tap in the calling thread's (Node's main thread's) namespace.
#[napi]
pub fn open_tap(options: Option<TapOptions>) -> Result<Tap> {
    open_tap_here(&options.unwrap_or(TapOptions { name: None, vnet_hdr: None, offload: None, up: None }))
}

#[napi]
pub fn link_up(name: String) -> Result<()> {
    link_up_here(&name)
}
