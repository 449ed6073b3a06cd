//! The profile file: TOML in, unvalidated tables with positions out; profiles merged on demand.
//!
//! [`ProfileFile::parse`] reads the document with `toml::de::DeTable`, which keeps the byte span
//! of every key and value; a [`LineIndex`] turns those into 1-based `line:column`, stored in each
//! entry's [`Origin`]. Parsing checks the file's *shape* (top-level keys, value types, `[defaults]`
//! keys that no flow knows); a profile's keys are checked against its flow when
//! [`ProfileFile::profile`] merges and validates it. Nothing here resolves a secret.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use brickauth_core::flow::{find, flows};
use brickauth_core::settings::COMMON_KEYS;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::error::ProfileError;
use crate::origin::Origin;
use crate::origin::Position;
use crate::profile::{Entry, Profile, flow_error};
use crate::secret::secret_of;

/// The keys allowed at the top of the file.
const TOP_LEVEL_KEYS: &[&str] = &["default_profile", "secret_storage", "defaults", "profiles"];

/// The values of the top-level `secret_storage` (any case): where the token cache keeps refresh
/// tokens, as `brickauth-cache`'s `StoragePolicy` reads them (`$BRICKAUTH_SECRET_STORAGE` wins).
pub const SECRET_STORAGE_VALUES: [&str; 4] = ["auto", "keychain", "keyring", "file"];

/// A parsed profile file: `default_profile`, the `[defaults]` table and the `[profiles.NAME]`
/// tables, each value with its position.
///
/// `Debug` shows profile and key names, never values (a literal secret may sit in the file).
pub struct ProfileFile {
    path: Arc<Path>,
    default_profile: Option<String>,
    secret_storage: Option<Entry>,
    defaults: BTreeMap<String, Entry>,
    profiles: BTreeMap<String, BTreeMap<String, Entry>>,
}

impl ProfileFile {
    /// Read and parse the file at `path`.
    ///
    /// A missing file is [`ProfileError::NotFound`], whose message says how to create one.
    pub fn load(path: &Path) -> Result<ProfileFile, ProfileError> {
        match std::fs::read_to_string(path) {
            Ok(text) => ProfileFile::parse(path, &text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(ProfileError::NotFound { path: path.into() }),
            Err(source) => Err(ProfileError::Io { path: path.into(), source }),
        }
    }

    /// Parse `text` as the profile file at `path` (used in messages and origins only).
    ///
    /// Checks the shape: top-level keys, value types (strings; integers and booleans; `scopes`
    /// may also be an array of strings), and that every `[defaults]` key is accepted by the common
    /// keys or at least one linked flow. Profiles are validated by [`ProfileFile::profile`].
    pub fn parse(path: &Path, text: &str) -> Result<ProfileFile, ProfileError> {
        let path: Arc<Path> = path.into();
        let parser = Parser { path: path.clone(), lines: LineIndex::new(text) };
        let doc = DeTable::parse(text).map_err(|e| {
            let (line, column) = parser.lines.position(e.span().map_or(0, |s| s.start));
            ProfileError::Parse { path: path.clone(), line, column, message: e.message().to_owned() }
        })?;
        let mut file = ProfileFile {
            path: path.clone(),
            default_profile: None,
            secret_storage: None,
            defaults: BTreeMap::new(),
            profiles: BTreeMap::new(),
        };
        for (key, value) in in_file_order(doc.get_ref()) {
            match key.get_ref().as_ref() {
                "default_profile" => match value.get_ref() {
                    DeValue::String(name) => file.default_profile = Some(name.to_string()),
                    _ => return Err(parser.invalid("", "default_profile", value, "expected a string: a profile name")),
                },
                "secret_storage" => {
                    let word = match value.get_ref() {
                        DeValue::String(word) => word.trim().to_ascii_lowercase(),
                        _ => String::new(),
                    };
                    if !SECRET_STORAGE_VALUES.contains(&word.as_str()) {
                        let expected = "expected \"auto\", \"keychain\", \"keyring\" or \"file\": where refresh tokens \
                                        are kept (docs/cache.md)";
                        return Err(parser.invalid("", "secret_storage", value, expected));
                    }
                    let (line, column) = parser.lines.position(key.span().start);
                    let origin = Origin::File { path: path.to_path_buf(), line, column };
                    file.secret_storage = Some(Entry { value: word, origin });
                }
                "defaults" => {
                    let table = parser.table(value, "", "defaults", "expected a table: [defaults]")?;
                    file.defaults = parser.entries(table, Scope::Defaults)?;
                    parser.check_defaults(&file.defaults)?;
                }
                "profiles" => {
                    let table = parser.table(value, "", "profiles", "expected tables: [profiles.NAME]")?;
                    for (name, value) in in_file_order(table) {
                        let name = name.get_ref().as_ref();
                        let table = parser.table(value, name, name, "expected a table: [profiles.NAME]")?;
                        let entries = parser.entries(table, Scope::Profile(name))?;
                        file.profiles.insert(name.to_owned(), entries);
                    }
                }
                other => {
                    let at = parser.lines.at(key.span().start);
                    let suggestion = brickauth_core::nearest(other, TOP_LEVEL_KEYS.iter().copied())
                        .map(str::to_owned)
                        // `[dev]` instead of `[profiles.dev]`.
                        .or_else(|| matches!(value.get_ref(), DeValue::Table(_)).then(|| format!("profiles.{other}")));
                    return Err(ProfileError::UnknownKey {
                        path: Some(path.clone()),
                        profile: None,
                        key: other.to_owned(),
                        at: Some(at),
                        suggestion,
                    });
                }
            }
        }
        Ok(file)
    }

    /// The file this was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file's `default_profile`, if set.
    pub fn default_profile(&self) -> Option<&str> {
        self.default_profile.as_deref()
    }

    /// The file's `secret_storage` (one of [`SECRET_STORAGE_VALUES`], lower case) and where it is
    /// written, if set. It holds for every profile: the token cache keeps all refresh tokens in
    /// one store.
    pub fn secret_storage(&self) -> Option<(&str, &Origin)> {
        self.secret_storage.as_ref().map(|e| (e.value.as_str(), &e.origin))
    }

    pub(crate) fn secret_storage_entry(&self) -> Option<Entry> {
        self.secret_storage.clone()
    }

    /// Every profile name, sorted.
    pub fn names(&self) -> Vec<&str> {
        self.profiles.keys().map(String::as_str).collect()
    }

    /// The profile to use when this file is the only source: the rule of [`crate::Sources::select`]
    /// (`flag`, `$BRICKAUTH_PROFILE`, `default_profile`, `$DATABRICKS_CONFIG_PROFILE`, then
    /// `default` or the only profile); merged and validated as by [`ProfileFile::profile`].
    pub fn select(&self, flag: Option<&str>) -> Result<Profile, ProfileError> {
        self.select_with(flag, &|name| std::env::var(name).ok())
    }

    /// [`ProfileFile::select`] with the environment passed in, for tests.
    pub(crate) fn select_with(
        &self,
        flag: Option<&str>,
        var: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Profile, ProfileError> {
        if let Some(name) = crate::databrickscfg::toml_choice(flag, var, self) {
            return self.profile(&name);
        }
        match crate::databrickscfg::wanted(flag, var, Some(self)) {
            // Not one of this file's: the error names the nearest.
            Some(name) => self.profile(&name),
            None => Err(ProfileError::NoProfileSelected {
                path: self.path.clone(),
                known: self.profiles.keys().cloned().collect(),
            }),
        }
    }

    /// Profile `name`: `[defaults]` merged under the profile's own table, then validated.
    ///
    /// A profile's own key wins over the same key in `[defaults]`; so does its own source of a
    /// secret over a different source of the same secret in `[defaults]` (`password_file` in the
    /// profile, `password_env` in the defaults: the file is used). `[defaults]` keys that the
    /// profile's flow does not accept are left out: the defaults serve many flows.
    pub fn profile(&self, name: &str) -> Result<Profile, ProfileError> {
        let (profile, problems) = self.profile_and_problems(name)?;
        match problems.into_iter().next() {
            Some(first) => Err(first),
            None => Ok(profile),
        }
    }

    /// Profile `name` as [`ProfileFile::profile`] builds it, with every problem it has
    /// ([`Profile::problems`]) instead of the first as an error; an error only where no profile
    /// can be built at all (no such profile, no or an unknown `flow`).
    pub fn profile_and_problems(&self, name: &str) -> Result<(Profile, Vec<ProfileError>), ProfileError> {
        let Some(own) = self.profiles.get(name) else {
            let known: Box<[String]> = self.profiles.keys().cloned().collect();
            let suggestion = brickauth_core::nearest(name, known.iter().map(String::as_str)).map(str::to_owned);
            return Err(ProfileError::UnknownProfile {
                name: name.to_owned(),
                path: self.path.clone(),
                suggestion,
                known,
            });
        };
        let Some(flow) = own.get("flow").or_else(|| self.defaults.get("flow")) else {
            // `flows()` is sorted by name.
            let known: Vec<&str> = flows().iter().map(|f| f.name).collect();
            let hint = if known.is_empty() {
                "no flows are linked into this program".to_owned()
            } else {
                format!("registered flows: {}", known.join(", "))
            };
            return Err(ProfileError::MissingKey {
                path: Some(self.path.clone()),
                profile: Some(name.to_owned()),
                key: "flow".into(),
                hint: Some(hint),
            });
        };
        let spec = find(&flow.value)
            .map_err(|e| flow_error(e, Some(self.path.clone()), name, flow.origin.position().map(|(_, at)| at)))?;

        // Which secrets the profile gives its own source for.
        let own_secrets: Vec<&str> =
            own.keys().filter_map(|k| secret_of(Some(spec), k)).map(|(base, _)| base).collect();
        let mut values: BTreeMap<String, Entry> = self
            .defaults
            .iter()
            .filter(|(key, _)| spec.accepts(key) && !own.contains_key(*key))
            .filter(|(key, _)| secret_of(Some(spec), key).is_none_or(|(base, _)| !own_secrets.contains(&base)))
            .map(|(key, entry)| (key.clone(), entry.clone()))
            .collect();
        values.extend(own.iter().map(|(key, entry)| (key.clone(), entry.clone())));
        let profile = Profile::assemble(name, Some(self.path.clone()), spec, values)
            .with_secret_storage(self.secret_storage.clone());
        let problems = profile.problems();
        Ok((profile, problems))
    }

    /// The one profile whose `host` (its own or from `[defaults]`) is `host`, for
    /// `brickauth auth token --host`.
    ///
    /// Hosts compare without scheme, path, trailing slash, `:443` and case:
    /// `https://ADB-1.2.azuredatabricks.net/` matches `adb-1.2.azuredatabricks.net`. No match or
    /// several matches are errors that list the hosts or the profiles.
    pub fn find_by_host(&self, host: &str) -> Result<Profile, ProfileError> {
        let wanted = normalize_host(host);
        let mut matches = Vec::new();
        let mut hosts = Vec::new();
        for (name, own) in &self.profiles {
            if let Some(entry) = own.get("host").or_else(|| self.defaults.get("host")) {
                hosts.push(format!("{name} ({})", entry.value));
                if normalize_host(&entry.value) == wanted {
                    matches.push(name.as_str());
                }
            }
        }
        match matches.as_slice() {
            [name] => self.profile(name),
            [] => Err(ProfileError::NoHostMatch { path: self.path.clone(), host: host.to_owned(), hosts }),
            _ => Err(ProfileError::AmbiguousHost {
                path: self.path.clone(),
                host: host.to_owned(),
                profiles: matches.iter().map(|s| (*s).to_owned()).collect(),
            }),
        }
    }
}

impl std::fmt::Debug for ProfileFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProfileFile")
            .field("path", &self.path)
            .field("default_profile", &self.default_profile)
            .field("secret_storage", &self.secret_storage.as_ref().map(|e| &e.value))
            .field("defaults", &self.defaults.keys().collect::<Vec<_>>())
            .field(
                "profiles",
                &self.profiles.iter().map(|(n, t)| (n, t.keys().collect::<Vec<_>>())).collect::<BTreeMap<_, _>>(),
            )
            .finish()
    }
}

/// `https://ADB-1.azuredatabricks.net:443/?o=1` → `adb-1.azuredatabricks.net`.
fn normalize_host(host: &str) -> String {
    let host = host.trim().to_ascii_lowercase();
    let host = host.strip_prefix("https://").or_else(|| host.strip_prefix("http://")).unwrap_or(&host);
    let host = host.split(['/', '?', '#']).next().unwrap_or_default();
    host.strip_suffix(":443").unwrap_or(host).trim_end_matches('.').to_owned()
}

/// Which table entries belong to: decides their [`Origin`] and how errors name them.
#[derive(Clone, Copy)]
enum Scope<'a> {
    Defaults,
    Profile(&'a str),
}

impl Scope<'_> {
    fn name(&self) -> &str {
        match self {
            Scope::Defaults => "[defaults]",
            Scope::Profile(name) => name,
        }
    }
}

/// Per-parse context: the path for errors and origins, and the line index for positions.
struct Parser<'a> {
    path: Arc<Path>,
    lines: LineIndex<'a>,
}

impl Parser<'_> {
    fn table<'v, 'i>(
        &self,
        value: &'v Spanned<DeValue<'i>>,
        profile: &str,
        key: &str,
        expected: &str,
    ) -> Result<&'v DeTable<'i>, ProfileError> {
        match value.get_ref() {
            DeValue::Table(table) => Ok(table),
            _ => Err(self.invalid(profile, key, value, expected)),
        }
    }

    /// A table's entries as text, each with the key's position as its origin.
    fn entries(&self, table: &DeTable<'_>, scope: Scope<'_>) -> Result<BTreeMap<String, Entry>, ProfileError> {
        let mut out = BTreeMap::new();
        for (key, value) in in_file_order(table) {
            let key_name = key.get_ref().as_ref();
            let text = self.text(value, scope, key_name)?;
            let (line, column) = self.lines.position(key.span().start);
            let path = self.path.to_path_buf();
            let origin = match scope {
                Scope::Defaults => Origin::Defaults { path, line, column },
                Scope::Profile(_) => Origin::File { path, line, column },
            };
            out.insert(key_name.to_owned(), Entry { value: text, origin });
        }
        Ok(out)
    }

    /// A value's text form: strings as they are, integers in decimal, booleans as `true`/`false`,
    /// `scopes` arrays space-joined.
    fn text(&self, value: &Spanned<DeValue<'_>>, scope: Scope<'_>, key: &str) -> Result<String, ProfileError> {
        let invalid = |at: &Spanned<DeValue<'_>>, message: &str| self.invalid(scope.name(), key, at, message);
        match value.get_ref() {
            DeValue::String(s) => Ok(s.to_string()),
            DeValue::Integer(i) => {
                Ok(i64::from_str_radix(i.as_str(), i.radix()).map_or_else(|_| i.to_string(), |n| n.to_string()))
            }
            DeValue::Boolean(b) => Ok(b.to_string()),
            DeValue::Array(items) if key == "scopes" => {
                let mut scopes = Vec::with_capacity(items.len());
                for item in items.iter() {
                    match item.get_ref() {
                        DeValue::String(s) => scopes.push(s.as_ref()),
                        _ => return Err(invalid(item, "expected a string: one scope")),
                    }
                }
                Ok(scopes.join(" "))
            }
            DeValue::Array(_) => Err(invalid(value, "expected a string; only `scopes` may be a list")),
            DeValue::Table(_) => Err(invalid(value, "expected a string, found a table (profiles do not nest)")),
            DeValue::Float(_) | DeValue::Datetime(_) => {
                Err(invalid(value, "expected a string, an integer or a boolean"))
            }
        }
    }

    /// `[defaults]` keys must be useful to somebody: the common keys or at least one linked flow.
    fn check_defaults(&self, defaults: &BTreeMap<String, Entry>) -> Result<(), ProfileError> {
        let common = |key: &str| COMMON_KEYS.iter().any(|k| k.name == key);
        for (key, entry) in in_position_order(defaults) {
            if common(key) || flows().iter().any(|f| f.accepts(key)) {
                continue;
            }
            let mut names: Vec<String> = COMMON_KEYS.iter().map(|k| k.name.to_owned()).collect();
            names.extend(flows().iter().flat_map(|f| f.key_names()));
            let suggestion = brickauth_core::nearest(key, names.iter().map(String::as_str)).map(str::to_owned);
            return Err(ProfileError::UnknownKey {
                path: Some(self.path.clone()),
                profile: Some(Scope::Defaults.name().to_owned()),
                key: key.to_owned(),
                at: entry.origin.position().map(|(_, at)| at),
                suggestion,
            });
        }
        Ok(())
    }

    /// `profile` empty: a top-level key.
    fn invalid(&self, profile: &str, key: &str, at: &Spanned<DeValue<'_>>, message: &str) -> ProfileError {
        ProfileError::InvalidValue {
            path: Some(self.path.clone()),
            profile: (!profile.is_empty()).then(|| profile.to_owned()),
            key: key.to_owned(),
            at: Some(self.lines.at(at.span().start)),
            message: message.to_owned(),
        }
    }
}

/// A table's entries in the order they appear in the file, so the first error reported is the
/// first one in the file (`DeTable` iterates in key order).
fn in_file_order<'t, 'i>(
    table: &'t DeTable<'i>,
) -> Vec<(&'t Spanned<std::borrow::Cow<'i, str>>, &'t Spanned<DeValue<'i>>)> {
    let mut items: Vec<_> = table.iter().collect();
    items.sort_by_key(|(key, _)| key.span().start);
    items
}

fn in_position_order(entries: &BTreeMap<String, Entry>) -> Vec<(&str, &Entry)> {
    let mut items: Vec<(&str, &Entry)> = entries.iter().map(|(k, e)| (k.as_str(), e)).collect();
    items.sort_by_key(|(_, e)| e.origin.position().map(|(_, at)| at));
    items
}

/// Byte offsets → 1-based line and column (in characters).
pub(crate) struct LineIndex<'t> {
    text: &'t str,
    /// Byte offset at which each line starts.
    starts: Vec<usize>,
}

impl<'t> LineIndex<'t> {
    pub(crate) fn new(text: &'t str) -> Self {
        let starts = std::iter::once(0).chain(text.match_indices('\n').map(|(i, _)| i + 1)).collect();
        LineIndex { text, starts }
    }

    /// [`LineIndex::position`] as a [`Position`].
    pub(crate) fn at(&self, offset: usize) -> Position {
        let (line, column) = self.position(offset);
        Position::new(line, Some(column))
    }

    pub(crate) fn position(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        // `starts[0] == 0 <= offset`, so at least one line start precedes the offset.
        let line = self.starts.partition_point(|&start| start <= offset).max(1);
        let start = self.starts.get(line - 1).copied().unwrap_or(0);
        let column = self.text.get(start..offset).map_or(offset - start, |s| s.chars().count());
        (line, column + 1)
    }
}
