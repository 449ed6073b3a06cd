//! `brickauth flows`: what the registry holds, sorted by name.

use std::process::ExitCode;

use anyhow::Result;
use brickauth_core::flow;
use brickauth_core::settings::SECRET_SUFFIXES;
use serde_json::json;

use crate::output::{ListFormat, print};

/// `brickauth flows`.
#[derive(Debug, clap::Args)]
pub struct FlowsArgs {
    /// Output format
    #[arg(short, long, value_enum, default_value_t)]
    pub output: ListFormat,
}

pub fn run(args: &FlowsArgs) -> Result<ExitCode> {
    let dups = flow::duplicates();
    if !dups.is_empty() {
        anyhow::bail!("flow names registered twice: {}", dups.join(", "));
    }
    let specs = flow::flows();
    match args.output {
        ListFormat::Json => {
            let v: Vec<_> = specs
                .iter()
                .map(|s| {
                    json!({
                        "name": s.name,
                        "aliases": s.aliases,
                        "summary": s.summary,
                        "interactive": s.interactive,
                        "keys": s.keys.iter().map(|k| json!({
                            "name": k.name, "required": k.required, "secret": k.secret, "help": k.help,
                            "one_of": k.one_of, "default": k.default,
                        })).collect::<Vec<_>>(),
                    })
                })
                .collect();
            print(&format!("{}\n", serde_json::to_string_pretty(&v)?))
        }
        ListFormat::Text => {
            let mut out = String::new();
            for s in specs {
                out.push_str(s.name);
                if !s.aliases.is_empty() {
                    out.push_str(&format!(" (aliases: {})", s.aliases.join(", ")));
                }
                if s.interactive {
                    out.push_str(" [interactive]");
                }
                out.push_str(&format!("\n    {}\n", s.summary));
                for k in s.keys {
                    let req = match (k.required, k.one_of, k.default) {
                        (true, _, _) => "required".to_owned(),
                        (false, Some(group), _) => format!("{group}: exactly one of these"),
                        (false, None, Some(default)) => format!("optional, default {default}"),
                        (false, None, None) => "optional".to_owned(),
                    };
                    let name = if k.secret {
                        format!(
                            "{} | {}",
                            k.name,
                            SECRET_SUFFIXES.iter().map(|x| format!("{}{x}", k.name)).collect::<Vec<_>>().join(" | ")
                        )
                    } else {
                        k.name.to_owned()
                    };
                    out.push_str(&format!("    {name} ({req}): {}\n", k.help));
                }
                out.push('\n');
            }
            out.push_str("Every profile also takes: ");
            out.push_str(&brickauth_core::settings::COMMON_KEYS.iter().map(|k| k.name).collect::<Vec<_>>().join(", "));
            out.push('\n');
            print(&out)
        }
    }
}
