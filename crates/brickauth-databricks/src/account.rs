//! Account and unified hosts: what a Databricks host serves, and what it says about itself.
//!
//! Three kinds of host, as the Databricks SDKs tell them apart ([`HostType`]):
//!
//! - a **workspace** host (`https://adb-<id>.<n>.azuredatabricks.net`): workspace APIs;
//! - an **account** host (`https://accounts.azuredatabricks.net`, and the national clouds'
//!   `accounts.databricks.azure.us`, `accounts.databricks.azure.cn`; the SDKs' rule is any host
//!   starting `accounts.` or `accounts-dod.`): account APIs under
//!   `/api/2.0/accounts/{account_id}/…`, for which a profile needs `account_id`;
//! - a **unified** host: both levels on one host; a workspace call names its workspace in the
//!   `X-Databricks-Workspace-Id` header ([`WORKSPACE_ID_HEADER`]).
//!
//! All three take the same Entra token for the AzureDatabricks resource.
//!
//! A host may describe itself at `GET {host}/.well-known/databricks-config` (no token needed):
//! `{"account_id", "workspace_id", "cloud", "host_type", "oidc_endpoint", …}`.
//! [`fetch_host_metadata`] asks once (`Ok(None)` on 404: hosts that do not offer it); the caller
//! remembers the answer (`brickauth_cache::HostMemory`) and reads it with [`HostMetadata::parse`],
//! which keeps only the fields brickauth uses, each validated (a malformed id is dropped, never
//! sent). Values a profile sets always win over what the host says.

use brickauth_core::{AccountId, WorkspaceId};
use serde_json::Value;

use crate::Result;
use crate::error::DatabricksError;

/// The header that names the workspace of a workspace-level call on a unified host.
pub const WORKSPACE_ID_HEADER: &str = "X-Databricks-Workspace-Id";

/// Where a host describes itself.
pub const HOST_METADATA_PATH: &str = "/.well-known/databricks-config";

/// The largest host-metadata answer read (a real one is a few hundred bytes).
pub const HOST_METADATA_LIMIT: usize = 64 * 1024;

/// The path prefix of the account-level APIs.
pub const ACCOUNTS_PATH: &str = "/api/2.0/accounts/";

/// What APIs a host serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostType {
    /// Workspace-level APIs only.
    Workspace,
    /// Account-level APIs only (`accounts.azuredatabricks.net`).
    Account,
    /// Both, on one host; workspace calls carry `X-Databricks-Workspace-Id`.
    Unified,
}

impl HostType {
    /// The type the URL alone suggests, as the SDKs infer it without metadata: an `accounts.` or
    /// `accounts-dod.` host is an account host, anything else a workspace host. `host` is a
    /// normalised URL (`https://…`) or a bare host name.
    pub fn from_url(host: &str) -> HostType {
        let host = host.trim().to_ascii_lowercase();
        let name = host.split_once("://").map_or(host.as_str(), |(_, rest)| rest);
        if name.starts_with("accounts.") || name.starts_with("accounts-dod.") {
            HostType::Account
        } else {
            HostType::Workspace
        }
    }

    /// A metadata `host_type` value: `workspace`, `account` or `unified` in any case (also the
    /// SDKs' `WORKSPACE_HOST`, `ACCOUNT_HOST`, `UNIFIED_HOST`); `None` for anything else.
    pub fn parse(s: &str) -> Option<HostType> {
        match s.trim().to_ascii_lowercase().trim_end_matches("_host") {
            "workspace" => Some(HostType::Workspace),
            "account" | "accounts" => Some(HostType::Account),
            "unified" => Some(HostType::Unified),
            _ => None,
        }
    }

    /// How messages name it.
    pub fn as_str(self) -> &'static str {
        match self {
            HostType::Workspace => "workspace",
            HostType::Account => "account",
            HostType::Unified => "unified",
        }
    }
}

/// What a host said about itself, the fields brickauth uses, validated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostMetadata {
    /// The account the host belongs to.
    pub account_id: Option<AccountId>,
    /// The workspace the host serves (a workspace or unified host).
    pub workspace_id: Option<WorkspaceId>,
    /// The cloud (`Azure`, `AWS`, `GCP`), as the host spells it.
    pub cloud: Option<String>,
    /// What the host serves.
    pub host_type: Option<HostType>,
}

impl HostMetadata {
    /// The fields of a `/.well-known/databricks-config` answer. Lenient as the SDKs are: a
    /// missing or malformed field is left out (a malformed id with a warning), never an error.
    pub fn parse(v: &Value) -> HostMetadata {
        let text = |key: &str| v.get(key).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty());
        let id = |key: &str| {
            // Numbers too: a workspace id is often sent as one.
            text(key).map(str::to_owned).or_else(|| v.get(key).and_then(Value::as_u64).map(|n| n.to_string()))
        };
        let account_id = text("account_id")
            .and_then(|a| a.parse::<AccountId>().map_err(|e| tracing::warn!("host metadata: {e}; ignored")).ok());
        let workspace_id = id("workspace_id")
            .and_then(|w| w.parse::<WorkspaceId>().map_err(|e| tracing::warn!("host metadata: {e}; ignored")).ok());
        let cloud = text("cloud")
            .filter(|c| c.len() <= 32 && c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
            .map(str::to_owned);
        HostMetadata { account_id, workspace_id, cloud, host_type: text("host_type").and_then(HostType::parse) }
    }
}

/// `GET {host}/.well-known/databricks-config`: the host's JSON description, `Ok(None)` when it
/// answers 404 (it offers none). One request, no token, no retry; the answer read up to
/// [`HOST_METADATA_LIMIT`]. Any other status, or a body that is not a JSON object, is an error
/// (the caller goes on without metadata).
pub async fn fetch_host_metadata(http: &reqwest::Client, host: &str) -> Result<Option<Value>> {
    let base = crate::client::normalise_host(host)?;
    let url = format!("{}{HOST_METADATA_PATH}", base.as_str().trim_end_matches('/'));
    let transport = |e: reqwest::Error| DatabricksError::Transport { url: url.clone(), message: e.to_string() };
    let mut resp = http.get(&url).header("Accept", "application/json").send().await.map_err(transport)?;
    let status = resp.status().as_u16();
    if status == 404 {
        return Ok(None);
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(transport)? {
        body.extend_from_slice(&chunk);
        if body.len() > HOST_METADATA_LIMIT {
            return Err(DatabricksError::Decode {
                url,
                message: format!("the answer is larger than {HOST_METADATA_LIMIT} bytes"),
            });
        }
    }
    if !(200..300).contains(&status) {
        return Err(DatabricksError::Decode { url, message: format!("HTTP {status}") });
    }
    match serde_json::from_slice::<Value>(&body) {
        Ok(v @ Value::Object(_)) => Ok(Some(v)),
        Ok(_) => Err(DatabricksError::Decode { url, message: "not a JSON object".into() }),
        Err(e) => Err(DatabricksError::undecodable(url, &body, &e)),
    }
}

/// Whether `path` is an account-level API path (`/api/2.0/accounts/…`).
pub fn is_account_path(path: &str) -> bool {
    path.trim().starts_with(ACCOUNTS_PATH)
}

/// `path` with every `{account_id}` replaced by `account`.
pub fn fill_account_id(path: &str, account: &AccountId) -> String {
    path.replace(ACCOUNT_ID_PLACEHOLDER, account.as_str())
}

/// The placeholder [`fill_account_id`] replaces.
pub const ACCOUNT_ID_PLACEHOLDER: &str = "{account_id}";

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn host_types_from_urls_as_the_sdks_infer_them() {
        for account in [
            "https://accounts.azuredatabricks.net",
            "accounts.azuredatabricks.net",
            "https://ACCOUNTS.databricks.azure.us/",
            "https://accounts.databricks.azure.cn",
            "https://accounts-dod.cloud.databricks.mil",
        ] {
            assert_eq!(HostType::from_url(account), HostType::Account, "{account}");
        }
        for ws in
            ["https://adb-1.2.azuredatabricks.net", "https://myaccounts.azuredatabricks.net", "http://127.0.0.1:1"]
        {
            assert_eq!(HostType::from_url(ws), HostType::Workspace, "{ws}");
        }
        // The national clouds' account hosts sign in to their own cloud's Entra.
        use brickauth_core::Cloud;
        for (host, cloud) in [
            ("https://accounts.azuredatabricks.net", Cloud::Public),
            ("https://accounts.databricks.azure.us", Cloud::UsGov),
            ("https://accounts.databricks.azure.cn", Cloud::China),
        ] {
            assert_eq!(Cloud::from_workspace_host(host), Some(cloud), "{host}");
        }
        assert_eq!(HostType::parse("UNIFIED"), Some(HostType::Unified));
        assert_eq!(HostType::parse("account_host"), Some(HostType::Account));
        assert_eq!(HostType::parse("spaceship"), None);
    }

    #[test]
    fn metadata_keeps_valid_fields_and_drops_malformed_ones() {
        let m = HostMetadata::parse(&json!({
            "account_id": "0D1E2F3A-4b5c-6d7e-8f90-a1b2c3d4e5f6",
            "workspace_id": 1234567890123456_u64,
            "cloud": "Azure",
            "host_type": "unified",
            "oidc_endpoint": "https://h/oidc",
        }));
        assert_eq!(m.account_id.as_ref().map(AccountId::as_str), Some("0d1e2f3a-4b5c-6d7e-8f90-a1b2c3d4e5f6"));
        assert_eq!(m.workspace_id.as_ref().map(WorkspaceId::as_str), Some("1234567890123456"));
        assert_eq!((m.cloud.as_deref(), m.host_type), (Some("Azure"), Some(HostType::Unified)));

        let bad = HostMetadata::parse(&json!({
            "account_id": "not-an-account",
            "workspace_id": "12\r\nX-Evil: 1",
            "cloud": "Az ure\n",
            "host_type": 7,
        }));
        assert_eq!(bad, HostMetadata::default());
    }

    #[test]
    fn account_paths_and_placeholders() {
        assert!(is_account_path("/api/2.0/accounts/{account_id}/scim/v2/Users"));
        assert!(!is_account_path("/api/2.0/preview/scim/v2/Me"));
        let a: AccountId = "0d1e2f3a-4b5c-6d7e-8f90-a1b2c3d4e5f6".parse().unwrap();
        assert_eq!(
            fill_account_id("/api/2.0/accounts/{account_id}/scim/v2/Users", &a),
            "/api/2.0/accounts/0d1e2f3a-4b5c-6d7e-8f90-a1b2c3d4e5f6/scim/v2/Users"
        );
    }
}
