//! List a workspace's clusters with a fixed token.
//!
//! ```sh
//! DATABRICKS_HOST=https://adb-1234567890123456.7.azuredatabricks.net \
//! DATABRICKS_TOKEN=$(brickauth token) \
//! cargo run -p brickauth-databricks --example list_clusters
//! ```
//!
//! An embedding program that wants tokens refreshed for it passes brickauth's `TokenProvider`
//! (from `brickauth-cache`) instead of `StaticToken`: anything implementing
//! `brickauth_core::TokenSource` will do.

use std::sync::Arc;

use brickauth_core::StaticToken;
use brickauth_databricks::{ListOptions, ResourceId, WorkspaceClient};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let host = std::env::var("DATABRICKS_HOST").map_err(|_| "set DATABRICKS_HOST to the workspace URL")?;
    let token = std::env::var("DATABRICKS_TOKEN").map_err(|_| "set DATABRICKS_TOKEN to an access token")?;

    let mut client = WorkspaceClient::new(&host, Arc::new(StaticToken::bearer(token)))?;
    if let Ok(id) = std::env::var("DATABRICKS_AZURE_RESOURCE_ID") {
        client = client.with_resource_id(ResourceId::parse(&id)?);
    }

    let mut pages = client.clusters().list(ListOptions { page_size: Some(100), ..ListOptions::default() });
    let mut count = 0usize;
    while let Some(page) = pages.next_page().await? {
        for c in page {
            count += 1;
            println!(
                "{:<24} {:<32} {:<12} {}",
                c.cluster_id.as_deref().unwrap_or("-"),
                c.cluster_name.as_deref().unwrap_or("-"),
                c.state.as_deref().unwrap_or("-"),
                c.workers()
            );
        }
    }
    eprintln!("{count} clusters");
    Ok(())
}
