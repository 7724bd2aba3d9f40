//! Keeping every process a command starts inside the command's lifetime
//! (Linux).
//!
//! The spawned process is a small shim, forked from the host before the
//! program is exec'd. The shim marks itself a child subreaper
//! (`PR_SET_CHILD_SUBREAPER`), forks the program, reaps whatever exits
//! beneath it, and reports the program's wait status on a pipe. Because it is
//! a subreaper, a process that double-forks or calls `setsid` is re-parented
//! to the shim rather than to init, so every descendant of the command stays
//! in the shim's subtree for as long as the shim lives. When the program
//! ends (or is stopped), the host walks `/proc` for that subtree and kills it;
//! the shim then has nothing left to reap and exits.
//!
//! The shim runs in a child forked from a multithreaded process, so it keeps
//! to system calls: no allocation, no locks.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::time::{Duration, Instant};

/// The read end of the status pipe of one spawned shim.
pub(super) struct StatusPipe {
    read: File,
    write: Option<OwnedFd>,
}

/// Arranges for `command` to start the shim described in the module docs.
pub(super) fn install(command: &mut std::process::Command) -> io::Result<StatusPipe> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: pipe2 writes two descriptors into `fds`, which has room.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both descriptors were just created and are owned here only.
    let (read, write) = unsafe { (File::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    let status_fd = write.as_raw_fd();
    let host = std::process::id() as libc::pid_t;
    // SAFETY: the closure runs in the forked child before exec and only makes
    // async-signal-safe system calls (see `shim`).
    unsafe {
        command.pre_exec(move || shim(status_fd, host));
    }
    Ok(StatusPipe {
        read,
        write: Some(write),
    })
}

impl StatusPipe {
    /// Closes the host's copy of the write end (after spawning), so the read
    /// end sees end-of-file if the shim dies without reporting.
    pub(super) fn spawned(&mut self) {
        self.write = None;
    }

    /// Blocks until the shim reports the program's wait status; `None` when
    /// the shim went away without reporting.
    pub(super) fn wait(mut self) -> Option<i32> {
        let mut raw = [0u8; 4];
        self.read.read_exact(&mut raw).ok()?;
        Some(i32::from_ne_bytes(raw))
    }
}

/// The exit code in a raw wait status, if the program exited normally.
pub(super) fn exit_code(status: i32) -> Option<i32> {
    libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status))
}

fn shim(status_fd: RawFd, host: libc::pid_t) -> io::Result<()> {
    // SAFETY (whole function): plain system calls on integers and a stack
    // buffer; nothing here allocates or takes a lock.
    unsafe {
        if libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1 as libc::c_ulong, 0, 0, 0) != 0 {
            return Err(io::Error::last_os_error());
        }
        let program = libc::fork();
        if program < 0 {
            return Err(io::Error::last_os_error());
        }
        if program == 0 {
            // The program: the caller goes on to exec it.
            return Ok(());
        }
        // The shim dies with the thread that spawned it, and does not outlive
        // a host that died before the line above took effect.
        libc::prctl(
            libc::PR_SET_PDEATHSIG,
            libc::SIGKILL as libc::c_ulong,
            0,
            0,
            0,
        );
        if libc::getppid() != host {
            libc::kill(program, libc::SIGKILL);
        }
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
        // Hold none of the command's pipes (its output must end when the
        // program's last holder does) and not std's exec-error pipe (the
        // host's spawn waits for it to close).
        close_all_but(status_fd);
        let mut reported = false;
        loop {
            let mut status: libc::c_int = 0;
            let pid = libc::waitpid(-1, &mut status, 0);
            if pid == program && !reported {
                let bytes = status.to_ne_bytes();
                libc::write(status_fd, bytes.as_ptr().cast(), bytes.len());
                reported = true;
            } else if pid < 0 {
                if io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                    continue;
                }
                // No children left: nothing of the command remains.
                break;
            }
        }
        libc::_exit(0);
    }
}

/// Closes every descriptor except `keep`.
///
/// # Safety
/// Only for the shim: it closes descriptors other code may think it owns.
unsafe fn close_all_but(keep: RawFd) {
    let keep = keep as libc::c_uint;
    // SAFETY: see the function contract; close_range takes plain integers.
    unsafe {
        let low =
            keep == 0 || libc::syscall(libc::SYS_close_range, 0 as libc::c_uint, keep - 1, 0) == 0;
        let high = libc::syscall(
            libc::SYS_close_range,
            keep + 1,
            libc::c_uint::MAX,
            0 as libc::c_uint,
        ) == 0;
        if low && high {
            return;
        }
        // Kernels before 5.9 lack close_range.
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        let max = if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 {
            limit.rlim_cur.min(1 << 16) as libc::c_uint
        } else {
            1024
        };
        for fd in 0..max {
            if fd != keep {
                libc::close(fd as libc::c_int);
            }
        }
    }
}

/// Kills every live process beneath `root` (not `root` itself), repeating
/// until none is left or `budget` runs out. Returns how many it signalled.
pub(super) fn kill_descendants(root: u32, budget: Duration) -> usize {
    let Ok(root) = libc::pid_t::try_from(root) else {
        return 0;
    };
    let until = Instant::now() + budget;
    let mut signalled = 0;
    loop {
        let live = descendants(root);
        if live.is_empty() || Instant::now() >= until {
            return signalled;
        }
        for pid in live {
            // SAFETY: kill(2) has no memory-safety preconditions. The pid was
            // a live descendant a moment ago; it could only be recycled if it
            // exited and was reaped in between, and pids are handed out in
            // increasing order, so that needs the pid space to wrap first.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
            }
            signalled += 1;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Live (not zombie) processes whose parent chain leads to `root`.
pub(super) fn descendants(root: libc::pid_t) -> Vec<libc::pid_t> {
    let mut children: HashMap<libc::pid_t, Vec<(libc::pid_t, bool)>> = HashMap::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|name| name.parse::<libc::pid_t>().ok())
        else {
            continue;
        };
        if let Some((ppid, zombie)) = parent_of(pid) {
            children.entry(ppid).or_default().push((pid, zombie));
        }
    }
    let mut found = Vec::new();
    let mut queue = vec![root];
    while let Some(parent) = queue.pop() {
        for &(pid, zombie) in children.get(&parent).map(Vec::as_slice).unwrap_or(&[]) {
            if !zombie {
                found.push(pid);
            }
            queue.push(pid);
        }
    }
    found
}

/// The parent of `pid` and whether it is a zombie, from `/proc/<pid>/stat`.
fn parent_of(pid: libc::pid_t) -> Option<(libc::pid_t, bool)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // `pid (comm) state ppid …`; comm may hold spaces and parentheses.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_ascii_whitespace();
    let state = fields.next()?;
    let ppid = fields.next()?.parse().ok()?;
    Some((ppid, state == "Z" || state == "X"))
}
