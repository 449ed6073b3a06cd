//! The device authorization grant (RFC 8628): `POST /{tenant}/oauth2/v2.0/devicecode`, then
//! polls of the token endpoint with `grant_type=urn:ietf:params:oauth:grant-type:device_code`.
//!
//! Nobody types the user code into a browser here. What the "user" does is scripted with
//! [`MockEntra::script_device`]: each poll takes the next [`DeviceStep`] (pending, slow down,
//! approve, expire, decline, wrong code); once the script is used up, polls are approved as the
//! device user (Alice by default) — or, when the devicecode request named a user of the tenant as
//! `login_hint`, as that user (the person signs in with the account the page suggests; MFA is
//! done on that other device, so Bob's MFA does not stop it). Every poll's arrival time is
//! recorded, so tests can check that the client kept to the interval it was given.

use std::collections::{HashMap, VecDeque};
use std::time::Instant;

use serde_json::json;

use super::errors::EntraError;
use super::tokens::{Issue, Scopes};
use super::{EntraState, MockEntra};
use crate::answer::Answer;
use crate::record::RecordedRequest;
use crate::{clock, ids, lock};

/// The grant type of a device code poll.
pub(crate) const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// What the scripted user has done by the time of one poll.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceStep {
    /// Not signed in yet: `authorization_pending` (AADSTS70016).
    Pending,
    /// The client polls too fast: `slow_down`; it must add 5 s to its interval.
    SlowDown,
    /// Signed in: tokens for the device user.
    Approve,
    /// The code ran out: `expired_token` (AADSTS70019).
    Expire,
    /// The user refused: `authorization_declined`.
    Decline,
    /// The user typed a wrong code: `bad_verification_code` (AADSTS70018).
    BadCode,
}

/// Device-flow state of one mock.
#[derive(Debug)]
pub(crate) struct DeviceState {
    /// Steps for the next polls, in order.
    script: VecDeque<DeviceStep>,
    /// Outstanding device codes.
    codes: HashMap<String, PendingCode>,
    /// When each poll arrived.
    polls: Vec<Instant>,
    /// The `interval` the devicecode answer names, seconds.
    interval: u64,
    /// The `expires_in` the devicecode answer names, seconds.
    expires_in: i64,
    /// The username approving.
    user: String,
}

impl Default for DeviceState {
    fn default() -> Self {
        DeviceState {
            script: VecDeque::new(),
            codes: HashMap::new(),
            polls: Vec::new(),
            interval: 5,
            expires_in: 900,
            user: "alice@contoso.com".to_owned(),
        }
    }
}

#[derive(Debug, Clone)]
struct PendingCode {
    client_id: String,
    scopes: Scopes,
    expires_at: i64,
    /// The `login_hint` of the devicecode request, when it names a user of the tenant.
    login_hint: Option<String>,
}

impl MockEntra {
    /// Scripts the answers to the next device code polls (appended to any left over). When the
    /// script runs out, polls are approved.
    pub fn script_device(&self, steps: Vec<DeviceStep>) {
        lock(&self.state).device.script.extend(steps);
    }

    /// Sets the `interval` (seconds) that device authorization answers name; 5 by default.
    pub fn set_device_interval(&self, secs: u64) {
        lock(&self.state).device.interval = secs;
    }

    /// Sets the `expires_in` (seconds) of device codes issued from now on; 900 by default.
    pub fn set_device_expires_in(&self, secs: i64) {
        lock(&self.state).device.expires_in = secs;
    }

    /// Sets who approves device sign-ins (a user of the tenant); Alice by default.
    pub fn set_device_user(&self, username: &str) {
        lock(&self.state).device.user = username.to_owned();
    }

    /// When each device code poll arrived, in order.
    pub fn device_polls(&self) -> Vec<Instant> {
        lock(&self.state).device.polls.clone()
    }
}

impl EntraState {
    /// `POST /{tenant}/oauth2/v2.0/devicecode`: `client_id` and `scope` in, codes out.
    pub(crate) fn device_authorization(&mut self, request: RecordedRequest) -> Answer {
        let correlation_id = ids::guid();
        match self.start_device(&request) {
            Ok(answer) => answer,
            Err(error) => error.answer(&correlation_id),
        }
    }

    fn start_device(&mut self, request: &RecordedRequest) -> Result<Answer, EntraError> {
        if request.method != "POST" {
            return Err(EntraError::method_not_allowed(&request.method));
        }
        let client_id = request.field("client_id").ok_or_else(|| EntraError::missing_parameter("client_id"))?;
        if !self.config.clients.iter().any(|client| client == client_id) {
            return Err(EntraError::unknown_client(client_id));
        }
        let scopes = request.field("scope").and_then(Scopes::parse).ok_or_else(EntraError::scope_missing)?;
        let login_hint = request.field("login_hint").filter(|u| self.user(u).is_some()).map(str::to_owned);
        let device_code = ids::random_b64url(48);
        let user_code: String = ids::random_b64url(12)
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .map(|c| c.to_ascii_uppercase())
            .take(9)
            .collect();
        let state = &mut self.device;
        state.codes.insert(
            device_code.clone(),
            PendingCode {
                client_id: client_id.to_owned(),
                scopes,
                expires_at: clock::now().saturating_add(state.expires_in),
                login_hint,
            },
        );
        let body = json!({
            "user_code": user_code,
            "device_code": device_code,
            "verification_uri": "https://microsoft.com/devicelogin",
            "expires_in": state.expires_in,
            "interval": state.interval,
            "message": format!(
                "To sign in, use a web browser to open the page https://microsoft.com/devicelogin and enter \
                 the code {user_code} to authenticate."
            ),
        });
        Ok(Answer::entra_json(200, &body))
    }

    /// One poll: the next scripted step decides.
    pub(crate) fn grant_device_code(
        &mut self,
        request: &RecordedRequest,
        client_id: &str,
        correlation_id: &str,
    ) -> Result<Answer, EntraError> {
        self.device.polls.push(Instant::now());
        let code = request.field("device_code").ok_or_else(|| EntraError::missing_parameter("device_code"))?;
        let pending = self.device.codes.get(code).cloned().ok_or_else(bad_code)?;
        if pending.client_id != client_id {
            return Err(bad_code());
        }
        if pending.expires_at < clock::now() {
            self.device.codes.remove(code);
            return Err(expired());
        }
        match self.device.script.pop_front().unwrap_or(DeviceStep::Approve) {
            DeviceStep::Pending => Err(EntraError::new(
                400,
                "authorization_pending",
                70016,
                "OAuth 2.0 device flow error. Authorization is pending. Continue polling.",
            )),
            DeviceStep::SlowDown => {
                Err(EntraError::new(400, "slow_down", 70016, "OAuth 2.0 device flow error. Polling too fast."))
            }
            DeviceStep::Expire => {
                self.device.codes.remove(code);
                Err(expired())
            }
            DeviceStep::Decline => {
                self.device.codes.remove(code);
                Err(EntraError::new(400, "authorization_declined", 70000, "The user declined to sign in."))
            }
            DeviceStep::BadCode => Err(bad_code()),
            DeviceStep::Approve => {
                self.device.codes.remove(code);
                let username = pending.login_hint.clone().unwrap_or_else(|| self.device.user.clone());
                let user = self.user(&username).ok_or_else(EntraError::user_not_found)?.clone();
                Ok(self.issue(&Issue {
                    user: &user,
                    client_id,
                    scopes: &pending.scopes,
                    nonce: None,
                    client_info: request.field("client_info") == Some("1"),
                    refresh_token: pending.scopes.contains("offline_access"),
                    amr: &["pwd", "mfa"],
                    correlation_id,
                }))
            }
        }
    }
}

fn expired() -> EntraError {
    EntraError::new(400, "expired_token", 70019, "Verification code expired.")
}

fn bad_code() -> EntraError {
    EntraError::new(
        400,
        "bad_verification_code",
        70018,
        "Invalid verification code due to User typing in wrong user code for device code flow. Authorization isn't \
         approved.",
    )
}
