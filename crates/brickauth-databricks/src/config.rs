//! [`WorkspaceConfig`]: which workspace a profile means and how to call it, read from settings.
//!
//! The settings are the profile keys every Databricks command shares:
//!
//! - `host` (required): the workspace URL, normalised once (`https://`, no trailing slash; plain
//!   `http://` only to loopback);
//! - the Azure workspace resource id: `azure_workspace_resource_id`, or its three parts
//!   `azure_subscription_id` + `azure_resource_group` + `azure_workspace_name`, or the
//!   `DATABRICKS_AZURE_RESOURCE_ID` variable (read through the caller's `env`, so a library user
//!   decides whether the process environment counts);
//! - `azure_management_token = true`: also send a service-management token, for the cloud of
//!   `authority_host`, else `cloud`, else the workspace domain;
//! - `tenant_id`, when set: otherwise the tenant is found with [`WorkspaceConfig::discover_tenant`]
//!   from the workspace's `/aad/auth` redirect;
//! - `account_id` (a GUID) for account-level APIs, and `workspace_id` for workspace calls on a
//!   unified host (see [`crate::account`]); what the profile does not set, the host's own
//!   metadata may fill in ([`WorkspaceConfig::with_metadata`]).
//!
//! Every problem is a [`ConfigError`] naming the profile, the key and where its value came from.

use std::sync::Arc;

use brickauth_core::{AccountId, Cloud, ConfigError, Settings, TokenSource, WorkspaceId};

use crate::Result;
use crate::account::{HostMetadata, HostType};
use crate::client::{ResourceId, WorkspaceClient, normalise};

/// A workspace as a profile describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkspaceConfig {
    host: String,
    resource_id: Option<ResourceId>,
    tenant_id: Option<String>,
    management_scope: Option<&'static str>,
    account_id: Option<AccountId>,
    workspace_id: Option<WorkspaceId>,
    host_type: HostType,
}

impl WorkspaceConfig {
    /// Read the workspace settings of `s`; `env` answers for `DATABRICKS_AZURE_RESOURCE_ID`
    /// (pass `&|k| std::env::var(k).ok()` for the process environment, `&|_| None` for none).
    pub fn from_settings(s: &dyn Settings, env: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let profile = s.profile_name();
        let raw = s.get("host").map(str::trim).filter(|h| !h.is_empty()).ok_or_else(|| {
            ConfigError::new(
                profile,
                "host",
                "this command needs the workspace: set `host = \"https://adb-<workspace-id>.<n>.azuredatabricks.net\"`",
            )
        })?;
        let host = normalise(raw).map_err(|e| ConfigError::new(profile, "host", e.to_string()).at(s.origin("host")))?;
        Ok(WorkspaceConfig {
            resource_id: resource_id(s, env)?,
            tenant_id: s.get("tenant_id").map(str::trim).filter(|t| !t.is_empty()).map(str::to_owned),
            management_scope: management_scope(s, &host)?,
            account_id: id(s, "account_id")?,
            workspace_id: id(s, "workspace_id")?,
            host_type: HostType::from_url(&host),
            host,
        })
    }

    /// The workspace URL, normalised: what `DATABRICKS_HOST` should be.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The Azure workspace resource id, when one is configured.
    pub fn resource_id(&self) -> Option<&ResourceId> {
        self.resource_id.as_ref()
    }

    /// The configured `tenant_id`; `None` means "discover it".
    pub fn tenant_id(&self) -> Option<&str> {
        self.tenant_id.as_deref()
    }

    /// With `azure_management_token = true`: the scope of the cloud's service-management endpoint
    /// the management token is for.
    pub fn management_scope(&self) -> Option<&'static str> {
        self.management_scope
    }

    /// The Databricks account (`account_id`), when known.
    pub fn account_id(&self) -> Option<&AccountId> {
        self.account_id.as_ref()
    }

    /// The workspace id on a unified host (`workspace_id`), when known.
    pub fn workspace_id(&self) -> Option<&WorkspaceId> {
        self.workspace_id.as_ref()
    }

    /// What the host serves: from its metadata when [`WorkspaceConfig::with_metadata`] was
    /// given some, else from its URL ([`HostType::from_url`]).
    pub fn host_type(&self) -> HostType {
        self.host_type
    }

    /// Whether the host's own metadata could tell something the settings leave open: an account
    /// id a path needs (`needs_account`), or — for a profile that names an account on a host that
    /// is not an `accounts.` host, which may be a unified host — its workspace id and type.
    /// Classic workspace profiles never ask.
    pub fn wants_metadata(&self, needs_account: bool) -> bool {
        (needs_account && self.account_id.is_none())
            || (self.account_id.is_some() && self.workspace_id.is_none() && self.host_type != HostType::Account)
    }

    /// Fill what the settings leave open from what the host said about itself: the account id,
    /// the workspace id, the host type. A value the profile sets always wins.
    pub fn with_metadata(mut self, meta: &HostMetadata) -> Self {
        if self.account_id.is_none() {
            self.account_id = meta.account_id.clone();
        }
        if self.workspace_id.is_none() {
            self.workspace_id = meta.workspace_id.clone();
        }
        if let Some(t) = meta.host_type {
            self.host_type = t;
        }
        self
    }

    /// The tenant the workspace belongs to, from its `/aad/auth` redirect (one request; `http`
    /// must not follow redirects). See [`crate::tenant`].
    pub async fn discover_tenant(&self, http: &reqwest::Client) -> Result<String> {
        crate::tenant::discover_tenant(http, &self.host).await
    }

    /// The client for this workspace: tokens from `source`, the resource id header when
    /// configured, and the management token header from `management` when given.
    pub fn client(
        &self,
        source: Arc<dyn TokenSource>,
        management: Option<Arc<dyn TokenSource>>,
    ) -> Result<WorkspaceClient> {
        let mut client = WorkspaceClient::new(&self.host, source)?;
        if let Some(id) = &self.resource_id {
            client = client.with_resource_id(id.clone());
        }
        // An account host has no workspace to name.
        if let Some(id) = self.workspace_id.as_ref().filter(|_| self.host_type != HostType::Account) {
            client = client.with_workspace_id(id.clone());
        }
        if let Some(m) = management {
            client = client.with_management_token(m);
        }
        Ok(client)
    }
}

/// `account_id` or `workspace_id`, parsed by core's types; a bad value names the key and its origin.
fn id<T: std::str::FromStr<Err = brickauth_core::app::ParseError>>(
    s: &dyn Settings,
    key: &str,
) -> Result<Option<T>, ConfigError> {
    match s.get(key).map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => v
            .parse::<T>()
            .map(Some)
            .map_err(|e| ConfigError::new(s.profile_name(), key, e.to_string()).at(s.origin(key))),
    }
}

/// The resource id from the key, its three parts, or `DATABRICKS_AZURE_RESOURCE_ID`.
fn resource_id(s: &dyn Settings, env: &dyn Fn(&str) -> Option<String>) -> Result<Option<ResourceId>, ConfigError> {
    let profile = s.profile_name();
    let bad = |key: &str, e: crate::DatabricksError| ConfigError::new(profile, key, e.to_string()).at(s.origin(key));
    if let Some(id) = s.get("azure_workspace_resource_id") {
        return ResourceId::parse(id).map(Some).map_err(|e| bad("azure_workspace_resource_id", e));
    }
    const PARTS: [&str; 3] = ["azure_subscription_id", "azure_resource_group", "azure_workspace_name"];
    match PARTS.map(|k| s.get(k)) {
        [Some(sub), Some(rg), Some(name)] => {
            ResourceId::from_parts(sub, rg, name).map(Some).map_err(|e| bad("azure_subscription_id", e))
        }
        [None, None, None] => match env("DATABRICKS_AZURE_RESOURCE_ID") {
            Some(id) if !id.trim().is_empty() => ResourceId::parse(&id).map(Some).map_err(|e| {
                ConfigError::new(profile, "azure_workspace_resource_id", e.to_string())
                    .at(Some("$DATABRICKS_AZURE_RESOURCE_ID".to_owned()))
            }),
            _ => Ok(None),
        },
        parts => {
            let missing: Vec<&str> = PARTS.iter().zip(parts).filter(|(_, v)| v.is_none()).map(|(k, _)| *k).collect();
            Err(ConfigError::new(
                profile,
                missing[0],
                format!(
                    "only some of azure_subscription_id, azure_resource_group, azure_workspace_name are set \
                     (missing: {}): set all three, or azure_workspace_resource_id",
                    missing.join(", ")
                ),
            ))
        }
    }
}

/// `azure_management_token = true` → the management scope of the profile's cloud.
fn management_scope(s: &dyn Settings, host: &str) -> Result<Option<&'static str>, ConfigError> {
    let profile = s.profile_name();
    let key = "azure_management_token";
    match s.get(key).map(str::trim) {
        None | Some("false") => return Ok(None),
        Some("true") => {}
        Some(v) => {
            return Err(ConfigError::new(profile, key, format!("`{v}` is not true or false")).at(s.origin(key)));
        }
    }
    let cloud = match (s.get("authority_host"), s.get("cloud")) {
        (Some(a), _) => Cloud::from_authority_host(a).unwrap_or(Cloud::Public),
        (None, Some(c)) => {
            c.parse::<Cloud>().map_err(|e| ConfigError::new(profile, "cloud", e.to_string()).at(s.origin("cloud")))?
        }
        (None, None) => Cloud::from_workspace_host(host).unwrap_or(Cloud::Public),
    };
    Ok(Some(cloud.management_scope()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use brickauth_core::SecretString;
    use std::collections::BTreeMap;

    struct S(BTreeMap<&'static str, &'static str>);
    impl Settings for S {
        fn profile_name(&self) -> &str {
            "dev"
        }
        fn get(&self, key: &str) -> Option<&str> {
            self.0.get(key).copied()
        }
        fn secret(&self, _key: &str) -> std::result::Result<Option<SecretString>, ConfigError> {
            Ok(None)
        }
        fn origin(&self, key: &str) -> Option<String> {
            self.0.contains_key(key).then(|| "profiles.toml:3".to_owned())
        }
    }
    fn s(pairs: &[(&'static str, &'static str)]) -> S {
        S(pairs.iter().copied().collect())
    }
    const RID: &str = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Databricks/workspaces/w";

    #[test]
    fn reads_the_workspace_settings() {
        let c = WorkspaceConfig::from_settings(&s(&[("host", "adb-1.2.azuredatabricks.net/")]), &|_| None).unwrap();
        assert_eq!(c.host(), "https://adb-1.2.azuredatabricks.net");
        assert_eq!((c.resource_id(), c.tenant_id(), c.management_scope()), (None, None, None));

        let c = WorkspaceConfig::from_settings(
            &s(&[
                ("host", "https://adb-1.2.databricks.azure.us"),
                ("tenant_id", "t"),
                ("azure_subscription_id", "s"),
                ("azure_resource_group", "rg"),
                ("azure_workspace_name", "w"),
                ("azure_management_token", "true"),
            ]),
            &|_| None,
        )
        .unwrap();
        assert_eq!(c.resource_id().map(|r| r.as_str()), Some(RID));
        assert_eq!(c.tenant_id(), Some("t"));
        assert_eq!(c.management_scope(), Some("https://management.core.usgovcloudapi.net//.default"));

        let env = |k: &str| (k == "DATABRICKS_AZURE_RESOURCE_ID").then(|| RID.to_owned());
        let c = WorkspaceConfig::from_settings(&s(&[("host", "adb-1.2.azuredatabricks.net")]), &env).unwrap();
        assert_eq!(c.resource_id().map(|r| r.as_str()), Some(RID));
    }

    #[test]
    fn account_settings_and_host_metadata() {
        const A: &str = "0d1e2f3a-4b5c-6d7e-8f90-a1b2c3d4e5f6";
        let acct = WorkspaceConfig::from_settings(
            &s(&[("host", "https://accounts.azuredatabricks.net"), ("account_id", A)]),
            &|_| None,
        )
        .unwrap();
        assert_eq!((acct.host_type(), acct.account_id().map(AccountId::as_str)), (HostType::Account, Some(A)));
        assert!(!acct.wants_metadata(true), "an account host with its account id needs nothing");

        let ws = WorkspaceConfig::from_settings(&s(&[("host", "adb-1.2.azuredatabricks.net")]), &|_| None).unwrap();
        assert!(!ws.wants_metadata(false), "a classic workspace profile must never ask");
        assert!(ws.wants_metadata(true), "a path with {{account_id}} and no account id asks");

        let unified =
            WorkspaceConfig::from_settings(&s(&[("host", "https://u.example"), ("account_id", A)]), &|_| None).unwrap();
        assert!(unified.wants_metadata(false));
        let meta = HostMetadata {
            account_id: Some("11111111-2222-3333-4444-555555555555".parse().unwrap()),
            workspace_id: Some("42".parse().unwrap()),
            cloud: None,
            host_type: Some(HostType::Unified),
        };
        let unified = unified.with_metadata(&meta);
        // The profile's account wins; the host fills in the rest.
        assert_eq!(unified.account_id().map(AccountId::as_str), Some(A));
        assert_eq!(unified.workspace_id().map(WorkspaceId::as_str), Some("42"));
        assert_eq!(unified.host_type(), HostType::Unified);
        assert!(!unified.wants_metadata(false));
    }

    #[test]
    fn errors_name_the_key() {
        type Case = (&'static [(&'static str, &'static str)], &'static str, &'static str);
        let cases: &[Case] = &[
            (&[], "host", "this command needs the workspace"),
            (&[("host", "http://adb-1.2.azuredatabricks.net")], "host", "http"),
            (&[("host", "h.example"), ("azure_workspace_resource_id", "/nope")], "azure_workspace_resource_id", ""),
            (&[("host", "h.example"), ("azure_subscription_id", "s")], "azure_resource_group", "missing"),
            (&[("host", "h.example"), ("azure_management_token", "yes")], "azure_management_token", "`yes`"),
            (&[("host", "h.example"), ("account_id", "acme")], "account_id", "not a Databricks account id"),
            (&[("host", "h.example"), ("workspace_id", "1 2")], "workspace_id", "not a workspace id"),
        ];
        for (pairs, key, says) in cases {
            let e = WorkspaceConfig::from_settings(&s(pairs), &|_| None).unwrap_err();
            assert_eq!(e.key.as_deref(), Some(*key), "{pairs:?}: {e}");
            assert!(e.to_string().contains(says), "{pairs:?}: {e}");
        }
    }
}
