//! The native front of the passt and pasta commands.
//!
//! Theory of operation
//!
//! Node runs several threads from its first instruction, and the kernel
//! lets only a single-threaded process create or join a user namespace. A
//! rootless pasta needs one (the guest's network namespace must belong to a
//! user namespace in which it holds CAP_SYS_ADMIN), and both commands detach
//! into the background when asked to, which Node cannot do either: it has no
//! fork. Done from Node, both take a second Node process, and so a second
//! start of Node, which costs more than everything else pasta does before
//! the first datagram. This program does those steps itself, while it is
//! still one thread, and then execs Node once on the app's script:
//!
//!   pasta, rootless, foreground:  enter or make the user namespace, exec Node
//!   pasta or passt, detached:     fork; the child starts a session and execs
//!                                 Node, the parent waits on a pipe for
//!                                 "ready" (exit 0) or an error (exit 1)
//!   anything else:                exec Node with argv unchanged
//!
//! It finds the script and the option table from its own path: it is
//! installed as `PKG/bin/NAME`, the script is `PKG/dist/cli.js` and the
//! table `PKG/dist/launch-options.txt`; NAME (passt or pasta) says which
//! command it is. Node is `PASST_TS_NODE` when set, else `node` in PATH. The
//! environment tells the script which stage it is, in the variables the
//! script's own launcher uses when no native launcher ran (so the two paths
//! meet in the same code): `PASTA_TS_STAGE=net` or `PASST_TS_STAGE=daemon`,
//! and the readiness pipe's descriptor, -1 in the foreground. Variables
//! that cost Node time before the script runs and that the networking
//! process has no use for (HIDDEN_FROM_NODE) go to Node renamed, malloc
//! gets a fixed mmap threshold (MALLOC_TUNABLE), and the script restores
//! the user's environment for what it starts.
//!
//! When the scan of argv is unsure (see scan.rs), or the table is missing,
//! argv goes to Node unchanged, and the script does everything the slower
//! way, correctly. `PASST_TS_LAUNCH_PLAN=1` prints what would be done
//! instead of doing it, for the tests that hold the scan to the parser.
mod scan;

use std::ffi::CString;
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// What the launcher does, decided from argv before anything is touched.
#[derive(Debug, PartialEq)]
enum Plan {
    /// exec Node with argv as it came.
    Direct,
    /// pasta: a user namespace first (Join a path / New / none), then Node,
    /// detached or not.
    Pasta { userns: Userns, detach: bool },
    /// passt: into the background.
    PasstDaemon { quiet: bool },
}

#[derive(Debug, PartialEq)]
enum Userns {
    Join(String),
    New,
    Keep,
}

fn plan(mode: &str, s: Option<scan::Scan>, rootless: bool) -> Plan {
    let Some(s) = s else { return Plan::Direct };
    if s.prints {
        return Plan::Direct;
    }
    if mode == "passt" {
        return if s.foreground { Plan::Direct } else { Plan::PasstDaemon { quiet: s.quiet } };
    }
    // pasta's rules, as options.ts states them: a lone number after the
    // options is a PID unless --netns is given; anything else is a command.
    let pid = match s.rest.as_slice() {
        [one] if !s.netns && !one.is_empty() && one.bytes().all(|b| b.is_ascii_digit()) => Some(one.clone()),
        _ => None,
    };
    let command = pid.is_none() && !s.rest.is_empty();
    let detach = !s.foreground && !command && (pid.is_some() || s.netns);
    if !rootless && !detach {
        return Plan::Direct;
    }
    let netns_only = s.netns_only || (s.userns.is_none() && s.netns);
    // With a PID, its user namespace is joined even under --netns-only:
    // that is the only way an unprivileged caller may enter its network
    // namespace. One that is already ours is not joined again.
    let join = if rootless { s.userns.clone().or_else(|| pid.map(|p| format!("/proc/{p}/ns/user"))) } else { None };
    let userns = match join.filter(|path| !same_namespace(path, "/proc/self/ns/user")) {
        Some(path) => Userns::Join(path),
        None if rootless && !netns_only => Userns::New,
        None => Userns::Keep,
    };
    Plan::Pasta { userns, detach }
}

fn same_namespace(a: &str, b: &str) -> bool {
    match (std::fs::read_link(a), std::fs::read_link(b)) {
        (Ok(x), Ok(y)) => x == y,
        // The Node side opens it and reports what is wrong.
        _ => false,
    }
}

fn errno_text(e: i32) -> String {
    std::io::Error::from_raw_os_error(e).to_string()
}

fn last_errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

fn write_proc(path: &str, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|e| format!("write {path}: {e}"))
}

/// Enters the user namespace the plan names; the process must still be
/// single-threaded, which it is: this program starts no thread.
fn enter_userns(u: &Userns) -> Result<(), String> {
    match u {
        Userns::Keep => Ok(()),
        Userns::Join(path) => {
            let f = std::fs::File::open(path).map_err(|e| format!("cannot open user namespace {path}: {e}"))?;
            use std::os::fd::AsRawFd;
            // SAFETY: setns takes a descriptor we own (f lives until the end
            // of this block) and a namespace type; it touches no memory of ours.
            if unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWUSER) } < 0 {
                return Err(format!("cannot join user namespace {path}: {}", errno_text(last_errno())));
            }
            Ok(())
        }
        Userns::New => {
            // SAFETY: geteuid and getegid cannot fail and take no arguments.
            let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
            // SAFETY: unshare takes only flags and changes this process's namespaces.
            if unsafe { libc::unshare(libc::CLONE_NEWUSER) } < 0 {
                return Err(format!("cannot create a user namespace: {}", errno_text(last_errno())));
            }
            write_proc("/proc/self/setgroups", "deny")?;
            write_proc("/proc/self/uid_map", &format!("0 {uid} 1"))?;
            write_proc("/proc/self/gid_map", &format!("0 {gid} 1"))
        }
    }
}

/// Where the app lives: PKG for PKG/bin/NAME, and NAME.
fn locate() -> Result<(PathBuf, String), String> {
    let exe = std::fs::read_link("/proc/self/exe").map_err(|e| format!("cannot read /proc/self/exe: {e}"))?;
    let name = exe.file_name().and_then(|n| n.to_str()).unwrap_or("").to_string();
    let pkg = exe.parent().and_then(Path::parent).ok_or("cannot tell where the app is installed")?;
    Ok((pkg.to_path_buf(), name))
}

fn find_node() -> Result<PathBuf, String> {
    if let Some(n) = std::env::var_os("PASST_TS_NODE") {
        return Ok(PathBuf::from(n));
    }
    let path = std::env::var("PATH").unwrap_or_else(|_| "/usr/local/bin:/usr/bin:/bin".into());
    for dir in path.split(':').filter(|d| !d.is_empty()) {
        let p = Path::new(dir).join("node");
        let Ok(c) = CString::new(p.as_os_str().as_encoded_bytes()) else { continue };
        // SAFETY: c is a NUL-terminated path; access only reads it.
        if unsafe { libc::access(c.as_ptr(), libc::X_OK) } == 0 {
            return Ok(p);
        }
    }
    Err("cannot find node in PATH (or set PASST_TS_NODE)".into())
}

/// The variables that tell the script its stage, and the readiness pipe's descriptor.
struct Stage {
    var: &'static str,
    value: &'static str,
    ready_var: &'static str,
}

const PASTA_NET: Stage = Stage { var: "PASTA_TS_STAGE", value: "net", ready_var: "PASTA_TS_READY_FD" };
const PASST_DAEMON: Stage = Stage { var: "PASST_TS_STAGE", value: "daemon", ready_var: "PASST_TS_READY_FD" };

/// Variables Node acts on before any JavaScript runs, at a cost the
/// networking process never gets back: NODE_EXTRA_CA_CERTS makes Node parse
/// a whole certificate bundle at start-up (25 ms on the bench machine) for
/// TLS that passt and pasta never use. Each goes to Node as
/// PASST_TS_HIDDEN_NAME, and the script puts it back before it starts
/// anything (packages/engine/src/launch-env.ts holds the same list and says
/// more).
const HIDDEN_FROM_NODE: &[&str] = &["NODE_EXTRA_CA_CERTS"];

/// glibc's malloc with a fixed mmap threshold: by default it rises to the
/// size of any large block freed, and big typed arrays then come from the
/// brk heap, cleared and resident. Appended to the user's GLIBC_TUNABLES,
/// which the script restores (or removes, when named in PASST_TS_ADDED).
const MALLOC_TUNABLE: &str = "glibc.malloc.mmap_threshold=65536";

fn node_command(node: &Path, script: &Path, argv: &[String], stage: Option<(&Stage, i32)>) -> Command {
    let mut c = Command::new(node);
    c.arg(script).args(argv);
    for name in HIDDEN_FROM_NODE {
        if let Some(v) = std::env::var_os(name) {
            c.env_remove(name).env(format!("PASST_TS_HIDDEN_{name}"), v);
        }
    }
    match std::env::var_os("GLIBC_TUNABLES") {
        Some(v) => {
            let mut t = v.clone();
            if !t.is_empty() {
                t.push(":");
            }
            t.push(MALLOC_TUNABLE);
            c.env("PASST_TS_HIDDEN_GLIBC_TUNABLES", v).env("GLIBC_TUNABLES", t);
        }
        None => {
            c.env("GLIBC_TUNABLES", MALLOC_TUNABLE).env("PASST_TS_ADDED", "GLIBC_TUNABLES");
        }
    }
    if let Some((s, fd)) = stage {
        c.env(s.var, s.value).env(s.ready_var, fd.to_string());
    }
    c
}

/// A pipe whose write end the Node child inherits and whose read end it does not.
fn ready_pipe() -> Result<(i32, i32), String> {
    let mut fds = [0i32; 2];
    // SAFETY: fds has room for the two descriptors pipe2 writes.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } < 0 {
        return Err(format!("pipe: {}", errno_text(last_errno())));
    }
    // SAFETY: fds[1] is the write end just made; clearing its flags only
    // lets it survive exec.
    unsafe { libc::fcntl(fds[1], libc::F_SETFD, 0) };
    Ok((fds[0], fds[1]))
}

/// The detached child's half: a session of its own, /dev/null for stdio
/// (what goes wrong comes back through the pipe), the namespace, Node.
fn daemon_child(u: &Userns, cmd: &mut Command) -> ! {
    // SAFETY: setsid takes no arguments; we are the freshly forked child,
    // which leads no group, so it succeeds.
    unsafe { libc::setsid() };
    if let Ok(null) = std::fs::OpenOptions::new().read(true).write(true).open("/dev/null") {
        use std::os::fd::AsRawFd;
        for fd in 0..3 {
            // SAFETY: dup2 onto the standard descriptors, which this
            // process owns; null stays open until the end of this block.
            unsafe { libc::dup2(null.as_raw_fd(), fd) };
        }
    }
    if let Err(e) = enter_userns(u) {
        // stderr is /dev/null now: the parent sees the pipe close unready
        // and says so; the reason is lost unless we send it.
        report_on_pipe(&e);
        std::process::exit(1);
    }
    let e = cmd.exec();
    report_on_pipe(&format!("cannot start node: {e}"));
    std::process::exit(1);
}

thread_local! {
    static READY_W: std::cell::Cell<i32> = const { std::cell::Cell::new(-1) };
}

fn report_on_pipe(msg: &str) {
    let fd = READY_W.with(|w| w.get());
    if fd >= 0 {
        let line = format!("error {msg}\n");
        // SAFETY: fd is the pipe's write end, open in this process; the
        // buffer is line's bytes.
        unsafe { libc::write(fd, line.as_ptr() as *const libc::c_void, line.len()) };
    }
}

/// The waiting parent: prints what the child says while it starts, and
/// exits 0 once it is ready; with the child's exit status (or 1) if the
/// pipe closes first.
fn wait_ready(name: &str, pid: i32, r: i32, quiet: bool) -> i32 {
    use std::io::BufRead;
    // SAFETY: r is the pipe's read end, ours alone; File takes it over and
    // closes it once.
    let f = unsafe { <std::fs::File as std::os::fd::FromRawFd>::from_raw_fd(r) };
    let stderr = std::io::stderr();
    let mut err = stderr.lock();
    let mut failed = false;
    for line in std::io::BufReader::new(f).lines() {
        let Ok(line) = line else { break };
        if line == "ready" {
            // Not waiting for the pipe's end: the daemon may hand it on.
            return 0;
        } else if let Some(m) = line.strip_prefix("error ") {
            failed = true;
            let _ = writeln!(err, "{name}: {m}");
        } else if let Some(m) = line.strip_prefix("say ") {
            if !quiet {
                let _ = writeln!(err, "{m}");
            }
        }
    }
    if !failed && name == "passt" {
        let _ = writeln!(err, "passt: the background process ended while starting");
    }
    let mut status = 0;
    // SAFETY: reaps our own child; status is a live int.
    let reaped = unsafe { libc::waitpid(pid, &mut status, 0) } == pid;
    if reaped && libc::WIFEXITED(status) && libc::WEXITSTATUS(status) != 0 {
        return libc::WEXITSTATUS(status);
    }
    if reaped && libc::WIFSIGNALED(status) {
        return 128 + libc::WTERMSIG(status);
    }
    1
}

fn run() -> Result<i32, String> {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let (pkg, name) = locate()?;
    let script = pkg.join("dist/cli.js");
    let table = std::fs::read_to_string(pkg.join("dist/launch-options.txt")).ok();
    let scanned = table.map(|t| scan::scan(&scan::read_table(&t), &argv)).unwrap_or(None);
    // SAFETY: getuid cannot fail.
    let rootless = unsafe { libc::getuid() } != 0;
    let p = plan(&name, scanned, rootless);
    if std::env::var_os("PASST_TS_LAUNCH_PLAN").is_some() {
        println!("{p:?}");
        return Ok(0);
    }
    let node = find_node()?;
    match p {
        Plan::Direct => Err(format!("cannot start node: {}", node_command(&node, &script, &argv, None).exec())),
        Plan::Pasta { userns, detach: false } => {
            enter_userns(&userns)?;
            let e = node_command(&node, &script, &argv, Some((&PASTA_NET, -1))).exec();
            Err(format!("cannot start node: {e}"))
        }
        Plan::Pasta { userns, detach: true } => fork_daemon(&name, &userns, &node, &script, &argv, &PASTA_NET, false),
        Plan::PasstDaemon { quiet } => fork_daemon(&name, &Userns::Keep, &node, &script, &argv, &PASST_DAEMON, quiet),
    }
}

fn fork_daemon(name: &str, u: &Userns, node: &Path, script: &Path, argv: &[String], stage: &Stage, quiet: bool) -> Result<i32, String> {
    let (r, w) = ready_pipe()?;
    let mut cmd = node_command(node, script, argv, Some((stage, w)));
    // SAFETY: this program has one thread, so the child may run any code,
    // not only async-signal-safe calls; it execs or exits.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(format!("fork: {}", errno_text(last_errno())));
    }
    if pid == 0 {
        // SAFETY: r is the read end, which the child does not use.
        unsafe { libc::close(r) };
        READY_W.with(|c| c.set(w));
        daemon_child(u, &mut cmd);
    }
    // SAFETY: w is the write end, which only the child keeps: closing ours
    // lets the read see the end when the child is done with it.
    unsafe { libc::close(w) };
    Ok(wait_ready(name, pid, r, quiet))
}

fn main() {
    let name = locate().map(|(_, n)| n).unwrap_or_else(|_| "pasta".into());
    match run() {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("{name}: {e}");
            std::process::exit(1);
        }
    }
}
