//! Socket addresses: parsed from strings on slow paths, packed as bytes on
//! hot paths.
//!
//! The packed form is the 32-byte record the TypeScript side reads with a
//! DataView, little-endian: length u32 at 0, family u16 at 4 (4, 6, or 0 for
//! "none"), port u16 at 6, scope id u32 at 8, address bytes at 12..28, flags
//! u32 at 28 (bit 0: the datagram was truncated). The same record gives a
//! destination to sendmmsg.
//!
//! The `M_*` offsets below are the one Rust statement of that layout;
//! packages/syscalls/src/batch.ts mirrors them as `RecordField` (and `META`
//! as `RECORD`), which other packages import rather than restate, so a change
//! here is a change there in the same commit.

use crate::errno::{Result, invalid};
use std::mem::{size_of, zeroed};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Bytes per record; `RECORD` in batch.ts.
pub const META: usize = 32;
/// Field offsets in a record; `RecordField.LEN`, `.FAMILY`, `.PORT`, `.SCOPE`
/// and `.ADDR` in batch.ts (the flags word has no public name there).
pub const M_LEN: usize = 0;
pub const M_FAMILY: usize = 4;
pub const M_PORT: usize = 6;
pub const M_SCOPE: usize = 8;
pub const M_ADDR: usize = 12;
pub const M_FLAGS: usize = 28;

/// Room for either family, with the length the kernel should look at.
#[derive(Clone, Copy)]
pub struct Sockaddr {
    pub storage: libc::sockaddr_storage,
    pub len: libc::socklen_t,
}

impl Sockaddr {
    pub fn empty() -> Self {
        // SAFETY: sockaddr_storage is plain old data; all-zero is a valid value.
        Sockaddr { storage: unsafe { zeroed() }, len: size_of::<libc::sockaddr_storage>() as u32 }
    }

    pub fn ptr(&self) -> *const libc::sockaddr {
        &self.storage as *const _ as *const libc::sockaddr
    }

    pub fn mut_ptr(&mut self) -> *mut libc::sockaddr {
        &mut self.storage as *mut _ as *mut libc::sockaddr
    }

    pub fn from_ip(ip: IpAddr, port: u16, scope: u32) -> Self {
        let mut s = Sockaddr::empty();
        match ip {
            IpAddr::V4(a) => {
                // SAFETY: sockaddr_storage is large enough and suitably aligned for sockaddr_in.
                let sin = unsafe { &mut *(s.mut_ptr() as *mut libc::sockaddr_in) };
                sin.sin_family = libc::AF_INET as u16;
                sin.sin_port = port.to_be();
                sin.sin_addr.s_addr = u32::from_ne_bytes(a.octets());
                s.len = size_of::<libc::sockaddr_in>() as u32;
            }
            IpAddr::V6(a) => {
                // SAFETY: as above, for sockaddr_in6.
                let sin6 = unsafe { &mut *(s.mut_ptr() as *mut libc::sockaddr_in6) };
                sin6.sin6_family = libc::AF_INET6 as u16;
                sin6.sin6_port = port.to_be();
                sin6.sin6_addr.s6_addr = a.octets();
                sin6.sin6_scope_id = scope;
                s.len = size_of::<libc::sockaddr_in6>() as u32;
            }
        }
        s
    }

    /// Family (4, 6 or 0), port, scope and address of what the kernel wrote.
    pub fn decode(&self) -> (u16, u16, u32, [u8; 16]) {
        let mut bytes = [0u8; 16];
        match self.storage.ss_family as i32 {
            libc::AF_INET => {
                // SAFETY: the family says the storage holds a sockaddr_in.
                let sin = unsafe { &*(self.ptr() as *const libc::sockaddr_in) };
                bytes[..4].copy_from_slice(&sin.sin_addr.s_addr.to_ne_bytes());
                (4, u16::from_be(sin.sin_port), 0, bytes)
            }
            libc::AF_INET6 => {
                // SAFETY: the family says the storage holds a sockaddr_in6.
                let sin6 = unsafe { &*(self.ptr() as *const libc::sockaddr_in6) };
                bytes.copy_from_slice(&sin6.sin6_addr.s6_addr);
                (6, u16::from_be(sin6.sin6_port), sin6.sin6_scope_id, bytes)
            }
            _ => (0, 0, 0, bytes),
        }
    }

    /// Writes the record of `META` bytes, length and flags included.
    pub fn write_meta(&self, out: &mut [u8], len: u32, flags: u32) {
        let (family, port, scope, bytes) = self.decode();
        out[M_LEN..M_LEN + 4].copy_from_slice(&len.to_le_bytes());
        out[M_FAMILY..M_FAMILY + 2].copy_from_slice(&family.to_le_bytes());
        out[M_PORT..M_PORT + 2].copy_from_slice(&port.to_le_bytes());
        out[M_SCOPE..M_SCOPE + 4].copy_from_slice(&scope.to_le_bytes());
        out[M_ADDR..M_ADDR + 16].copy_from_slice(&bytes);
        out[M_FLAGS..M_FLAGS + 4].copy_from_slice(&flags.to_le_bytes());
    }

    /// Reads a destination from a record; `None` when its family is 0.
    pub fn read_meta(rec: &[u8]) -> Result<Option<Sockaddr>> {
        let family = u16::from_le_bytes([rec[M_FAMILY], rec[M_FAMILY + 1]]);
        let port = u16::from_le_bytes([rec[M_PORT], rec[M_PORT + 1]]);
        let scope = u32::from_le_bytes([rec[M_SCOPE], rec[M_SCOPE + 1], rec[M_SCOPE + 2], rec[M_SCOPE + 3]]);
        let a = &rec[M_ADDR..M_ADDR + 16];
        match family {
            0 => Ok(None),
            4 => Ok(Some(Sockaddr::from_ip(IpAddr::V4(Ipv4Addr::new(a[0], a[1], a[2], a[3])), port, 0))),
            6 => {
                let mut o = [0u8; 16];
                o.copy_from_slice(a);
                Ok(Some(Sockaddr::from_ip(IpAddr::V6(Ipv6Addr::from(o)), port, scope)))
            }
            f => Err(invalid(format!("destination family {f} (want 0, 4 or 6)"))),
        }
    }
}

/// Parses an address string for `family` (4 or 6); the empty string is "any".
pub fn parse(family: u32, text: &str) -> Result<IpAddr> {
    match family {
        4 if text.is_empty() => Ok(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
        6 if text.is_empty() => Ok(IpAddr::V6(Ipv6Addr::UNSPECIFIED)),
        4 => text
            .parse::<Ipv4Addr>()
            .map(IpAddr::V4)
            .map_err(|_| invalid(format!("'{text}' is not an IPv4 address"))),
        6 => text
            .parse::<Ipv6Addr>()
            .map(IpAddr::V6)
            .map_err(|_| invalid(format!("'{text}' is not an IPv6 address"))),
        f => Err(invalid(format!("address family {f} (want 4 or 6)"))),
    }
}

pub fn check_port(port: u32) -> Result<u16> {
    u16::try_from(port).map_err(|_| invalid(format!("port {port} is out of range 0-65535")))
}
