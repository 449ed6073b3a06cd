//! The tenant of a workspace, for a profile that names a `host` but no `tenant_id`.
//!
//! The tenant is part of a token's cache identity, so it must be known before the cache is even
//! looked at. It is remembered in `tenants.json` next to the cache (no network on the cached
//! path), else found from the workspace's `/aad/auth` redirect (as the Databricks SDKs do) and
//! remembered. A value filled in here has the origin "built-in default": that is how
//! [`relearn`] knows it may ask again after an authentication failure.

use brickauth_cache::TenantMemory;
use brickauth_core::Settings;
use brickauth_profile::{Origin, Profile};

use crate::{Auth, Error, Result};

/// Fill in the workspace's tenant when the profile's flow needs one and has none.
pub(crate) fn fill(auth: &Auth, profile: &mut Profile) -> Result<()> {
    if profile.get("tenant_id").is_some_and(|t| !t.trim().is_empty()) || !needs_tenant(profile) {
        return Ok(());
    }
    let Some(raw) = profile.get("host").map(str::trim).filter(|h| !h.is_empty()) else {
        return Ok(());
    };
    let host = brickauth_databricks::client::normalise(raw).map_err(|e| host_error(profile, e))?;
    let memory = memory(auth)?;
    match memory.lookup(&host) {
        Ok(Some(entry)) => {
            tracing::info!(
                "profile `{}` has no tenant_id: using {}, remembered in {} for {host}",
                profile.name(),
                entry.tenant,
                memory.path().display()
            );
            profile.set("tenant_id", &entry.tenant, Origin::Default);
            return Ok(());
        }
        Ok(None) => {}
        Err(e) => tracing::warn!("{e}; asking {host} for its tenant again"),
    }
    if auth.options().offline {
        return Ok(());
    }
    let tenant = discover(auth, profile, &host)?;
    if let Err(e) = memory.remember(&host, &tenant, brickauth_core::now()) {
        tracing::warn!("cannot remember the tenant of {host}: {e}");
    }
    tracing::info!("profile `{}` has no tenant_id: using {tenant}, discovered from {host}/aad/auth", profile.name());
    profile.set("tenant_id", &tenant, Origin::Default);
    Ok(())
}

/// After an authentication failure of a profile whose tenant [`fill`] supplied: ask the
/// workspace again. When it now names another tenant, say so, remember it, and return the
/// profile with the new tenant to try once more; `None` when nothing changed.
pub(crate) async fn relearn(auth: &Auth, profile: &Profile) -> Result<Option<Profile>> {
    let filled = profile.entries().into_iter().any(|(k, _, origin)| k == "tenant_id" && origin == Origin::Default);
    let (Some(old), Some(raw), true) = (profile.get("tenant_id"), profile.get("host"), filled) else {
        return Ok(None);
    };
    let Ok(host) = brickauth_databricks::client::normalise(raw) else { return Ok(None) };
    let tenant = discover_async(auth, profile, &host).await?;
    if tenant == old {
        return Ok(None);
    }
    tracing::warn!(
        "the workspace {host} now belongs to tenant {tenant}, not {old} as remembered: signing in to {tenant} \
         (profile `{}`)",
        profile.name()
    );
    if let Err(e) = memory(auth)?.remember(&host, &tenant, brickauth_core::now()) {
        tracing::warn!("cannot remember the tenant of {host}: {e}");
    }
    let mut again = profile.clone();
    again.set("tenant_id", &tenant, Origin::Default);
    Ok(Some(again))
}

/// Whether the profile's flow needs a tenant it does not have (its cache identity cannot be
/// computed without one). Flows with no tenant (managed identity, Databricks M2M) need none.
fn needs_tenant(profile: &Profile) -> bool {
    matches!(brickauth_core::flow::app_config(profile), Err(e) if e.key.as_deref() == Some("tenant_id"))
}

fn memory(auth: &Auth) -> Result<TenantMemory> {
    Ok(TenantMemory::at(auth.cache()?.dir()))
}

fn host_error(profile: &Profile, e: brickauth_databricks::DatabricksError) -> Error {
    Error::Config(
        brickauth_core::ConfigError::new(profile.name(), "host", e.to_string())
            .at(brickauth_core::Settings::origin(profile, "host")),
    )
}

/// One `/aad/auth` request, on the process's runtime (the cached path never gets here). Called
/// from a thread that runs an async program's runtime (`auth.profile()` inside `async fn`), the
/// request is made from a thread of its own rather than refused: building a source then waits
/// for one request, as a blocking constructor would.
fn discover(auth: &Auth, profile: &Profile, host: &str) -> Result<String> {
    on_runtime(|| discover_async(auth, profile, host))
}

/// Run one request's future to completion on the process's runtime, from a thread of its own
/// when the caller is already on a runtime's thread (where blocking on it would be refused).
pub(crate) fn on_runtime<T: Send, F: Future<Output = Result<T>>>(make: impl Fn() -> F + Sync) -> Result<T> {
    if tokio::runtime::Handle::try_current().is_err() {
        return crate::block_on(make())?;
    }
    std::thread::scope(|s| s.spawn(|| crate::block_on(make())).join())
        .map_err(|_| Error::Runtime(std::io::Error::other("a request thread panicked")))??
}

async fn discover_async(auth: &Auth, profile: &Profile, host: &str) -> Result<String> {
    let http = auth.http_config()?.build().map_err(|e| Error::TenantDiscovery {
        profile: profile.name().to_owned(),
        source: brickauth_databricks::DatabricksError::Transport { url: host.to_owned(), message: e.to_string() },
    })?;
    brickauth_databricks::discover_tenant(&http, host)
        .await
        .map_err(|source| Error::TenantDiscovery { profile: profile.name().to_owned(), source })
}
