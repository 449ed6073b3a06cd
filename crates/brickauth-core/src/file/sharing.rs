//! Who besides the user may change or read a file brickauth reads but never writes: the
//! profile file, `~/.databrickscfg`, a `*_file` secret, a private key.
//!
//! One question on every platform, judged on the open file (no window between check and use):
//!
//! - **Unix:** the owner (anyone but the user or root), the group and other permission bits.
//! - **Windows:** the owner SID (anyone but the user, SYSTEM or Administrators) and the DACL's
//!   access-allowed entries ([`super::acl::others`]); groups that stand for every user
//!   (Everyone, Authenticated Users, Users, …) are Windows' "others".
//!
//! Callers decide what follows: a warning, or (for a profile file every user may change) a
//! refusal to run the commands it names.

use std::fs::File;
use std::io;
use std::path::Path;

use super::acl::{self, Allowed, Sid};

/// Someone besides the user who may change or read a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// For a person: `its group`, `every user`, `S-1-1-0 (Everyone)`, `S-1-5-21-…-1002`.
    pub name: String,
    /// Whether it stands for every user of the machine (Unix "others", Windows Everyone,
    /// Authenticated Users, Users, …, or a NULL DACL).
    pub everybody: bool,
}

/// Who besides the user may change or read a file ([`sharing`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sharing {
    /// The owner, when it is neither the user nor the system (root; SYSTEM, Administrators):
    /// an owner can always change its file. `uid 1002`, `S-1-5-21-…-1002`.
    pub owner: Option<String>,
    /// Who else may change it.
    pub writers: Vec<Principal>,
    /// Who else may read it.
    pub readers: Vec<Principal>,
}

impl Sharing {
    /// Whether every user of the machine may change the file.
    pub fn changeable_by_everybody(&self) -> bool {
        self.writers.iter().any(|w| w.everybody)
    }

    /// What lets others change the file (`it belongs to uid 1002`, `every user can change
    /// it`), or `None` when only the user (and the system) can.
    pub fn change_problem(&self) -> Option<String> {
        let mut parts = Vec::new();
        if let Some(owner) = &self.owner {
            parts.push(format!("it belongs to {owner}"));
        }
        // The owner is not named twice.
        let writers: Vec<Principal> =
            self.writers.iter().filter(|w| Some(&w.name) != self.owner.as_ref()).cloned().collect();
        if !writers.is_empty() {
            parts.push(format!("{} can change it", names(&writers)));
        }
        (!parts.is_empty()).then(|| parts.join(" and "))
    }

    /// Who else can read the file (`its group and every user can read it`), or `None`.
    pub fn read_problem(&self) -> Option<String> {
        (!self.readers.is_empty()).then(|| format!("{} can read it", names(&self.readers)))
    }

    /// The command that makes `path` the user's alone, for a message: on Unix `chmod 600
    /// PATH` (`chmod go-w PATH` with `keep_readable`, for a file only others' writing is
    /// wrong for), after `chown` when someone else owns it; on Windows `icacls`, after
    /// `takeown` when someone else owns it.
    pub fn fix(&self, path: &Path, keep_readable: bool) -> String {
        let p = path.display();
        if cfg!(windows) {
            let restrict = format!("icacls \"{p}\" /inheritance:r /grant:r \"%USERNAME%:F\"");
            match self.owner {
                Some(_) => format!("takeown /F \"{p}\" && {restrict}"),
                None => restrict,
            }
        } else {
            let chmod = if keep_readable { format!("chmod go-w {p}") } else { format!("chmod 600 {p}") };
            match self.owner {
                Some(_) => format!("chown $USER {p} && {chmod}"),
                None => chmod,
            }
        }
    }
}

fn names(who: &[Principal]) -> String {
    let names: Vec<&str> = who.iter().map(|p| p.name.as_str()).collect();
    match names.as_slice() {
        [one] => (*one).to_owned(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
        [] => String::new(),
    }
}

/// Who besides the user may change or read the open file `file`.
pub fn sharing(file: &File) -> io::Result<Sharing> {
    imp::sharing(file)
}

/// [`sharing`] of the file at `path` (following links: what is judged is the file a read
/// would get), opened as [`super::read`] opens it: a FIFO does not block.
pub fn sharing_of(path: &Path) -> io::Result<Sharing> {
    sharing(&super::open_for_reading(path)?)
}

#[cfg(unix)]
mod imp {
    use std::os::unix::fs::MetadataExt;

    use super::*;

    pub(super) fn sharing(file: &File) -> io::Result<Sharing> {
        let meta = file.metadata()?;
        Ok(of_mode(meta.uid(), meta.mode(), euid()))
    }

    #[allow(unsafe_code)] // geteuid(2)
    fn euid() -> u32 {
        // SAFETY: geteuid has no preconditions and cannot fail.
        unsafe { libc::geteuid() }
    }

    /// The judgement on an owner and mode, for user `me` (pure: tested on any mode).
    pub(super) fn of_mode(owner: u32, mode: u32, me: u32) -> Sharing {
        let bits = |group: u32, other: u32| {
            let mut out = Vec::new();
            if mode & group != 0 {
                out.push(Principal { name: "its group".to_owned(), everybody: false });
            }
            if mode & other != 0 {
                out.push(Principal { name: "every user".to_owned(), everybody: true });
            }
            out
        };
        Sharing {
            owner: (owner != me && owner != 0).then(|| format!("uid {owner}")),
            writers: bits(0o020, 0o002),
            readers: bits(0o040, 0o004),
        }
    }
}

#[cfg(windows)]
mod imp {
    use super::super::security;
    use super::*;

    pub(super) fn sharing(file: &File) -> io::Result<Sharing> {
        let (owner, dacl) = security::of_file(file)?;
        Ok(of_acl(&owner, dacl.as_deref(), &security::current_user()?))
    }
}

/// The judgement on a Windows owner and DACL (`None`: a NULL DACL), for the user `user`. Pure,
/// so it is tested on every platform; Windows reads real ones.
#[cfg_attr(not(windows), allow(dead_code))]
fn of_acl(owner: &Sid, dacl: Option<&[Allowed]>, user: &Sid) -> Sharing {
    let principals = |rights| {
        acl::others(dacl, user, rights)
            .iter()
            .map(|sid| Principal {
                name: if dacl.is_none() {
                    "everyone (the file has no access control list)".to_owned()
                } else {
                    acl::describe(sid)
                },
                everybody: sid.is_everybody(),
            })
            .collect()
    };
    Sharing {
        owner: (owner != user && !owner.is_system()).then(|| acl::describe(owner)),
        writers: principals(acl::WRITE_RIGHTS),
        readers: principals(acl::READ_RIGHTS),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn unix_modes_name_who_else_may_change_or_read() {
        use imp::of_mode;
        let private = of_mode(1000, 0o100600, 1000);
        assert_eq!(private, Sharing::default());
        assert_eq!(private.change_problem(), None);
        assert_eq!(of_mode(0, 0o100644, 1000).owner, None, "root's file: the system's");

        let s = of_mode(1000, 0o100664, 1000);
        assert_eq!(s.change_problem().as_deref(), Some("its group can change it"));
        assert!(!s.changeable_by_everybody());
        assert_eq!(s.read_problem().as_deref(), Some("its group and every user can read it"));
        assert_eq!(s.fix(Path::new("/p"), true), "chmod go-w /p");
        assert_eq!(s.fix(Path::new("/p"), false), "chmod 600 /p");

        let s = of_mode(1002, 0o100666, 1000);
        assert!(s.changeable_by_everybody());
        assert_eq!(
            s.change_problem().as_deref(),
            Some("it belongs to uid 1002 and its group and every user can change it")
        );
        assert_eq!(s.fix(Path::new("/p"), false), "chown $USER /p && chmod 600 /p");
    }

    #[test]
    fn windows_acls_are_judged_on_every_platform() {
        const FULL: u32 = 0x001F_01FF;
        const READ: u32 = 0x0012_0089;
        let (me, bob) = (Sid::new(5, &[21, 1, 2, 3, 1001]), Sid::new(5, &[21, 1, 2, 3, 1002]));
        let (system, users) = (Sid::new(5, &[18]), Sid::new(5, &[32, 545]));
        let judge = |owner: &Sid, entries: &[(u8, u8, u32, &Sid)]| {
            of_acl(owner, Some(&acl::allowed_entries(&acl::encode(entries)).unwrap()), &me)
        };
        // %USERPROFILE%'s default: the user, SYSTEM, Administrators.
        assert_eq!(judge(&me, &[(0, 0, FULL, &me), (0, 0, FULL, &system)]), Sharing::default());
        // A folder under C:\ gives Users read and Authenticated Users modify.
        let s = judge(&me, &[(0, 0, FULL, &me), (0, 0, READ, &users), (0, 0, FULL, &Sid::new(5, &[11]))]);
        assert!(s.changeable_by_everybody(), "{s:?}");
        assert_eq!(s.change_problem().as_deref(), Some("S-1-5-11 (Authenticated Users) can change it"));
        assert_eq!(
            s.read_problem().as_deref(),
            Some("S-1-5-32-545 (Users) and S-1-5-11 (Authenticated Users) can read it")
        );
        // Someone else's file, writable by that someone only: not "everybody".
        let s = judge(&bob, &[(0, 0, FULL, &bob), (0, 0, FULL, &me)]);
        assert!(!s.changeable_by_everybody());
        assert_eq!(s.change_problem().as_deref(), Some("it belongs to S-1-5-21-1-2-3-1002"));
        // A NULL DACL: everyone may do anything.
        let s = of_acl(&me, None, &me);
        assert!(s.changeable_by_everybody());
        assert_eq!(s.change_problem().as_deref(), Some("everyone (the file has no access control list) can change it"));
    }

    #[test]
    fn a_file_of_ones_own_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, "x").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        #[cfg(windows)]
        {
            let me = super::super::security::current_user().unwrap();
            if !super::super::security::set_dacl(&path, &[(0x001F_01FF, &me)]).unwrap() {
                // Wine keeps a DACL as Unix mode bits and always lets Everyone read.
                eprintln!("this Windows did not keep a private DACL; the judgement is tested on ACLs in memory");
                return;
            }
        }
        assert_eq!(sharing_of(&path).unwrap(), Sharing::default());
    }

    /// Run under Wine by `cargo xtask cross windows-tests`: real files, real DACLs. Wine keeps a
    /// DACL as Unix mode bits (the owner, and Everyone as "others"; Everyone may always read),
    /// so the cases it cannot hold are checked where the DACL set is the DACL read back.
    #[cfg(windows)]
    #[test]
    fn windows_acls_name_who_else_may_change_or_read() {
        use super::super::security::{current_user, set_dacl};
        const FULL: u32 = 0x001F_01FF;
        const READ: u32 = 0x0012_0089;
        let (me, everyone, users, bob) =
            (current_user().unwrap(), Sid::new(1, &[0]), Sid::new(5, &[32, 545]), Sid::new(5, &[21, 1, 2, 3, 1002]));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("profiles.toml");
        std::fs::write(&path, "x").unwrap();

        set_dacl(&path, &[(FULL, &me), (FULL, &everyone)]).unwrap();
        let s = sharing_of(&path).unwrap();
        assert!(s.changeable_by_everybody(), "{s:?}");
        assert_eq!(s.change_problem().as_deref(), Some("S-1-1-0 (Everyone) can change it"));
        assert!(s.fix(&path, true).starts_with("icacls \""), "{}", s.fix(&path, true));

        set_dacl(&path, &[(FULL, &me)]).unwrap();
        let s = sharing_of(&path).unwrap();
        assert_eq!(s.change_problem(), None, "{s:?}");

        if set_dacl(&path, &[(FULL, &me), (READ, &users)]).unwrap() {
            let s = sharing_of(&path).unwrap();
            assert_eq!(s.change_problem(), None, "{s:?}");
            assert_eq!(s.read_problem().as_deref(), Some("S-1-5-32-545 (Users) can read it"));
        } else {
            eprintln!("this Windows did not keep a DACL naming Users; tested on ACLs in memory");
        }
        if set_dacl(&path, &[(FULL, &me), (FULL, &bob)]).unwrap() {
            let s = sharing_of(&path).unwrap();
            assert!(!s.changeable_by_everybody());
            assert_eq!(s.change_problem().as_deref(), Some("S-1-5-21-1-2-3-1002 can change it"));
        } else {
            eprintln!("this Windows did not keep a DACL naming another user; tested on ACLs in memory");
        }
    }
}
