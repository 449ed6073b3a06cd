//! `brickauth whoami [-o text|json]`: the signed-in identity as the workspace sees it (SCIM Me).

use std::process::ExitCode;

use anyhow::Result;
use brickauth_core::text::ServerText;
use clap::Args;

use crate::context::{self, Context};
use crate::output::{ListFormat, print};

/// `brickauth whoami`.
#[derive(Debug, Args)]
pub struct WhoamiArgs {
    /// Output format: the user name (text), or the SCIM Me fields as JSON
    #[arg(short, long, value_enum, default_value_t)]
    pub output: ListFormat,
}

/// `brickauth whoami`.
pub fn run(cx: &Context, args: &WhoamiArgs) -> Result<ExitCode> {
    let (client, profile) = cx.client()?;
    let me = context::run(&profile, async { Ok(client.current_user().await?) })?;
    if args.output == ListFormat::Json {
        // Exact, as the workspace sent it: JSON escapes what a terminal would act on.
        return print(&format!("{}\n", serde_json::to_string_pretty(&me)?));
    }
    // What the server says is shown cleaned: a user or display name is not a terminal command.
    let clean = ServerText::new([]);
    let mut text = me.user_name.as_deref().map(|u| clean.clean(u)).unwrap_or_else(|| "(no userName)".to_owned());
    if let Some(name) = me.display_name.as_deref().filter(|n| !n.is_empty()) {
        text.push_str(&format!(" ({})", clean.clean(name)));
    }
    text.push('\n');
    eprintln!(
        "workspace {} · user id {} · profile `{}`",
        client.host(),
        clean.clean(me.id.as_deref().unwrap_or("?")),
        profile.name()
    );
    print(&text)
}
