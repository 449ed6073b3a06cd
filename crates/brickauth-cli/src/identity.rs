//! Who a token belongs to, and what the profile says around it (tenant, subscription): shared by
//! `token -o json`, `account get-access-token`, `login` and `status`.

use brickauth_cache::CachedToken;
use brickauth_core::Settings;
use brickauth_profile::Profile;

use crate::output::TokenMeta;

/// The JSON form's profile facts.
pub fn meta(profile: &Profile, scope: String) -> TokenMeta<'_> {
    TokenMeta {
        profile: profile.name(),
        flow: profile.flow().name,
        scope,
        tenant: profile.get("tenant_id").unwrap_or_default(),
        subscription: subscription(profile),
    }
}

/// The Azure subscription the profile names: `azure_subscription_id`, else the one in
/// `azure_workspace_resource_id` (`/subscriptions/<id>/resourceGroups/…`).
pub fn subscription(profile: &Profile) -> Option<String> {
    if let Some(sub) = profile.get("azure_subscription_id").map(str::trim).filter(|s| !s.is_empty()) {
        return Some(sub.to_owned());
    }
    let id = profile.get("azure_workspace_resource_id")?;
    let mut parts = id.trim().trim_start_matches('/').split('/');
    match (parts.next(), parts.next()) {
        (Some(k), Some(sub)) if k.eq_ignore_ascii_case("subscriptions") && !sub.is_empty() => Some(sub.to_owned()),
        _ => None,
    }
}

/// The token's principal and whether it is an application (a service principal or managed
/// identity) rather than a user: no user name, or the access token says so (`idtyp = app`, or a
/// "user name" that is the token's own `appid`/`azp`). Applications are named by their client id:
/// the token's `appid`/`azp` claim, else the identity's client id.
pub fn principal(t: &CachedToken) -> (String, bool) {
    let claims = brickauth_core::jwt::decode(t.access_token.expose()).ok().map(|j| j.claims);
    let claim = |k: &str| claims.as_ref().and_then(|c| c.get(k)).and_then(|v| v.as_str());
    let app = claim("appid").or_else(|| claim("azp"));
    let is_app = claim("idtyp") == Some("app")
        || t.account.username.is_none()
        || t.account.username.as_deref().zip(app).is_some_and(|(u, a)| u.eq_ignore_ascii_case(a));
    match (&t.account.username, is_app) {
        (Some(u), false) => (u.clone(), false),
        _ => (app.unwrap_or(&t.identity.client_id).to_owned(), true),
    }
}
