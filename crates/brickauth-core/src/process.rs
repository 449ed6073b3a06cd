//! Starting the programs a user names: a command line for a shell (`K_command` secrets), and
//! on Windows the two things `std::process` leaves to its caller.
//!
//! - [`shell`]: `sh -c COMMAND` on Unix; on Windows `cmd.exe /d /s /c "COMMAND"`, passed with
//!   `raw_arg` so that the command reaches cmd.exe exactly as written. (`Command::arg` would quote
//!   it for the MSVC runtime's rules, turning `"` into `\"`, which cmd.exe does not understand.)
//!   `/s` makes cmd.exe strip just the outer pair of quotes, `/d` skips the `AutoRun` commands of
//!   the registry. cmd.exe ends a command at a line break, so a command with one is refused rather
//!   than silently cut short.
//! - Windows only, [`find_program`]: a program name looked up on `PATH` with each extension of
//!   `PATHEXT`, as cmd.exe and PowerShell do (`az` → `az.cmd`); `std` only appends `.exe`. A
//!   `.cmd` or `.bat` it finds is then started by `std`, which runs it through cmd.exe with its
//!   arguments quoted safely for cmd.exe (and refuses arguments it cannot quote).
//! - Windows only, [`Job`]: a Job object with `JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE`. A child started
//!   suspended ([`Job::CREATION_FLAGS`]) is put in the job before it runs a single instruction, so
//!   the child and everything it starts (az.cmd's Python) end when the job's handle closes: when
//!   its owner drops it, or when the owning process dies, however it dies.
//!
//! Nothing here installs a console handler or decides an exit code: that is the CLI's business.

use std::io;
use std::process::Command;

/// A command that runs `command` with the platform's shell: `sh -c` on Unix, `cmd.exe /d /s /c`
/// on Windows (see the module documentation). Only the arguments are set: the caller chooses
/// stdio and environment.
///
/// # Errors
///
/// On Windows, [`io::ErrorKind::InvalidInput`] when `command` holds a line break (cmd.exe would
/// run only its first line) or a NUL.
pub fn shell(command: &str) -> io::Result<Command> {
    #[cfg(unix)]
    {
        let mut cmd = Command::new("sh");
        cmd.arg("-c").arg(command);
        Ok(cmd)
    }
    #[cfg(windows)]
    {
        use std::os::windows::process::CommandExt;
        if command.contains(['\r', '\n', '\0']) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "cmd.exe runs a single line: the command must not contain a line break",
            ));
        }
        let mut cmd = Command::new(windows::cmd_exe());
        cmd.raw_arg(cmd_line(command));
        Ok(cmd)
    }
}

/// What cmd.exe is given after its name: `/d /s /c "COMMAND"`; `/s` strips exactly the outer pair
/// of quotes, so every character of `COMMAND`, quotes included, is cmd.exe's to parse.
#[cfg_attr(not(windows), allow(dead_code))]
fn cmd_line(command: &str) -> String {
    format!("/d /s /c \"{command}\"")
}

#[cfg(windows)]
pub use windows::{Job, find_program};

#[cfg(windows)]
mod windows {
    use std::ffi::{OsStr, OsString};
    use std::io;
    use std::os::windows::ffi::OsStringExt;
    use std::os::windows::io::{AsRawHandle, FromRawHandle, OwnedHandle, RawHandle};
    use std::path::{Path, PathBuf};

    use windows_sys::Win32::Foundation::{FALSE, HANDLE, INVALID_HANDLE_VALUE};
    use windows_sys::Win32::System::Diagnostics::ToolHelp::{
        CreateToolhelp32Snapshot, TH32CS_SNAPTHREAD, THREADENTRY32, Thread32First, Thread32Next,
    };
    use windows_sys::Win32::System::JobObjects::{
        AssignProcessToJobObject, CreateJobObjectW, JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE,
        JOBOBJECT_EXTENDED_LIMIT_INFORMATION, JobObjectExtendedLimitInformation, SetInformationJobObject,
    };
    use windows_sys::Win32::System::SystemInformation::GetSystemDirectoryW;
    use windows_sys::Win32::System::Threading::{CREATE_SUSPENDED, OpenThread, ResumeThread, THREAD_SUSPEND_RESUME};

    /// `C:\Windows\System32\cmd.exe` from the system directory, never a `cmd.exe` found first on
    /// `PATH` or next to brickauth. (`cmd.exe` alone, should the system directory be unknown.)
    pub(super) fn cmd_exe() -> PathBuf {
        system_directory().map(|d| d.join("cmd.exe")).unwrap_or_else(|| PathBuf::from("cmd.exe"))
    }

    #[allow(unsafe_code)]
    fn system_directory() -> Option<PathBuf> {
        let mut buf = vec![0u16; 260];
        // SAFETY: the buffer is valid for `buf.len()` UTF-16 units; the return value is the
        // length written (without the NUL), or the size needed when the buffer is too small.
        let n = unsafe { GetSystemDirectoryW(buf.as_mut_ptr(), buf.len() as u32) } as usize;
        if n == 0 || n >= buf.len() {
            return None;
        }
        buf.truncate(n);
        Some(PathBuf::from(OsString::from_wide(&buf)))
    }

    /// `name` as cmd.exe finds it: a name with a directory part (`.\tool`, `C:\bin\tool`) is
    /// looked up there only; a bare name in each directory of `path` in order (not in the
    /// current directory first, as cmd.exe would: PowerShell does not either). In each place,
    /// `name` itself when it already ends in one of `pathext`'s extensions, else `name` with each
    /// extension of `pathext` (`.COM;.EXE;.BAT;.CMD` when unset) in order. `None`: not found.
    pub fn find_program(name: &OsStr, path: Option<&OsStr>, pathext: Option<&OsStr>) -> Option<PathBuf> {
        let pathext = pathext.and_then(OsStr::to_str).filter(|p| !p.trim().is_empty()).unwrap_or(DEFAULT_PATHEXT);
        let exts: Vec<&str> = pathext.split(';').map(str::trim).filter(|e| e.len() > 1 && e.starts_with('.')).collect();
        let name_path = Path::new(name);
        let file = name_path.file_name()?;
        let has_ext = name_path
            .extension()
            .and_then(OsStr::to_str)
            .is_some_and(|ext| exts.iter().any(|e| e[1..].eq_ignore_ascii_case(ext)));
        let bare = !name.to_string_lossy().contains(['/', '\\', ':']);
        let dirs: Vec<PathBuf> = if bare {
            std::env::split_paths(path?).filter(|d| !d.as_os_str().is_empty()).collect()
        } else {
            vec![name_path.parent()?.to_owned()]
        };
        let candidates = |dir: &Path| -> Vec<PathBuf> {
            if has_ext {
                return vec![dir.join(file)];
            }
            exts.iter()
                .map(|ext| {
                    let mut with_ext = file.to_owned();
                    with_ext.push(ext);
                    dir.join(with_ext)
                })
                .collect()
        };
        dirs.iter().flat_map(|d| candidates(d)).find(|c| c.is_file())
    }

    /// Windows' own default for `PATHEXT`'s executable kinds.
    const DEFAULT_PATHEXT: &str = ".COM;.EXE;.BAT;.CMD";

    /// A Job object whose processes are ended when its last handle closes.
    #[derive(Debug)]
    pub struct Job {
        handle: OwnedHandle,
    }

    impl Job {
        /// The creation flags ([`CommandExt::creation_flags`]) a child must be started with for
        /// [`Job::adopt`]: suspended, so it cannot start a process of its own before it is in the job.
        ///
        /// [`CommandExt::creation_flags`]: std::os::windows::process::CommandExt::creation_flags
        pub const CREATION_FLAGS: u32 = CREATE_SUSPENDED;

        /// A new, unnamed job with `JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE`.
        #[allow(unsafe_code)]
        pub fn new() -> io::Result<Job> {
            // SAFETY: no security attributes and no name; the result is checked before use.
            let raw = unsafe { CreateJobObjectW(std::ptr::null(), std::ptr::null()) };
            if raw.is_null() {
                return Err(io::Error::last_os_error());
            }
            // SAFETY: `raw` is a handle we just created and own alone.
            let handle = unsafe { OwnedHandle::from_raw_handle(raw as RawHandle) };
            let mut limits = JOBOBJECT_EXTENDED_LIMIT_INFORMATION::default();
            limits.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE;
            // SAFETY: the information class matches the structure passed, with its exact size.
            let ok = unsafe {
                SetInformationJobObject(
                    handle.as_raw_handle() as HANDLE,
                    JobObjectExtendedLimitInformation,
                    (&raw const limits).cast(),
                    size_of::<JOBOBJECT_EXTENDED_LIMIT_INFORMATION>() as u32,
                )
            };
            if ok == FALSE {
                return Err(io::Error::last_os_error());
            }
            Ok(Job { handle })
        }

        /// Put the process `pid`, started with [`Job::CREATION_FLAGS`], in this job, then let its
        /// threads run. `process` is its handle (`Child::as_raw_handle`). On an error the process
        /// stays suspended: the caller kills it.
        #[allow(unsafe_code)]
        pub fn adopt(&self, process: RawHandle, pid: u32) -> io::Result<()> {
            // SAFETY: both handles are valid for the call: ours is owned, `process` is the
            // caller's live child.
            if unsafe { AssignProcessToJobObject(self.handle.as_raw_handle() as HANDLE, process as HANDLE) } == FALSE {
                return Err(io::Error::last_os_error());
            }
            resume_threads(pid)
        }
    }

    /// Resume every thread of process `pid` (a process started suspended has one).
    #[allow(unsafe_code)]
    fn resume_threads(pid: u32) -> io::Result<()> {
        // SAFETY: a snapshot of all threads; the handle is checked, then owned and closed on drop.
        let raw = unsafe { CreateToolhelp32Snapshot(TH32CS_SNAPTHREAD, 0) };
        if raw == INVALID_HANDLE_VALUE {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` is a valid handle we own.
        let snapshot = unsafe { OwnedHandle::from_raw_handle(raw as RawHandle) };
        let mut entry = THREADENTRY32 { dwSize: size_of::<THREADENTRY32>() as u32, ..Default::default() };
        let mut resumed = 0;
        // SAFETY: `entry` is a THREADENTRY32 with `dwSize` set, as the call requires.
        let mut more = unsafe { Thread32First(snapshot.as_raw_handle() as HANDLE, &mut entry) } != FALSE;
        while more {
            if entry.th32OwnerProcessID == pid {
                // SAFETY: the thread id comes from the snapshot; the handle is checked, then owned.
                let thread = unsafe { OpenThread(THREAD_SUSPEND_RESUME, FALSE, entry.th32ThreadID) };
                if thread.is_null() {
                    return Err(io::Error::last_os_error());
                }
                // SAFETY: `thread` is a valid handle we own from here on.
                let thread = unsafe { OwnedHandle::from_raw_handle(thread as RawHandle) };
                // SAFETY: a live thread handle with THREAD_SUSPEND_RESUME access.
                if unsafe { ResumeThread(thread.as_raw_handle() as HANDLE) } == u32::MAX {
                    return Err(io::Error::last_os_error());
                }
                resumed += 1;
            }
            // SAFETY: as for Thread32First.
            more = unsafe { Thread32Next(snapshot.as_raw_handle() as HANDLE, &mut entry) } != FALSE;
        }
        if resumed == 0 {
            return Err(io::Error::other(format!("process {pid} has no thread to resume")));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cmd_line_keeps_the_command_verbatim() {
        assert_eq!(cmd_line(r#"echo "a b""#), r#"/d /s /c "echo "a b"""#);
    }

    /// The command reaches the shell as written: double quotes and spaces survive.
    #[test]
    fn shell_runs_a_command_with_quotes_and_spaces() {
        let dir = tempfile::tempdir().unwrap();
        let script = if cfg!(windows) { "print args.cmd" } else { "print args.sh" };
        let path = dir.path().join(script);
        if cfg!(windows) {
            std::fs::write(&path, "@echo [%~1]\r\n").unwrap();
        } else {
            std::fs::write(&path, "printf '[%s]\\n' \"$1\"\n").unwrap();
        }
        let command = if cfg!(windows) {
            format!(r#""{}" "two  words""#, path.display())
        } else {
            format!(r#"sh "{}" "two  words""#, path.display())
        };
        let out = shell(&command).unwrap().output().unwrap();
        assert!(out.status.success(), "{out:?}");
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim_end(), "[two  words]");
    }

    #[cfg(windows)]
    #[test]
    fn shell_refuses_a_line_break_on_windows() {
        let err = shell("echo a\r\necho b").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert!(err.to_string().contains("line break"), "{err}");
    }

    #[cfg(windows)]
    #[test]
    fn find_program_follows_pathext() {
        use std::ffi::OsStr;
        let first = tempfile::tempdir().unwrap();
        let second = tempfile::tempdir().unwrap();
        std::fs::write(first.path().join("tool.txt"), "").unwrap();
        std::fs::write(second.path().join("tool.cmd"), "@exit 0\r\n").unwrap();
        std::fs::write(second.path().join("tool.bat"), "@exit 0\r\n").unwrap();
        let path = std::env::join_paths([first.path(), second.path()]).unwrap();
        let ext = OsStr::new(".COM;.EXE;.BAT;.CMD");
        // The file system ignores case: `tool` + `.BAT` is `tool.bat`.
        let same = |found: Option<std::path::PathBuf>, expected: std::path::PathBuf| {
            found.is_some_and(|f| f.to_string_lossy().eq_ignore_ascii_case(&expected.to_string_lossy()))
        };
        let found = find_program(OsStr::new("tool"), Some(&path), Some(ext));
        assert!(same(found.clone(), second.path().join("tool.bat")), "PATHEXT order decides: {found:?}");
        let found = find_program(OsStr::new("tool.cmd"), Some(&path), Some(ext));
        assert_eq!(found, Some(second.path().join("tool.cmd")), "a name with its extension");
        assert_eq!(find_program(OsStr::new("tool"), Some(&path), Some(OsStr::new(".EXE"))), None);
        let direct = second.path().join("tool");
        let found = find_program(direct.as_os_str(), None, Some(ext));
        assert!(same(found.clone(), second.path().join("tool.bat")), "a path: {found:?}");
        assert_eq!(find_program(OsStr::new("missing"), Some(&path), Some(ext)), None);
    }

    /// A `.cmd` found by [`find_program`] runs through cmd.exe with each argument one quoted
    /// word (cmd.exe's `&` inside it runs nothing), and its exit code comes back.
    #[cfg(windows)]
    #[test]
    fn a_found_batch_file_runs_with_its_arguments() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("echoer.cmd"), "@echo [%1]\r\n@exit /b 7\r\n").unwrap();
        let path = std::env::join_paths([dir.path()]).unwrap();
        let program = find_program("echoer".as_ref(), Some(&path), None).unwrap();
        let out = Command::new(program).arg("a b & echo injected").output().unwrap();
        assert_eq!(out.status.code(), Some(7));
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim_end(), "[\"a b & echo injected\"]");
    }

    /// A child in a job dies when the job is dropped, and so does its own child: the pipe on
    /// their stdout closes only once no process holds it.
    #[cfg(windows)]
    #[test]
    fn closing_the_job_ends_the_child_and_its_children() {
        use std::io::Read;
        use std::os::windows::io::AsRawHandle;
        use std::os::windows::process::CommandExt;
        use std::process::Stdio;
        use std::time::Duration;
        let job = Job::new().unwrap();
        // cmd.exe starts a second cmd.exe, which waits for a key on a stdin nobody writes to.
        let mut child = shell("cmd /d /c pause")
            .unwrap()
            .creation_flags(Job::CREATION_FLAGS)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        job.adopt(child.as_raw_handle(), child.id()).unwrap();
        let mut stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stdout.read_to_string(&mut text);
            let _ = tx.send(text);
        });
        assert!(rx.recv_timeout(Duration::from_millis(500)).is_err(), "the children ended on their own");
        drop(job);
        rx.recv_timeout(Duration::from_secs(10)).expect("a process outlived its job");
        child.wait().unwrap();
    }
}
