//! `metadata_client CODE`: a child for `brickauth exec` that asks the Databricks metadata service
//! for a token as the SDKs do, prints what it saw, and exits with CODE.
//!
//! `cargo xtask cross` runs it as a Windows `.exe` under Wine (its end-to-end `exec` case): it is
//! std only, so the Windows test build (`cargo test --no-run`, which builds examples) makes it
//! with no extra step. Lines printed: the service URL, `DATABRICKS_AUTH_TYPE`, whether
//! `ALICE_PASSWORD` reached it (`<unset>` if not), the HTTP status and the response body.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::ExitCode;
use std::time::Duration;

fn main() -> ExitCode {
    let code = std::env::args().nth(1).and_then(|c| c.parse::<u8>().ok()).unwrap_or(0);
    match ask() {
        Ok(()) => ExitCode::from(code),
        Err(e) => {
            eprintln!("metadata_client: {e}");
            ExitCode::from(101)
        }
    }
}

fn ask() -> Result<(), String> {
    let var = |name: &str| std::env::var(name).map_err(|_| format!("{name} is not set"));
    let url = var("DATABRICKS_METADATA_SERVICE_URL")?;
    let host = var("DATABRICKS_HOST")?;
    println!("{url}");
    println!("{}", var("DATABRICKS_AUTH_TYPE")?);
    println!("{}", std::env::var("ALICE_PASSWORD").unwrap_or_else(|_| "<unset>".into()));
    let rest = url.strip_prefix("http://").ok_or_else(|| format!("not an http URL: {url}"))?;
    let (authority, path) = rest.split_once('/').ok_or_else(|| format!("no path in {url}"))?;
    let mut s = TcpStream::connect(authority).map_err(|e| format!("connecting to {authority}: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(15))).map_err(|e| e.to_string())?;
    let request = format!(
        "GET /{path} HTTP/1.1\r\nHost: {authority}\r\nX-Databricks-Metadata-Version: 1\r\n\
         X-Databricks-Host: {host}\r\nConnection: close\r\n\r\n"
    );
    s.write_all(request.as_bytes()).map_err(|e| format!("sending the request: {e}"))?;
    let mut answer = String::new();
    s.read_to_string(&mut answer).map_err(|e| format!("reading the answer: {e}"))?;
    let (head, body) = answer.split_once("\r\n\r\n").ok_or("no end of headers in the answer")?;
    println!("{}", head.split(' ').nth(1).unwrap_or("?"));
    println!("{body}");
    Ok(())
}
