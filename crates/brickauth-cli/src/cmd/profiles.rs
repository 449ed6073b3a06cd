//! `brickauth profiles list | show | validate`.

use std::process::ExitCode;

use anyhow::Result;
use brickauth_core::Settings;

use crate::cli::ProfilesCommand;
use crate::cmd::print;
use crate::context::Context;
use crate::report::Reported;

pub fn profiles(cx: &Context, c: &ProfilesCommand) -> Result<ExitCode> {
    match c {
        ProfilesCommand::List => {
            let file = cx.file()?;
            let mut out = String::new();
            for name in file.names() {
                let mark = if file.default_profile() == Some(name) { "*" } else { " " };
                match file.profile(name) {
                    Ok(p) => out.push_str(&format!(
                        "{mark} {name:<20} {:<20} {}\n",
                        p.flow().name,
                        p.get("host").unwrap_or("-")
                    )),
                    Err(e) => out.push_str(&format!("{mark} {name:<20} (invalid: {e})\n")),
                }
            }
            print(&out)
        }
        ProfilesCommand::Show { name, flow } => {
            let profile = match (name, flow) {
                (_, Some(f)) => cx.profile(Some(f))?,
                (Some(n), None) => cx.file()?.profile(n)?,
                (None, None) => cx.profile(None)?,
            };
            let mut out = format!("[{}]\n", profile.name());
            let entries = profile.entries();
            let width = entries.iter().map(|(k, v, _)| k.len() + v.to_string().len() + 3).max().unwrap_or(0);
            for (key, value, origin) in entries {
                let kv = format!("{key} = {value}");
                out.push_str(&format!("{kv:<width$}  # {origin}\n"));
            }
            print(&out)
        }
        ProfilesCommand::Validate { name } => {
            let file = cx.file()?;
            let names: Vec<String> = match name {
                Some(n) => vec![n.clone()],
                None => file.names().into_iter().map(str::to_owned).collect(),
            };
            let mut failures = Vec::new();
            let mut out = String::new();
            for n in &names {
                let result = file.profile(n).map_err(anyhow::Error::from).and_then(|p| {
                    brickauth_core::flow::app_config(&p)?;
                    Ok(p)
                });
                match result {
                    Ok(p) => out.push_str(&format!("ok       {n} ({})\n", p.flow().name)),
                    Err(e) => {
                        out.push_str(&format!("invalid  {n}: {e}\n"));
                        failures.push(n.clone());
                    }
                }
            }
            print(&out)?;
            if failures.is_empty() {
                Ok(ExitCode::SUCCESS)
            } else {
                Err(Reported::usage(format!("invalid profiles: {}", failures.join(", "))).into())
            }
        }
    }
}
