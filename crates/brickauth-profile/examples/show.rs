//! Print the entries of a profile file's default profile, with where each value came from.
//!
//! ```text
//! cargo run -p brickauth-profile --example show -- path/to/profiles.toml [PROFILE]
//! ```
//!
//! The profile is chosen as the CLI chooses it: the second argument, else `$BRICKAUTH_PROFILE`,
//! else the file's `default_profile`, else `default`. Only flows linked into this program are
//! known: this example links none, so a profile naming a flow is reported as an unknown flow
//! unless an embedding program links flow crates (the `brickauth` binary links them all through
//! `brickauth-flows`). Secrets are never resolved here; literal ones print as `<redacted>`.

use std::path::PathBuf;
use std::process::ExitCode;

use brickauth_profile::ProfileFile;

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    let Some(path) = args.next().map(PathBuf::from) else {
        eprintln!("usage: show PROFILES.TOML [PROFILE]");
        return ExitCode::from(2);
    };
    let name = args.next().map(|n| n.to_string_lossy().into_owned());

    let file = match ProfileFile::load(&path) {
        Ok(file) => file,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    println!("profiles: {}", file.names().join(", "));
    match file.select(name.as_deref()) {
        Ok(profile) => {
            println!("[{}] flow {}", profile.name(), profile.flow().name);
            for (key, value, origin) in profile.entries() {
                println!("  {key} = {value}    # {origin}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
