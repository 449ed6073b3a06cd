//! Certificates for the bench's TLS relay, made with `openssl`.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Result;

use super::python::run_quiet;

/// A throwaway CA and a certificate for 127.0.0.1 it signed (webpki, hence brickauth, refuses a
/// self-signed CA certificate as a server's): `(ca.pem, cert.pem, key.pem)`.
pub(crate) fn make_certificates(dir: &Path) -> Result<(PathBuf, PathBuf, PathBuf)> {
    let p = |name: &str| dir.join(name);
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    run_quiet(
        Command::new("openssl")
            .args(["req", "-x509", "-days", "2", "-subj", "/CN=brickauth bench CA"])
            .args(ec)
            .arg("-keyout")
            .arg(p("ca-key.pem"))
            .arg("-out")
            .arg(p("ca.pem")),
    )?;
    run_quiet(
        Command::new("openssl")
            .args(["req", "-subj", "/CN=127.0.0.1"])
            .args(ec)
            .arg("-keyout")
            .arg(p("relay-key.pem"))
            .arg("-out")
            .arg(p("relay.csr")),
    )?;
    std::fs::write(
        p("relay-ext.cnf"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
    )?;
    run_quiet(
        Command::new("openssl")
            .args(["x509", "-req", "-days", "2", "-set_serial", "2"])
            .arg("-in")
            .arg(p("relay.csr"))
            .arg("-CA")
            .arg(p("ca.pem"))
            .arg("-CAkey")
            .arg(p("ca-key.pem"))
            .arg("-extfile")
            .arg(p("relay-ext.cnf"))
            .arg("-out")
            .arg(p("relay-cert.pem")),
    )?;
    Ok((p("ca.pem"), p("relay-cert.pem"), p("relay-key.pem")))
}
