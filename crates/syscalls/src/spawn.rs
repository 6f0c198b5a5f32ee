//! Starting a command in new or existing namespaces, from a process that
//! has many threads.
//!
//! Node runs several threads from its first instruction, and the kernel
//! refuses unshare(CLONE_NEWUSER) and setns() into a user namespace to a
//! multithreaded process. A freshly forked child, though, has exactly one
//! thread: it may join or create namespaces, write its own uid and gid maps,
//! and then exec. Between fork() and exec() the child may only make
//! async-signal-safe calls, so everything it needs (paths, argument and
//! environment arrays, map texts) is prepared before the fork, and the child
//! runs straight-line system calls. If a step fails, the child writes the
//! step and errno into a close-on-exec pipe and exits; the parent reads that
//! pipe, which closes empty when exec() succeeded, and so can turn a failed
//! setup into a proper error instead of a mysterious exit status.
//!
//! The exit status comes from `wait_pid`, which blocks in waitpid() on
//! libuv's thread pool and resolves a promise, so Node's loop never waits.

use crate::errno::{Result, check, err, invalid, last};
use crate::sock::cstr;
use napi::bindgen_prelude::AsyncTask;
use napi::{Env, Task};
use napi_derive::napi;
use std::ffi::CString;

#[napi(object)]
pub struct SpawnOptions {
    /// The program and its arguments; a program without a slash is looked up in PATH.
    pub argv: Vec<String>,
    /// "NAME=value" entries; the current environment when absent.
    pub env: Option<Vec<String>>,
    pub cwd: Option<String>,
    /// Join this user namespace (a descriptor from openNamespace) first.
    pub userns_fd: Option<i32>,
    /// Join this network namespace next.
    pub netns_fd: Option<i32>,
    /// Then create a new user namespace and write the maps below into it.
    pub new_user: Option<bool>,
    /// Then create a new network namespace.
    pub new_net: Option<bool>,
    /// uid_map text for the new user namespace; default "0 EUID 1".
    pub uid_map: Option<String>,
    /// gid_map text; default "0 EGID 1" (setgroups is denied first, as required).
    pub gid_map: Option<String>,
    /// Descriptors to put at the child's 0, 1 and 2; inherited when absent.
    pub stdin: Option<i32>,
    pub stdout: Option<i32>,
    pub stderr: Option<i32>,
    /// Deliver SIGKILL to the child if the thread that spawned it ends.
    pub kill_with_parent: Option<bool>,
    /// Start a new session (detach from the terminal's job control).
    pub new_session: Option<bool>,
    /// Descriptors the child keeps across exec at the same numbers (their
    /// close-on-exec flag is cleared in the child only).
    pub keep_fds: Option<Vec<i32>>,
}

/// Steps reported through the error pipe.
const STEPS: [&str; 10] = [
    "setns (user)",
    "setns (network)",
    "unshare (user)",
    "write /proc/self/setgroups",
    "write /proc/self/uid_map",
    "write /proc/self/gid_map",
    "unshare (network)",
    "chdir",
    "execve",
    "dup2",
];

fn find_program(prog: &str, env: &[String]) -> Result<CString> {
    if prog.contains('/') {
        return cstr("program", prog);
    }
    let path = env
        .iter()
        .find_map(|e| e.strip_prefix("PATH="))
        .map(str::to_string)
        .unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin".into());
    for dir in path.split(':').filter(|d| !d.is_empty()) {
        let full = format!("{dir}/{prog}");
        let c = cstr("program", &full)?;
        // SAFETY: c is NUL-terminated.
        if unsafe { libc::access(c.as_ptr(), libc::X_OK) } == 0 {
            return Ok(c);
        }
    }
    Err(err("execve", libc::ENOENT, &format!("{prog} (not found in PATH)")))
}

/// Writes `text` to the file at `path`; async-signal-safe (open, write and
/// close only, nothing allocated), so the forked child may call it.
fn write_file(path: &CString, text: &CString) -> bool {
    // SAFETY: path is NUL-terminated; the descriptor is our own.
    let fd = unsafe { libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC) };
    if fd < 0 {
        return false;
    }
    let n = text.as_bytes().len();
    // SAFETY: text holds n readable bytes (its NUL is not written).
    let ok = unsafe { libc::write(fd, text.as_ptr() as *const libc::c_void, n) } == n as isize;
    // SAFETY: fd was opened above and is closed once.
    unsafe { libc::close(fd) };
    ok
}

/// Reports a failed step to the parent and exits; async-signal-safe.
///
/// # Safety
///
/// Only the child forked by `spawn` may call it, before exec: `_exit` ends
/// the process on the spot, without destructors, which is right for that
/// copy of Node but would lose the real process's state. `pipe` must be the
/// write end of that child's status pipe, a descriptor the caller owns, so
/// that the 8 bytes go to the parent and to no one else's file.
unsafe fn child_fail(pipe: i32, step: i32) -> ! {
    // SAFETY: __errno_location returns this thread's errno, always valid.
    let rec = [step, unsafe { *libc::__errno_location() }];
    // SAFETY: rec is 8 readable bytes; `pipe` is ours, per the contract.
    unsafe { libc::write(pipe, rec.as_ptr() as *const libc::c_void, 8) };
    // SAFETY: per the contract we are the forked child, whose only duty left is to end.
    unsafe { libc::_exit(127) }
}

#[napi]
pub fn spawn(o: SpawnOptions) -> Result<i32> {
    if o.argv.is_empty() {
        return Err(invalid("spawn: argv is empty"));
    }
    let env: Vec<String> = match &o.env {
        Some(e) => e.clone(),
        None => std::env::vars_os()
            .filter_map(|(k, v)| Some(format!("{}={}", k.into_string().ok()?, v.into_string().ok()?)))
            .collect(),
    };
    let prog = find_program(&o.argv[0], &env)?;
    let argv_c: Vec<CString> = o.argv.iter().map(|a| cstr("argument", a)).collect::<Result<_>>()?;
    let env_c: Vec<CString> = env.iter().map(|a| cstr("environment entry", a)).collect::<Result<_>>()?;
    let mut argv_p: Vec<*const libc::c_char> = argv_c.iter().map(|c| c.as_ptr()).collect();
    argv_p.push(std::ptr::null());
    let mut env_p: Vec<*const libc::c_char> = env_c.iter().map(|c| c.as_ptr()).collect();
    env_p.push(std::ptr::null());
    let cwd = o.cwd.as_deref().map(|c| cstr("cwd", c)).transpose()?;
    // SAFETY: geteuid/getegid cannot fail.
    let (euid, egid) = unsafe { (libc::geteuid(), libc::getegid()) };
    let uid_map = cstr("uid map", o.uid_map.as_deref().unwrap_or(&format!("0 {euid} 1")))?;
    let gid_map = cstr("gid map", o.gid_map.as_deref().unwrap_or(&format!("0 {egid} 1")))?;
    let deny = cstr("text", "deny")?;
    let p_setgroups = cstr("path", "/proc/self/setgroups")?;
    let p_uid = cstr("path", "/proc/self/uid_map")?;
    let p_gid = cstr("path", "/proc/self/gid_map")?;
    let new_user = o.new_user == Some(true);
    let new_net = o.new_net == Some(true);
    let stdio = [o.stdin, o.stdout, o.stderr];
    let keep: Vec<i32> = o.keep_fds.clone().unwrap_or_default();

    let mut fds = [0i32; 2];
    // SAFETY: fds has room for the two descriptors pipe2 writes.
    check(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, "pipe2", "")?;
    let (rd, wr) = (fds[0], fds[1]);

    // SAFETY: the child below makes only async-signal-safe calls on data
    // prepared before the fork, then execs or _exits.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        let e = last();
        // SAFETY: both ends are ours.
        unsafe {
            libc::close(rd);
            libc::close(wr);
        }
        return Err(err("fork", e, ""));
    }
    if pid == 0 {
        // SAFETY: in the child, single-threaded; see above.
        unsafe {
            let mut all: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut all);
            libc::sigprocmask(libc::SIG_SETMASK, &all, std::ptr::null_mut());
            for sig in 1..32 {
                if sig != libc::SIGKILL && sig != libc::SIGSTOP {
                    libc::signal(sig, libc::SIG_DFL);
                }
            }
            if o.kill_with_parent == Some(true) {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            }
            if o.new_session == Some(true) {
                libc::setsid();
            }
            for (target, src) in stdio.iter().enumerate() {
                if let Some(fd) = src {
                    if libc::dup2(*fd, target as i32) < 0 {
                        child_fail(wr, 9);
                    }
                }
            }
            // Node may have marked its own stdio close-on-exec; the child keeps it.
            for fd in 0..3 {
                libc::fcntl(fd, libc::F_SETFD, 0);
            }
            for fd in keep.iter() {
                libc::fcntl(*fd, libc::F_SETFD, 0);
            }
            if let Some(fd) = o.userns_fd {
                if libc::setns(fd, libc::CLONE_NEWUSER) < 0 {
                    child_fail(wr, 0);
                }
            }
            if let Some(fd) = o.netns_fd {
                if libc::setns(fd, libc::CLONE_NEWNET) < 0 {
                    child_fail(wr, 1);
                }
            }
            if new_user {
                if libc::unshare(libc::CLONE_NEWUSER) < 0 {
                    child_fail(wr, 2);
                }
                if !write_file(&p_setgroups, &deny) {
                    child_fail(wr, 3);
                }
                if !write_file(&p_uid, &uid_map) {
                    child_fail(wr, 4);
                }
                if !write_file(&p_gid, &gid_map) {
                    child_fail(wr, 5);
                }
            }
            if new_net && libc::unshare(libc::CLONE_NEWNET) < 0 {
                child_fail(wr, 6);
            }
            if let Some(c) = &cwd {
                if libc::chdir(c.as_ptr()) < 0 {
                    child_fail(wr, 7);
                }
            }
            libc::execve(prog.as_ptr(), argv_p.as_ptr(), env_p.as_ptr());
            child_fail(wr, 8);
        }
    }
    // SAFETY: the write end is ours; closing it lets the read below see EOF on exec.
    unsafe { libc::close(wr) };
    let mut rec = [0i32; 2];
    let n = loop {
        // SAFETY: rec has room for 8 bytes.
        let n = unsafe { libc::read(rd, rec.as_mut_ptr() as *mut libc::c_void, 8) };
        if n < 0 && last() == libc::EINTR {
            continue;
        }
        break n;
    };
    // SAFETY: the read end is ours.
    unsafe { libc::close(rd) };
    if n == 8 {
        let mut status = 0;
        // SAFETY: reaps the child that failed before exec.
        unsafe { libc::waitpid(pid, &mut status, 0) };
        let step = STEPS.get(rec[0] as usize).copied().unwrap_or("setup");
        return Err(err("spawn", rec[1], &format!("{}: {step}", o.argv[0])));
    }
    Ok(pid)
}

#[napi(object)]
pub struct ExitStatus {
    pub pid: i32,
    /// The exit code, when the process exited.
    pub code: Option<i32>,
    /// The signal number, when a signal ended it.
    pub signal: Option<i32>,
}

pub struct WaitTask {
    pid: i32,
}

impl Task for WaitTask {
    type Output = (i32, i32);
    type JsValue = ExitStatus;

    fn compute(&mut self) -> napi::Result<Self::Output> {
        let mut status = 0;
        loop {
            // SAFETY: status is a live int; this runs on a pool thread, not Node's loop.
            let r = unsafe { libc::waitpid(self.pid, &mut status, libc::__WALL) };
            if r >= 0 {
                return Ok((r, status));
            }
            let e = last();
            if e != libc::EINTR {
                let x = err("waitpid", e, &format!("pid {}", self.pid));
                return Err(napi::Error::new(napi::Status::GenericFailure, x.reason));
            }
        }
    }

    fn resolve(&mut self, _env: Env, out: Self::Output) -> napi::Result<ExitStatus> {
        let (pid, s) = out;
        let (code, signal) = if libc::WIFEXITED(s) {
            (Some(libc::WEXITSTATUS(s)), None)
        } else if libc::WIFSIGNALED(s) {
            (None, Some(libc::WTERMSIG(s)))
        } else {
            (None, None)
        };
        Ok(ExitStatus { pid, code, signal })
    }
}

/// Waits for a child started by `spawn`, on libuv's thread pool.
#[napi]
pub fn wait_pid(pid: i32) -> AsyncTask<WaitTask> {
    AsyncTask::new(WaitTask { pid })
}

/// A close-on-exec pipe: [read end, write end], both blocking, for a child's stdio.
#[napi]
pub fn pipe() -> Result<Vec<i32>> {
    let mut fds = [0i32; 2];
    // SAFETY: fds has room for two descriptors.
    check(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, "pipe2", "")?;
    Ok(vec![fds[0], fds[1]])
}
