//! Windows owners and DACLs, on bytes: a SID and an ACL in their binary form (as Windows lays
//! them out in memory), judged without calling Windows. Compiled on every platform, so the
//! rules are tested everywhere; on Windows, `file::security` (Windows only) reads real ones.
//!
//! Two judgements: [`problem`], the token cache's strict rule (the user's own, nobody else may
//! write), and [`others`], who besides the user may write or read (the profile file, `*_file`
//! secrets, private keys: see [`super::Sharing`]).

use std::fmt;

/// A security identifier in its binary form (revision, sub-authority count, 6-byte identifier
/// authority, sub-authorities little-endian).
#[derive(Clone, PartialEq, Eq)]
pub struct Sid(Vec<u8>);

/// NT AUTHORITY\SYSTEM, S-1-5-18.
pub const SYSTEM: [u8; 12] = [1, 1, 0, 0, 0, 0, 0, 5, 18, 0, 0, 0];
/// BUILTIN\Administrators, S-1-5-32-544.
pub const ADMINISTRATORS: [u8; 16] = [1, 2, 0, 0, 0, 0, 0, 5, 32, 0, 0, 0, 0x20, 0x02, 0, 0];

/// Rights that let a holder change a file or directory, or its entries, owner or ACL.
/// `FILE_DELETE_CHILD` (0x40) matters for a directory: it lets the holder remove any entry.
pub const WRITE_RIGHTS: u32 = 0x0002 // FILE_WRITE_DATA (FILE_ADD_FILE)
    | 0x0004 // FILE_APPEND_DATA (FILE_ADD_SUBDIRECTORY)
    | 0x0040 // FILE_DELETE_CHILD
    | 0x0001_0000 // DELETE
    | 0x0004_0000 // WRITE_DAC
    | 0x0008_0000 // WRITE_OWNER
    | 0x1000_0000 // GENERIC_ALL
    | 0x4000_0000; // GENERIC_WRITE

/// Rights that let a holder read a file's contents.
pub const READ_RIGHTS: u32 = 0x0001 // FILE_READ_DATA
    | 0x1000_0000 // GENERIC_ALL
    | 0x8000_0000; // GENERIC_READ

const ACCESS_ALLOWED_ACE_TYPE: u8 = 0;
const INHERIT_ONLY_ACE: u8 = 0x08;

impl Sid {
    /// The SID at the start of `bytes`, if they hold a well-formed one.
    pub fn parse(bytes: &[u8]) -> Option<Sid> {
        let count = usize::from(*bytes.get(1)?);
        let len = 8 + 4 * count;
        (bytes.first() == Some(&1) && bytes.len() >= len).then(|| Sid(bytes[..len].to_vec()))
    }

    /// The SID `S-1-{authority}-{subs…}`: `Sid::new(1, &[0])` is Everyone.
    pub fn new(authority: u8, subs: &[u32]) -> Sid {
        let mut b = vec![1, subs.len() as u8, 0, 0, 0, 0, 0, authority];
        for s in subs {
            b.extend_from_slice(&s.to_le_bytes());
        }
        Sid(b)
    }

    /// The binary form.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// SYSTEM or Administrators: principals that can take any file anyway, so their access
    /// is no exposure.
    pub fn is_system(&self) -> bool {
        self.0 == SYSTEM || self.0 == ADMINISTRATORS
    }

    /// A group that stands for every user of the machine (Everyone, Authenticated Users, Users,
    /// Guests, Anonymous, logged-on users, console logons): the Windows counterpart of Unix's
    /// "others" permission bits.
    pub fn is_everybody(&self) -> bool {
        matches!(
            self.to_string().as_str(),
            "S-1-1-0" | "S-1-5-11" | "S-1-5-32-545" | "S-1-5-32-546" | "S-1-5-7" | "S-1-5-4" | "S-1-2-0" | "S-1-2-1"
        )
    }

    /// A well-known name for the SIDs an error is likely to show.
    fn name(&self) -> Option<&'static str> {
        match self.to_string().as_str() {
            "S-1-1-0" => Some("Everyone"),
            "S-1-5-11" => Some("Authenticated Users"),
            "S-1-5-32-545" => Some("Users"),
            "S-1-5-32-546" => Some("Guests"),
            "S-1-5-7" => Some("Anonymous"),
            "S-1-5-4" => Some("logged-on users"),
            "S-1-2-0" => Some("LOCAL"),
            "S-1-2-1" => Some("CONSOLE LOGON"),
            _ => None,
        }
    }
}

impl fmt::Display for Sid {
    /// The string form, `S-1-5-21-…`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = &self.0;
        let authority = b[2..8].iter().fold(0u64, |acc, &x| (acc << 8) | u64::from(x));
        write!(f, "S-{}-{authority}", b[0])?;
        for sub in b[8..].chunks_exact(4) {
            write!(f, "-{}", u32::from_le_bytes([sub[0], sub[1], sub[2], sub[3]]))?;
        }
        Ok(())
    }
}

impl fmt::Debug for Sid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

/// One access-allowed entry of a DACL that applies to the object itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allowed {
    /// Who.
    pub sid: Sid,
    /// The rights granted.
    pub mask: u32,
}

/// The access-allowed entries of the ACL `bytes` (header, then entries) that apply to the
/// object itself (inherit-only entries skipped), or `None` when the ACL is malformed. Deny
/// and other entry types are ignored: the rule below only ever refuses, so ignoring a deny
/// can refuse a DACL that is safe, never pass one that is not.
pub fn allowed_entries(bytes: &[u8]) -> Option<Vec<Allowed>> {
    let size = usize::from(u16::from_le_bytes([*bytes.get(2)?, *bytes.get(3)?]));
    let count = u16::from_le_bytes([*bytes.get(4)?, *bytes.get(5)?]);
    let acl = bytes.get(..size)?;
    let mut at = 8;
    let mut out = Vec::new();
    for _ in 0..count {
        let header = acl.get(at..at + 4)?;
        let (kind, flags) = (header[0], header[1]);
        let len = usize::from(u16::from_le_bytes([header[2], header[3]]));
        let ace = acl.get(at..at + len).filter(|_| len >= 4)?;
        if kind == ACCESS_ALLOWED_ACE_TYPE && flags & INHERIT_ONLY_ACE == 0 {
            let mask = u32::from_le_bytes(ace.get(4..8)?.try_into().ok()?);
            out.push(Allowed { sid: Sid::parse(ace.get(8..)?)?, mask });
        }
        at += len;
    }
    Some(out)
}

/// What is wrong with an object owned by `owner` whose DACL is `dacl` (`None`: a NULL DACL,
/// which grants everyone everything) for the user `user`, or `None` when nothing is: it must
/// be the user's, and no one but the user, SYSTEM and Administrators may write it.
pub fn problem(owner: &Sid, dacl: Option<&[Allowed]>, user: &Sid) -> Option<String> {
    if owner != user {
        return Some(format!("it belongs to {}, not to you ({user})", describe(owner)));
    }
    let Some(dacl) = dacl else {
        return Some("it has no access control list (a NULL DACL): everyone can change it".to_owned());
    };
    let writers: Vec<String> = others(Some(dacl), user, WRITE_RIGHTS).iter().map(describe).collect();
    if writers.is_empty() {
        None
    } else {
        Some(format!("its access control list lets others than you change it: {}", writers.join(", ")))
    }
}

/// Whom besides `user`, SYSTEM and Administrators the DACL `dacl` grants any of `rights`, each
/// once, in the DACL's order; `None` is a NULL DACL, which grants everyone everything (Everyone
/// is returned).
pub fn others(dacl: Option<&[Allowed]>, user: &Sid, rights: u32) -> Vec<Sid> {
    let Some(dacl) = dacl else { return vec![Sid::new(1, &[0])] };
    let mut out: Vec<Sid> = Vec::new();
    for e in dacl {
        if e.mask & rights != 0 && &e.sid != user && !e.sid.is_system() && !out.contains(&e.sid) {
            out.push(e.sid.clone());
        }
    }
    out
}

/// The SID with its well-known name, if any: `S-1-1-0 (Everyone)`.
pub fn describe(sid: &Sid) -> String {
    match sid.name() {
        Some(name) => format!("{sid} ({name})"),
        None => sid.to_string(),
    }
}

/// An ACL in its binary form, from `(entry type, entry flags, mask, sid)` entries (type 0:
/// access allowed, 1: access denied): how tests here and in other crates build one to judge or
/// to set on a file.
#[doc(hidden)]
pub fn encode(entries: &[(u8, u8, u32, &Sid)]) -> Vec<u8> {
    let mut body = Vec::new();
    for (kind, flags, mask, sid) in entries {
        let len = (8 + sid.0.len()) as u16;
        body.extend_from_slice(&[*kind, *flags]);
        body.extend_from_slice(&len.to_le_bytes());
        body.extend_from_slice(&mask.to_le_bytes());
        body.extend_from_slice(&sid.0);
    }
    let mut out = vec![2, 0];
    out.extend_from_slice(&((8 + body.len()) as u16).to_le_bytes());
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(&body);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sid(authority: u8, subs: &[u32]) -> Sid {
        Sid::new(authority, subs)
    }

    fn acl(entries: &[(u8, u8, u32, &Sid)]) -> Vec<u8> {
        encode(entries)
    }

    const FULL: u32 = 0x001F_01FF; // FILE_ALL_ACCESS
    const READ: u32 = 0x0012_0089; // FILE_GENERIC_READ
    const WRITE: u32 = 0x0012_0116; // FILE_GENERIC_WRITE

    fn me() -> Sid {
        sid(5, &[21, 1, 2, 3, 1001])
    }

    #[test]
    fn sids_print_in_their_string_form() {
        assert_eq!(Sid(SYSTEM.to_vec()).to_string(), "S-1-5-18");
        assert_eq!(Sid(ADMINISTRATORS.to_vec()).to_string(), "S-1-5-32-544");
        assert_eq!(me().to_string(), "S-1-5-21-1-2-3-1001");
        assert_eq!(Sid::parse(&[1, 2, 0, 0]), None, "truncated");
        assert_eq!(Sid::parse(&[9, 0, 0, 0, 0, 0, 0, 1]), None, "unknown revision");
    }

    /// What %LOCALAPPDATA% gives a new file: the user, SYSTEM and Administrators in full,
    /// plus an inherit-only CREATOR OWNER entry and a read-only entry for Users.
    #[test]
    fn the_default_private_acl_passes() {
        let (system, admins) = (Sid(SYSTEM.to_vec()), Sid(ADMINISTRATORS.to_vec()));
        let creator_owner = sid(3, &[0]);
        let users = sid(5, &[32, 545]);
        let bytes = acl(&[
            (0, 0, FULL, &me()),
            (0, 0x10, FULL, &system),
            (0, 0x10, FULL, &admins),
            (0, 0x0B, FULL, &creator_owner),
            (0, 0, READ, &users),
            (1, 0, WRITE, &users), // a deny entry: ignored
        ]);
        let entries = allowed_entries(&bytes).unwrap();
        assert_eq!(entries.len(), 4, "the inherit-only and deny entries are skipped: {entries:?}");
        assert_eq!(problem(&me(), Some(&entries), &me()), None);
    }

    #[test]
    fn write_access_for_anyone_else_is_a_problem() {
        let everyone = sid(1, &[0]);
        for mask in [WRITE, FULL, 0x4000_0000, 0x1000_0000, 0x0004_0000, 0x0008_0000, 0x0001_0000, 0x40, 0x2, 0x4] {
            let entries = allowed_entries(&acl(&[(0, 0, FULL, &me()), (0, 0, mask, &everyone)])).unwrap();
            let p = problem(&me(), Some(&entries), &me()).unwrap_or_else(|| panic!("mask {mask:#x} passed"));
            assert!(p.contains("S-1-1-0 (Everyone)") && p.contains("others than you"), "{p}");
        }
        let other = sid(5, &[21, 1, 2, 3, 1002]);
        let entries = allowed_entries(&acl(&[(0, 0, WRITE, &other)])).unwrap();
        let p = problem(&me(), Some(&entries), &me()).unwrap();
        assert!(p.contains("S-1-5-21-1-2-3-1002"), "{p}");
    }

    #[test]
    fn another_owner_and_a_null_dacl_are_problems() {
        let other = sid(5, &[21, 1, 2, 3, 1002]);
        let p = problem(&other, Some(&[]), &me()).unwrap();
        assert!(p.contains("belongs to S-1-5-21-1-2-3-1002, not to you (S-1-5-21-1-2-3-1001)"), "{p}");
        // Administrators owning it is not enough either: the owner must be the user.
        assert!(problem(&Sid(ADMINISTRATORS.to_vec()), Some(&[]), &me()).is_some());
        let p = problem(&me(), None, &me()).unwrap();
        assert!(p.contains("NULL DACL") && p.contains("everyone"), "{p}");
    }

    #[test]
    fn a_malformed_acl_is_rejected_not_misread() {
        let bytes = acl(&[(0, 0, FULL, &me())]);
        assert_eq!(allowed_entries(&bytes[..bytes.len() - 1]), None, "shorter than its size");
        let mut bad = bytes.clone();
        bad[10] = 0; // the entry's size
        bad[11] = 0;
        assert_eq!(allowed_entries(&bad), None, "an entry of size 0");
        let mut more = bytes;
        more[4] = 2; // two entries claimed, one present
        assert_eq!(allowed_entries(&more), None);
    }
}
