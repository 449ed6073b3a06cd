//! Minting: access tokens, refresh tokens, id tokens, and the token endpoint's success body.
//!
//! Access tokens look like the v1.0 tokens Entra issues for the AzureDatabricks resource
//! (`iss` = `https://sts.windows.net/<tenant>/`, `aud` = the resource id, `scp`, `upn`); each is
//! unique through a random `uti` and a random signature, and is remembered in the
//! [`TokenRegistry`](crate::TokenRegistry) with its `exp`. Refresh tokens are opaque and
//! remembered in the mock's state, to be redeemed exactly once.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use super::{EntraState, RefreshGrant};
use crate::answer::Answer;
use crate::config::MockUser;
use crate::registry::TokenInfo;
use crate::{DATABRICKS_RESOURCE, TENANT_ID, clock, ids, jwt};

/// Scopes that ask for tokens rather than for access to a resource.
const OIDC_SCOPES: [&str; 4] = ["openid", "profile", "offline_access", "email"];

/// The space-separated `scope` parameter of a token request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Scopes(Vec<String>);

impl Scopes {
    /// Splits the parameter; `None` when it holds no scope at all.
    pub(crate) fn parse(raw: &str) -> Option<Self> {
        let scopes: Vec<String> = raw.split_whitespace().map(str::to_owned).collect();
        (!scopes.is_empty()).then_some(Scopes(scopes))
    }

    /// The Graph resource the scopes ask for, if any (see the `graph` module).
    pub(crate) fn graph(&self) -> Option<&'static str> {
        self.0.iter().find_map(|s| super::graph::graph_resource(s))
    }

    /// Whether `scope` was requested.
    pub(crate) fn contains(&self, scope: &str) -> bool {
        self.0.iter().any(|requested| requested == scope)
    }

    /// The `scope` of the answer: the requested resource scopes, with the Databricks resource's
    /// `/.default` expanded to the permission it stands for, as Entra does.
    fn granted(&self) -> String {
        let default = format!("{DATABRICKS_RESOURCE}/.default");
        self.0
            .iter()
            .filter(|scope| !OIDC_SCOPES.contains(&scope.as_str()))
            .map(
                |scope| {
                    if *scope == default { format!("{DATABRICKS_RESOURCE}/user_impersonation") } else { scope.clone() }
                },
            )
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// What a successful grant returns tokens for.
#[derive(Debug)]
pub(crate) struct Issue<'a> {
    /// The signed-in user.
    pub(crate) user: &'a MockUser,
    /// The client application.
    pub(crate) client_id: &'a str,
    /// The requested scopes.
    pub(crate) scopes: &'a Scopes,
    /// `nonce` to echo in the id token.
    pub(crate) nonce: Option<&'a str>,
    /// Whether to return `client_info` (the request had `client_info=1`).
    pub(crate) client_info: bool,
    /// Whether to return a refresh token.
    pub(crate) refresh_token: bool,
    /// Authentication methods, the `amr` claim (`["pwd"]` for a password sign-in).
    pub(crate) amr: &'a [&'a str],
    /// Correlation id to echo in `client-request-id`.
    pub(crate) correlation_id: &'a str,
}

impl EntraState {
    /// Mints the tokens `issue` asks for and builds the success answer.
    pub(crate) fn issue(&mut self, issue: &Issue<'_>) -> Answer {
        let lifetime = self.config.token_lifetime_secs;
        let iat = clock::now();
        let exp = iat.saturating_add(lifetime);
        let user = issue.user;

        let mut body = json!({
            "token_type": "Bearer",
            "scope": issue.scopes.granted(),
            "expires_in": lifetime,
            "ext_expires_in": lifetime,
            "access_token": self.mint_access_token(issue, iat, exp),
        });
        if issue.refresh_token {
            body["refresh_token"] = json!(self.mint_refresh_token(&user.username, issue.client_id));
        }
        if crate::is_family(issue.client_id) {
            body["foci"] = json!("1");
        }
        if issue.scopes.contains("openid") {
            body["id_token"] = json!(self.mint_id_token(issue, iat, exp));
        }
        if issue.client_info {
            let client_info = json!({ "uid": user.oid, "utid": TENANT_ID });
            body["client_info"] = json!(URL_SAFE_NO_PAD.encode(client_info.to_string()));
        }
        Answer::entra_json(200, &body)
            .header("cache-control", "no-store, no-cache")
            .header("pragma", "no-cache")
            .header("x-ms-request-id", ids::guid())
            .header("client-request-id", issue.correlation_id)
    }

    fn mint_access_token(&mut self, issue: &Issue<'_>, iat: i64, exp: i64) -> String {
        let user = issue.user;
        // A Graph token is for Graph, with the Azure CLI's delegated permissions; every other
        // token is for Azure Databricks.
        let graph = issue.scopes.graph();
        let (aud, scp) = match graph {
            Some(resource) => (resource, super::graph::graph_scp()),
            None => (DATABRICKS_RESOURCE, "user_impersonation"),
        };
        let claims = json!({
            "aud": aud,
            "iss": format!("https://sts.windows.net/{TENANT_ID}/"),
            "iat": iat,
            "nbf": iat,
            "exp": exp,
            "amr": issue.amr,
            "appid": issue.client_id,
            "appidacr": "0",
            "name": user.name,
            "oid": user.oid,
            "scp": scp,
            "tid": TENANT_ID,
            "unique_name": user.username,
            "upn": user.username,
            "uti": ids::random_b64url(16),
            "ver": "1.0",
        });
        let token = jwt::encode(&jwt::mock_header(), &claims);
        if graph.is_some() {
            // Kept apart: the workspace mock accepts only Databricks tokens.
            self.remember_graph_token(&token, &user.username, exp);
        } else {
            self.registry.insert(
                token.clone(),
                TokenInfo {
                    username: user.username.clone(),
                    oid: user.oid.clone(),
                    name: user.name.clone(),
                    client_id: issue.client_id.to_owned(),
                    expires_at: exp,
                },
            );
        }
        self.issued_access_tokens.push(token.clone());
        token
    }

    /// Mints an unused refresh token for `username` and `client_id`.
    pub(crate) fn mint_refresh_token(&mut self, username: &str, client_id: &str) -> String {
        let token = loop {
            let candidate = ids::refresh_token();
            if !self.refresh_tokens.contains_key(&candidate) {
                break candidate;
            }
        };
        self.refresh_tokens.insert(
            token.clone(),
            RefreshGrant { username: username.to_owned(), client_id: client_id.to_owned(), used: false },
        );
        self.issued_refresh_tokens.push(token.clone());
        token
    }

    fn mint_id_token(&self, issue: &Issue<'_>, iat: i64, exp: i64) -> String {
        let user = issue.user;
        let mut claims = json!({
            "aud": issue.client_id,
            "iss": format!("{}/{TENANT_ID}/v2.0", self.uri),
            "iat": iat,
            "nbf": iat,
            "exp": exp,
            "name": user.name,
            "oid": user.oid,
            "preferred_username": user.username,
            // Entra's `sub` is pairwise: stable per user and application.
            "sub": URL_SAFE_NO_PAD.encode(format!("{}:{}", user.oid, issue.client_id)),
            "tid": TENANT_ID,
            "uti": ids::random_b64url(16),
            "ver": "2.0",
        });
        if let Some(nonce) = issue.nonce {
            claims["nonce"] = Value::from(nonce);
        }
        jwt::encode(&jwt::mock_header(), &claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn granted_scopes_drop_oidc_and_expand_default() {
        let scopes = Scopes::parse(&format!("{DATABRICKS_RESOURCE}/.default offline_access openid profile"));
        let scopes = scopes.expect("non-empty");
        assert_eq!(scopes.granted(), format!("{DATABRICKS_RESOURCE}/user_impersonation"));
        assert!(scopes.contains("openid"));
        assert_eq!(Scopes::parse("  "), None);
        assert_eq!(Scopes::parse("api://x/read email").map(|s| s.granted()), Some("api://x/read".to_owned()));
    }
}
