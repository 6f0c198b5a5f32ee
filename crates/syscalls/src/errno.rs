//! Errors that carry the errno name as their JavaScript `code`.
//!
//! napi-rs turns the status of an `Error<String>` into the `code` property of
//! the JavaScript error it throws, so the status is simply the errno name.

use napi::Error;

pub type Result<T> = std::result::Result<T, Error<String>>;

/// The symbolic name of an errno value, as Node spells it.
pub fn name(e: i32) -> &'static str {
    match e {
        libc::EPERM => "EPERM",
        libc::ENOENT => "ENOENT",
        libc::ESRCH => "ESRCH",
        libc::EINTR => "EINTR",
        libc::EIO => "EIO",
        libc::ENXIO => "ENXIO",
        libc::E2BIG => "E2BIG",
        libc::ENOEXEC => "ENOEXEC",
        libc::EBADF => "EBADF",
        libc::ECHILD => "ECHILD",
        libc::EAGAIN => "EAGAIN",
        libc::ENOMEM => "ENOMEM",
        libc::EACCES => "EACCES",
        libc::EFAULT => "EFAULT",
        libc::EBUSY => "EBUSY",
        libc::EEXIST => "EEXIST",
        libc::ENODEV => "ENODEV",
        libc::ENOTDIR => "ENOTDIR",
        libc::EISDIR => "EISDIR",
        libc::EINVAL => "EINVAL",
        libc::ENFILE => "ENFILE",
        libc::EMFILE => "EMFILE",
        libc::ENOTTY => "ENOTTY",
        libc::ENOSPC => "ENOSPC",
        libc::EPIPE => "EPIPE",
        libc::ERANGE => "ERANGE",
        libc::ENAMETOOLONG => "ENAMETOOLONG",
        libc::ENOSYS => "ENOSYS",
        libc::ENOTSOCK => "ENOTSOCK",
        libc::EDESTADDRREQ => "EDESTADDRREQ",
        libc::EMSGSIZE => "EMSGSIZE",
        libc::EPROTOTYPE => "EPROTOTYPE",
        libc::ENOPROTOOPT => "ENOPROTOOPT",
        libc::EPROTONOSUPPORT => "EPROTONOSUPPORT",
        libc::EOPNOTSUPP => "EOPNOTSUPP",
        libc::EAFNOSUPPORT => "EAFNOSUPPORT",
        libc::EADDRINUSE => "EADDRINUSE",
        libc::EADDRNOTAVAIL => "EADDRNOTAVAIL",
        libc::ENETDOWN => "ENETDOWN",
        libc::ENETUNREACH => "ENETUNREACH",
        libc::ECONNABORTED => "ECONNABORTED",
        libc::ECONNRESET => "ECONNRESET",
        libc::ENOBUFS => "ENOBUFS",
        libc::EISCONN => "EISCONN",
        libc::ENOTCONN => "ENOTCONN",
        libc::ETIMEDOUT => "ETIMEDOUT",
        libc::ECONNREFUSED => "ECONNREFUSED",
        libc::EHOSTUNREACH => "EHOSTUNREACH",
        libc::EALREADY => "EALREADY",
        libc::EINPROGRESS => "EINPROGRESS",
        _ => "EUNKNOWN",
    }
}

pub fn last() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// An error for a failed system call, `what` saying on what it failed.
pub fn err(syscall: &str, e: i32, what: &str) -> Error<String> {
    let text = std::io::Error::from_raw_os_error(e).to_string();
    let text = match text.find(" (os error") {
        Some(i) => text[..i].to_string(),
        None => text,
    };
    let detail = if what.is_empty() { String::new() } else { format!(" {what}") };
    Error::new(name(e).to_string(), format!("{syscall}{detail}: {} ({text})", name(e)))
}

/// The error for the call that just failed.
pub fn last_err(syscall: &str, what: &str) -> Error<String> {
    err(syscall, last(), what)
}

/// An argument that never reached the kernel because it was malformed.
pub fn invalid(what: impl Into<String>) -> Error<String> {
    let what = what.into();
    Error::new("EINVAL".to_string(), format!("invalid argument: {what}: EINVAL"))
}

/// Checks the return value of a call that returns -1 on failure.
pub fn check(ret: libc::c_int, syscall: &str, what: &str) -> Result<libc::c_int> {
    if ret < 0 {
        Err(last_err(syscall, what))
    } else {
        Ok(ret)
    }
}
