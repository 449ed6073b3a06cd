//! `ProfileFile::parse` on arbitrary UTF-8, then every profile it names is selected and
//! validated, and shown the way `profiles show` does. Two flows are linked (`password`,
//! `refresh-token`) so profiles naming them are checked key by key; any other `flow` value
//! takes the unknown-flow ("nearest name") error path.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    brickauth_flow_password::link();
    brickauth_flow_refresh_token::link();
    let Ok(file) = brickauth_profile::ProfileFile::parse(Path::new("fuzz.toml"), text) else {
        return;
    };
    let _ = file.default_profile();
    let _ = file.select(None).map(|p| p.entries());
    for name in file.names() {
        if let Ok(profile) = file.profile(name) {
            let _ = profile.validate();
            let _ = profile.entries();
        }
    }
    let _ = file.find_by_host("https://adb-1.2.azuredatabricks.net");
});
