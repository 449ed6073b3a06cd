//! Tenant discovery: which Entra tenant a workspace belongs to.
//!
//! An Azure Databricks workspace redirects `GET /aad/auth` to its tenant's authorize endpoint,
//! `https://login.microsoftonline.com/<tenant-id>/oauth2/authorize?…`; the Databricks SDKs read the
//! tenant from that `Location` header, and so does [`discover_tenant`].

use url::Url;

use crate::Result;
use crate::error::DatabricksError;

/// The tenant id of the workspace at `host`, from its `/aad/auth` redirect.
///
/// `http` must not follow redirects (brickauth's
/// [`client_builder`](brickauth_core::http::client_builder) does not): the answer wanted is the
/// redirect itself, and following it would contact the login server for nothing.
pub async fn discover_tenant(http: &reqwest::Client, host: &str) -> Result<String> {
    let base = crate::client::normalise_host(host)?;
    let url = format!("{}/aad/auth", base.as_str().trim_end_matches('/'));
    let resp = http
        .get(&url)
        .send()
        .await
        .map_err(|e| DatabricksError::Transport { url: url.clone(), message: e.to_string() })?;
    let status = resp.status().as_u16();
    let location = resp.headers().get(reqwest::header::LOCATION).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let Some(location) = location.filter(|_| (300..400).contains(&status)) else {
        return Err(DatabricksError::Decode {
            url,
            message: format!("expected a redirect to the Entra login page, got HTTP {status}"),
        });
    };
    tenant_from_location(&location).ok_or_else(|| DatabricksError::Decode {
        url,
        message: format!(
            "the redirect `{}` names no tenant",
            brickauth_core::text::ServerText::default().clean(location.split('?').next().unwrap_or_default())
        ),
    })
}

/// The first path segment of an authorize URL.
fn tenant_from_location(location: &str) -> Option<String> {
    let url = Url::parse(location).ok()?;
    let tenant = url.path_segments()?.next()?.to_owned();
    let ok = !tenant.is_empty() && tenant.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'));
    ok.then_some(tenant)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_from_locations() {
        assert_eq!(
            tenant_from_location(
                "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/oauth2/authorize?client_id=x"
            )
            .as_deref(),
            Some("72f988bf-86f1-41af-91ab-2d7cd011db47")
        );
        assert_eq!(tenant_from_location("https://login.microsoftonline.com/"), None);
        assert_eq!(tenant_from_location("/relative"), None);
    }
}
