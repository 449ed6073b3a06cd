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
            // Both sources: the TOML file's profiles, then the `~/.databrickscfg` sections that no
            // TOML profile hides; the last column says which file each comes from.
            let sources = cx.sources()?;
            if sources.toml.is_none() && sources.databrickscfg.is_none() {
                cx.file()?; // "no profile file here", with how to create one
            }
            let default = sources.toml.as_ref().and_then(|f| f.default_profile());
            let mut out = String::new();
            for (name, result) in sources.list() {
                let mark = if default == Some(name.as_str()) { "*" } else { " " };
                let from = match &result {
                    Ok(p) => p.path().map(brickauth_profile::display_path).unwrap_or_default(),
                    Err(_) => String::new(),
                };
                match result {
                    Ok(p) => out.push_str(&format!(
                        "{mark} {name:<20} {:<20} {:<56} {from}\n",
                        p.flow().name,
                        p.get("host").unwrap_or("-")
                    )),
                    Err(e) => out.push_str(&format!("{mark} {name:<20} (invalid: {e})\n")),
                }
            }
            print(&out)
        }
        ProfilesCommand::Import(args) => super::databrickscfg::import(cx, args),
        ProfilesCommand::Export(args) => super::databrickscfg::export(cx, args),
        ProfilesCommand::Show { name } => {
            // What every command would use: the same selection and overrides (--flow, --host,
            // $DATABRICKS_HOST), so the origins shown are the precedence applied.
            let profile = match name {
                Some(n) if cx.flow.is_none() => {
                    let mut p = cx.sources()?.named(n)?;
                    cx.overrides(&mut p);
                    p
                }
                _ => cx.profile(None)?,
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
                Err(Reported { code: 2, message: format!("invalid profiles: {}", failures.join(", ")) }.into())
            }
        }
    }
}
