//! `impl azure_core::credentials::TokenCredential for Source` (feature `azure-core`): every crate
//! of the Azure SDK for Rust can use a brickauth profile — its flows (browser, device code,
//! managed identity, …), its persistent cache and its single flight across processes.
//!
//! A request for the profile's own scopes is the profile's token; a request for other scopes
//! (Azure Resource Manager, Key Vault, Storage) is the same profile asked for those scopes, as
//! `brickauth token --scope` does: another cache identity, so a token for one never answers for
//! the other.

use azure_core::credentials::{AccessToken, Secret, TokenCredential, TokenRequestOptions};
use azure_core::error::ErrorKind;
use azure_core::time::OffsetDateTime;
use brickauth_profile::Origin;

use crate::{Source, TokenOptions};

#[async_trait::async_trait]
impl TokenCredential for Source {
    async fn get_token(
        &self,
        scopes: &[&str],
        _options: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<AccessToken> {
        let own: Vec<String> = self.identity().scopes;
        let wanted: Vec<String> = scopes.iter().flat_map(|s| s.split_whitespace()).map(str::to_owned).collect();
        let token = if wanted.is_empty() || same_scopes(&own, &wanted) {
            self.token_with(TokenOptions::default()).await
        } else {
            let mut profile = (*self.profile()).clone();
            profile.set("scopes", &wanted.join(" "), Origin::CommandLine("TokenCredential::get_token".into()));
            match self.shared_auth().source_with(profile, self.interaction()) {
                Ok(other) => other.token_with(TokenOptions::default()).await,
                Err(e) => Err(e),
            }
        }
        .map_err(|e| azure_core::Error::new(ErrorKind::Credential, e))?;
        let expires_on = OffsetDateTime::from_unix_timestamp(token.access_token.expires_on)
            .map_err(|e| azure_core::Error::new(ErrorKind::DataConversion, e))?;
        Ok(AccessToken::new(Secret::new(token.access_token.expose().to_owned()), expires_on))
    }
}

fn same_scopes(a: &[String], b: &[String]) -> bool {
    let mut a: Vec<&str> = a.iter().map(String::as_str).collect();
    let mut b: Vec<&str> = b.iter().map(String::as_str).collect();
    a.sort_unstable();
    b.sort_unstable();
    a == b
}
