//! [`Failure`]: canned faults a test queues on a mock with `fail_next`.
//!
//! Each queued failure answers exactly one request, in order, before the mock looks at the
//! request; then normal processing resumes. The request is recorded either way.

use std::time::Duration;

use serde_json::json;

use crate::answer::{Answer, DATABRICKS_JSON, ENTRA_JSON};
use crate::entra::errors::EntraError;
use crate::ids;

/// A canned answer (or a delay) for the next request a mock receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// Answer with this status, body and content type instead of processing the request.
    Status {
        /// HTTP status code.
        status: u16,
        /// Value of a `Retry-After` header (seconds or an HTTP date), if one is to be sent.
        retry_after: Option<String>,
        /// Response body, sent as is.
        body: String,
        /// Value of the `Content-Type` header.
        content_type: String,
    },
    /// Process the request normally, but send the answer only after this delay (for client
    /// timeout tests). The request's effects (a refresh token being used, say) happen at once.
    Delay(Duration),
}

impl Failure {
    /// HTTP 429 with `Retry-After: retry_after` and an Entra-shaped throttling error
    /// (`temporarily_unavailable`, AADSTS90055).
    pub fn too_many_requests(retry_after: &str) -> Self {
        let error = EntraError::new(
            429,
            "temporarily_unavailable",
            90055,
            "TenantThrottlingError: There are too many incoming requests. This exception is \
             thrown for blocked tenants.",
        );
        Failure::Status {
            status: 429,
            retry_after: Some(retry_after.to_owned()),
            body: error.body(&ids::guid()).to_string(),
            content_type: ENTRA_JSON.to_owned(),
        }
    }

    /// HTTP 503 with an Entra-shaped transient error (`temporarily_unavailable`, AADSTS90033).
    pub fn unavailable() -> Self {
        let error =
            EntraError::new(503, "temporarily_unavailable", 90033, "A transient error has occurred. Please try again.");
        Failure::Status {
            status: 503,
            retry_after: None,
            body: error.body(&ids::guid()).to_string(),
            content_type: ENTRA_JSON.to_owned(),
        }
    }

    /// HTTP 502 with the `text/html` page a reverse proxy sends when its upstream fails.
    pub fn html_bad_gateway() -> Self {
        Failure::Status {
            status: 502,
            retry_after: None,
            body: "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n\
                   <center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n\
                   </body>\r\n</html>\r\n"
                .to_owned(),
            content_type: "text/html".to_owned(),
        }
    }

    /// HTTP 429 as the Databricks REST API sends it (`REQUEST_LIMIT_EXCEEDED`), with
    /// `Retry-After: retry_after`.
    pub fn databricks_rate_limited(retry_after: &str) -> Self {
        Failure::Status {
            status: 429,
            retry_after: Some(retry_after.to_owned()),
            body: json!({
                "error_code": "REQUEST_LIMIT_EXCEEDED",
                "message": "Error while processing request: the rate limit for this endpoint \
                            has been exceeded. Please try again later.",
            })
            .to_string(),
            content_type: DATABRICKS_JSON.to_owned(),
        }
    }

    /// HTTP 503 as the Databricks REST API sends it (`TEMPORARILY_UNAVAILABLE`).
    pub fn databricks_unavailable() -> Self {
        Failure::Status {
            status: 503,
            retry_after: None,
            body: json!({
                "error_code": "TEMPORARILY_UNAVAILABLE",
                "message": "The service is temporarily unavailable. Please try again later.",
            })
            .to_string(),
            content_type: DATABRICKS_JSON.to_owned(),
        }
    }

    /// The answer for a request this failure applies to; `normal` computes the answer the mock
    /// would otherwise give (called only for [`Failure::Delay`]).
    pub(crate) fn answer(self, normal: impl FnOnce() -> Answer) -> Answer {
        match self {
            Failure::Status { status, retry_after, body, content_type } => {
                let answer = Answer::new(status, &content_type, body);
                match retry_after {
                    Some(value) => answer.header("retry-after", value),
                    None => answer,
                }
            }
            Failure::Delay(delay) => normal().delayed(delay),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canned_bodies_are_well_formed() {
        for failure in [Failure::too_many_requests("7"), Failure::unavailable()] {
            let Failure::Status { body, .. } = failure else {
                panic!("expected a status failure");
            };
            let body: serde_json::Value = serde_json::from_str(&body).expect("JSON body");
            assert_eq!(body["error"], "temporarily_unavailable");
            assert!(body["error_codes"][0].is_u64());
        }
        let answer = Failure::html_bad_gateway().answer(|| unreachable!());
        assert_eq!(answer.status(), 502);
    }
}
