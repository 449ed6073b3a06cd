//! Process hardening, done first thing in `main`: brickauth never leaves a core dump.
//!
//! brickauth holds access tokens, refresh tokens, passwords and client secrets in memory, and
//! `serve`/`exec` hold them for hours. A core dump of an aborted process would write all of them to
//! a file (an aborted `serve` once left one with the access token, the refresh token and the
//! password), readable by whoever reads core files: the user's later self, a crash reporter, a
//! support bundle. So, at start-up:
//!
//! - **Unix** (Linux, macOS, the BSDs): the soft `RLIMIT_CORE` is set to 0, whatever
//!   `ulimit -c` said. The hard limit is kept, so a program `brickauth exec` runs inherits 0 but
//!   may raise it again for itself (it holds a token too, in its environment or its memory: the
//!   default is the safe one).
//! - **Linux**: the process is also made non-dumpable (`prctl(PR_SET_DUMPABLE, 0)`). That holds
//!   where the limit does not: a `core_pattern` that pipes to a handler (systemd-coredump,
//!   apport) is not bound by `RLIMIT_CORE`, and another process of the same user may raise the
//!   limit again (`prlimit`). Non-dumpable also means other processes of the same user cannot
//!   `ptrace` brickauth or read its `/proc/<pid>/` memory, environment or file descriptors (they
//!   belong to root). brickauth itself still reads its own `/proc/self/` entries (the kernel
//!   always allows a process its own): `std::env::current_exe` does, for `profiles export`.
//!   A program `exec` starts is dumpable again (`execve` resets the flag); only the limit is
//!   inherited.
//! - **Windows**: nothing. There is no per-process core limit: crash dumps are written only where
//!   an administrator enabled Windows Error Reporting's `LocalDumps`, a machine-wide choice, and a
//!   process cannot stop a debugger of the same user from reading its memory.
//!
//! Neither call can fail as made here (lowering a soft limit is always allowed, and `0` is a valid
//! argument of `PR_SET_DUMPABLE`), so their results are not reported: there is no log yet this
//! early, and nothing to tell the user.

/// No core dumps from this process (see the module documentation for what each platform gets).
#[allow(unsafe_code)] // getrlimit, setrlimit, prctl: see the SAFETY comments
pub fn no_core_dumps() {
    #[cfg(unix)]
    {
        let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        // SAFETY: getrlimit/setrlimit read and write only the `rlimit` we pass, which lives on
        // this stack frame for the duration of the calls.
        unsafe {
            if libc::getrlimit(libc::RLIMIT_CORE, &mut limit) == 0 {
                limit.rlim_cur = 0;
            } else {
                limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
            }
            libc::setrlimit(libc::RLIMIT_CORE, &limit);
        }
    }
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_DUMPABLE takes one integer argument and touches no memory of ours.
    unsafe {
        libc::prctl(
            libc::PR_SET_DUMPABLE,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
        );
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_os = "linux")]
    #[test]
    #[allow(unsafe_code)] // getrlimit, prctl: see the SAFETY comment
    fn the_process_has_no_core_limit_and_is_not_dumpable() {
        // The test harness is a process of its own: hardening it changes nothing for other tests.
        super::no_core_dumps();
        let mut limit = libc::rlimit { rlim_cur: 1, rlim_max: 0 };
        // SAFETY: as in `no_core_dumps`.
        let (got, dumpable) =
            unsafe { (libc::getrlimit(libc::RLIMIT_CORE, &mut limit), libc::prctl(libc::PR_GET_DUMPABLE, 0, 0, 0, 0)) };
        assert_eq!(got, 0);
        assert_eq!(limit.rlim_cur, 0, "RLIMIT_CORE soft limit");
        assert_eq!(dumpable, 0, "PR_GET_DUMPABLE");
        // Reading our own /proc entries still works.
        assert!(std::env::current_exe().is_ok());
        assert!(std::fs::read_to_string("/proc/self/status").is_ok());
    }
}
