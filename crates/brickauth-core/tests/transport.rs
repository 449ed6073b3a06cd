//! The transport against real servers on loopback: TLS with the bundled roots and a caller's CA
//! bundle, errors no retry can fix failing at once, and give-up messages naming status and budget.
//!
//! The certificates in `tests/data` are a throwaway test CA and a server certificate for
//! 127.0.0.1 it signed (valid for 100 years; the key protects nothing).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use brickauth_core::http::{Form, HttpConfig, TokenClient};
use brickauth_core::retry::{Budget, RetryPolicy};
use brickauth_core::{AuthError, SecretString};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use url::Url;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

const CA: &str = include_str!("data/test-ca.pem");
const CERT: &str = include_str!("data/test-server-cert.pem");
const KEY: &str = include_str!("data/test-server-key.pem");

/// A TLS server on 127.0.0.1 answering every request with a token; counts connections.
async fn tls_server() -> (Url, Arc<AtomicUsize>) {
    use rustls_pki_types::pem::PemObject as _;
    let certs =
        rustls_pki_types::CertificateDer::pem_slice_iter(CERT.as_bytes()).collect::<Result<Vec<_>, _>>().unwrap();
    let key = rustls_pki_types::PrivateKeyDer::from_pem_slice(KEY.as_bytes()).unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let connections = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&connections);
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else { return };
                let mut buf = vec![0u8; 16 * 1024];
                let _ = tls.read(&mut buf).await;
                let body = r#"{"token_type":"Bearer","expires_in":3600,"access_token":"tls-token"}"#;
                let answer = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.write_all(answer.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    (Url::parse(&format!("https://127.0.0.1:{port}/tenant/oauth2/v2.0/token")).unwrap(), connections)
}

fn form() -> Form {
    Form::new().field("grant_type", "password").secret("password", &SecretString::from("pw-secret-value"))
}

#[tokio::test]
async fn tls_with_the_callers_ca_and_unknown_issuer_fails_at_once() {
    let (url, connections) = tls_server().await;
    // The test CA is not among the bundled roots: no retry can fix that.
    let started = Instant::now();
    let err = TokenClient::from_config(HttpConfig::default()).token(&url, &form(), true).await.unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, AuthError::Transport { .. }), "{err:?}");
    assert!(text.contains("UnknownIssuer") || text.contains("unknown issuer"), "{text}");
    assert_eq!(connections.load(Ordering::SeqCst), 1, "retried an unknown issuer");
    assert!(started.elapsed() < Duration::from_secs(2));

    // With the CA the caller passes, the same server is trusted.
    let client = TokenClient::from_config(HttpConfig::default().with_ca_pem("test-ca.pem", CA.as_bytes().to_vec()));
    let token = client.token(&url, &form(), true).await.unwrap();
    assert_eq!(token.access_token.expose(), "tls-token");
}

fn quick(attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts: attempts,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(50),
        connect: Budget { limit: Duration::from_millis(300), variable: "BRICKAUTH_CONNECT_RETRY_BUDGET" },
        busy: Budget { limit: Duration::from_millis(300), variable: "BRICKAUTH_RETRY_BUDGET" },
    }
}

#[tokio::test]
async fn invalid_header_value_fails_at_once() {
    let server = MockServer::start().await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(200)).mount(&server).await;
    let url = Url::parse(&format!("{}/t/oauth2/v2.0/token", server.uri())).unwrap();
    let client = TokenClient::with_http(reqwest::Client::new()).with_policy(quick(5));
    let err = client.token_with_headers(&url, &form(), true, &[("X-AnchorMailbox", "a\nb".into())]).await.unwrap_err();
    assert!(matches!(err, AuthError::Transport { .. }), "{err:?}");
    assert_eq!(server.received_requests().await.unwrap().len(), 0);
}

#[tokio::test]
async fn give_up_names_status_budget_and_variable_and_redacts() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503).set_body_string("<h1>down</h1> you sent password=pw-secret-value"))
        .mount(&server)
        .await;
    let url = Url::parse(&format!("{}/t/oauth2/v2.0/token", server.uri())).unwrap();
    let client = TokenClient::with_http(reqwest::Client::new()).with_policy(quick(50));
    let err = client.token(&url, &form(), true).await.unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, AuthError::RetriesExhausted { status: Some(503), .. }), "{err:?}");
    assert!(text.contains("HTTP 503"), "{text}");
    assert!(text.contains("BRICKAUTH_RETRY_BUDGET"), "{text}");
    assert!(text.contains("password=[REDACTED]") && !text.contains("pw-secret-value"), "{text}");

    // Connection errors have their own budget, named too (a server that hangs up at once: a
    // refused loopback port is final, not retried).
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            drop(conn);
        }
    });
    let dead = Url::parse(&format!("http://127.0.0.1:{port}/token")).unwrap();
    let err = client.token(&dead, &form(), true).await.unwrap_err().to_string();
    assert!(err.contains("connection errors are retried for 0 s; BRICKAUTH_CONNECT_RETRY_BUDGET sets it"), "{err}");
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let refused = Url::parse(&format!("http://127.0.0.1:{port}/token")).unwrap();
    let err = client.token(&refused, &form(), true).await.unwrap_err();
    assert!(matches!(err, AuthError::Transport { .. }), "a refused loopback port is final: {err:?}");
}
