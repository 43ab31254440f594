//! TLS over TCP for `relay` and `connect` (rustls through tokio-rustls, the ring provider):
//! the `tls:HOST:PORT` address, the client side (system roots, `--cacert`, `--insecure`,
//! SNI from the host), the server side (`--cert`/`--key`, `--self-signed` with its SHA-256
//! fingerprint, `--client-ca` for mutual TLS), and a failed handshake told in words.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use anyhow::Context;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore, ServerConfig};

use crate::net::addr::{Addr, ParseError};

/// A stream address that may be TLS over TCP: `tls:HOST:PORT` (`tls:PORT` is 127.0.0.1,
/// as `tcp:PORT`), or any address of the grammar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    Plain(Addr),
    /// TLS over the TCP address it holds (always an `Addr::Tcp`).
    Tls(Addr),
}

impl Endpoint {
    /// The socket address underneath: for TLS, its TCP address.
    pub fn addr(&self) -> &Addr {
        match self {
            Endpoint::Plain(a) | Endpoint::Tls(a) => a,
        }
    }

    pub fn is_tls(&self) -> bool {
        matches!(self, Endpoint::Tls(_))
    }

    /// The host a TLS client names (SNI) and checks the certificate against.
    pub fn host(&self) -> Option<&str> {
        match self {
            Endpoint::Tls(Addr::Tcp { host, .. }) => Some(host),
            _ => None,
        }
    }
}

impl FromStr for Endpoint {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.strip_prefix("tls:") {
            Some(rest) => Ok(Endpoint::Tls(crate::net::addr::tcp_address(rest, s)?)),
            None => s.parse().map(Endpoint::Plain),
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Plain(a) => a.fmt(f),
            Endpoint::Tls(a) => {
                let tcp = a.to_string();
                write!(f, "tls:{}", tcp.strip_prefix("tcp:").unwrap_or(&tcp))
            }
        }
    }
}

/// How a TLS client checks the server: the options `relay` and `connect` share.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct ClientOpts {
    /// For a tls: address, trust the CA certificates of FILE (PEM) instead of the system's
    #[arg(long, value_name = "FILE")]
    pub cacert: Option<PathBuf>,
    /// For a tls: address, accept any server certificate, unchecked (curl -k): anyone on
    /// the path can read and change the traffic
    #[arg(long)]
    pub insecure: bool,
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn read_certs(file: &Path) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_file_iter(file)
        .and_then(|i| i.collect::<Result<Vec<_>, _>>())
        .with_context(|| format!("reading certificates from {}", file.display()))?;
    if certs.is_empty() {
        anyhow::bail!(
            "reading certificates from {}: no PEM CERTIFICATE in it",
            file.display()
        );
    }
    Ok(certs)
}

fn roots(file: &Path) -> anyhow::Result<RootCertStore> {
    let mut roots = RootCertStore::empty();
    for c in read_certs(file)? {
        roots
            .add(c)
            .with_context(|| format!("loading the CA certificates of {}", file.display()))?;
    }
    Ok(roots)
}

impl ClientOpts {
    /// The client configuration these options ask for.
    pub fn config(&self) -> anyhow::Result<Arc<ClientConfig>> {
        let builder = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .context("setting up TLS")?;
        let config = if self.insecure {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(Unchecked(provider())))
                .with_no_client_auth()
        } else {
            let roots = match &self.cacert {
                Some(file) => roots(file)?,
                None => {
                    let found = rustls_native_certs::load_native_certs();
                    let mut roots = RootCertStore::empty();
                    roots.add_parsable_certificates(found.certs);
                    if roots.is_empty() {
                        anyhow::bail!(
                            "loading the system's CA certificates: none found; \
                             name one with --cacert FILE"
                        );
                    }
                    roots
                }
            };
            builder.with_root_certificates(roots).with_no_client_auth()
        };
        Ok(Arc::new(config))
    }
}

/// `--insecure`: every certificate is taken, but handshake signatures are still checked
/// (they prove nothing without a checked certificate, yet a broken one is still an error).
#[derive(Debug)]
struct Unchecked(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for Unchecked {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// The TLS client handshake over `io`, naming `host` (SNI, and the name the certificate
/// must carry); a failure is an error whose text says why ([`handshake_error`]).
pub async fn connect<IO>(
    config: Arc<ClientConfig>,
    host: &str,
    io: IO,
) -> io::Result<tokio_rustls::client::TlsStream<IO>>
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let name = ServerName::try_from(host.to_string()).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("'{host}' is not a host name TLS can check a certificate against"),
        )
    })?;
    tokio_rustls::TlsConnector::from(config)
        .connect(name, io)
        .await
        .map_err(|e| io::Error::new(e.kind(), handshake_error(&e)))
}

/// A reason that is a type name (`CaUsedAsEndEntity`, `UnsupportedSignatureAlgorithm`) in
/// words ("CA used as end entity"); any other text as it is.
fn spelled(reason: &str) -> String {
    if reason.is_empty() || !reason.chars().all(|c| c.is_ascii_alphanumeric()) {
        return reason.to_string();
    }
    let mut words = Vec::new();
    for c in reason.chars() {
        if c.is_ascii_uppercase() || words.is_empty() {
            words.push(String::new());
        }
        words.last_mut().unwrap().push(c.to_ascii_lowercase());
    }
    let words: Vec<String> = words
        .into_iter()
        .map(|w| match w.as_str() {
            "ca" | "crl" | "der" | "dns" | "ip" => w.to_ascii_uppercase(),
            _ => w,
        })
        .collect();
    words.join(" ")
}

/// A name a certificate presents, as rustls gives it (`DnsName("example.com")`,
/// `IpAddress(127.0.0.1)`): the name alone.
fn presented_name(p: &str) -> &str {
    p.strip_prefix("DnsName(\"")
        .and_then(|n| n.strip_suffix("\")"))
        .or_else(|| {
            p.strip_prefix("IpAddress(")
                .and_then(|n| n.strip_suffix(')'))
        })
        .unwrap_or(p)
}

/// Why a handshake failed, in words: unknown CA, expired or wrong certificate, no common
/// protocol, an alert from the peer.
pub fn handshake_error(e: &io::Error) -> String {
    use rustls::{AlertDescription as A, CertificateError as C, Error as E};
    let Some(tls) = e.get_ref().and_then(|i| i.downcast_ref::<E>()) else {
        return match e.kind() {
            io::ErrorKind::UnexpectedEof => {
                "TLS handshake: the peer closed the connection (not speaking TLS, or it \
                 refused our certificate or lack of one)"
                    .into()
            }
            _ => format!("TLS handshake: {e}"),
        };
    };
    let words = match tls {
        E::InvalidCertificate(c) => match c {
            C::UnknownIssuer => "unknown CA: the certificate is not signed by a trusted authority \
                 (--cacert FILE names the CA to trust)"
                .to_string(),
            C::Expired | C::ExpiredContext { .. } => "bad certificate: it has expired".into(),
            C::NotValidYet | C::NotValidYetContext { .. } => {
                "bad certificate: it is not valid yet".into()
            }
            C::NotValidForName => "bad certificate: not valid for the host name".into(),
            C::NotValidForNameContext {
                expected,
                presented,
            } => {
                let names: Vec<&str> = presented.iter().map(|p| presented_name(p)).collect();
                match names.as_slice() {
                    [] => format!(
                        "bad certificate: it names no host (no subjectAltName), not {}",
                        expected.to_str()
                    ),
                    _ => format!(
                        "bad certificate: it is for {}, not {}",
                        names.join(", "),
                        expected.to_str()
                    ),
                }
            }
            // What `openssl req -x509` makes by default (basicConstraints CA:TRUE).
            C::Other(o) if o.to_string() == "CaUsedAsEndEntity" => {
                "bad certificate: it is a CA certificate (CA:TRUE), which is no server's own; \
                 `openssl req -x509` makes one unless given \
                 `-addext basicConstraints=critical,CA:FALSE` (--insecure takes it as it is)"
                    .into()
            }
            C::BadSignature => "bad certificate: bad signature".into(),
            C::Revoked => "bad certificate: revoked".into(),
            // webpki's reasons come as type names (CaUsedAsEndEntity): spelled out.
            C::Other(o) => format!("bad certificate: {}", spelled(&o.to_string())),
            other => format!("bad certificate: {}", spelled(&other.to_string())),
        },
        E::AlertReceived(a) => match a {
            A::UnknownCA => "the peer does not trust our certificate (alert: unknown CA)".into(),
            A::BadCertificate => "the peer refused our certificate (alert: bad certificate)".into(),
            A::CertificateRequired => {
                "the peer requires a client certificate (alert: certificate required)".into()
            }
            A::ProtocolVersion | A::HandshakeFailure | A::InsufficientSecurity => {
                format!("no common protocol with the peer (alert: {a:?})")
            }
            other => format!("the peer sent the alert {other:?}"),
        },
        E::PeerIncompatible(p) => format!("no common protocol with the peer ({p:?})"),
        E::NoCertificatesPresented => {
            "the client sent no certificate (--client-ca asks for one)".into()
        }
        E::InvalidMessage(m) => format!("the peer does not speak TLS ({m:?})"),
        other => other.to_string(),
    };
    format!("TLS handshake: {words}")
}

/// How a TLS server presents itself and whom it lets in: `relay`'s listener options.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct ServerOpts {
    /// For a tls: LISTEN, the certificate chain to present (PEM); with --key
    #[arg(long, value_name = "FILE", requires = "key")]
    pub cert: Option<PathBuf>,
    /// For a tls: LISTEN, the private key of --cert (PEM)
    #[arg(long, value_name = "FILE", requires = "cert")]
    pub key: Option<PathBuf>,
    /// For a tls: LISTEN, make a certificate for the listening host now (its SHA-256
    /// fingerprint is logged)
    #[arg(long, conflicts_with_all = ["cert", "key"])]
    pub self_signed: bool,
    /// Write the --self-signed certificate (PEM) to FILE, for clients to trust
    /// (curl --cacert FILE)
    #[arg(long, value_name = "FILE", requires = "self_signed")]
    pub self_signed_out: Option<PathBuf>,
    /// For a tls: LISTEN, require a client certificate signed by a CA of FILE (PEM):
    /// mutual TLS; the certificate's subject is in the connection log
    #[arg(long, value_name = "FILE")]
    pub client_ca: Option<PathBuf>,
}

impl ServerOpts {
    pub fn any(&self) -> bool {
        self.cert.is_some() || self.self_signed || self.client_ca.is_some()
    }

    /// The server configuration, and with --self-signed the certificate's SHA-256
    /// fingerprint (colon-separated hex, as `openssl x509 -fingerprint -sha256` shows it).
    pub fn config(&self, host: &str) -> anyhow::Result<(Arc<ServerConfig>, Option<String>)> {
        let (chain, key, fingerprint) = if self.self_signed {
            let names = vec![host.to_string(), "localhost".to_string()];
            let made = rcgen::generate_simple_self_signed(names)
                .context("making a self-signed certificate")?;
            let der = made.cert.der().clone();
            if let Some(out) = &self.self_signed_out {
                std::fs::write(out, made.cert.pem())
                    .with_context(|| format!("writing the certificate to {}", out.display()))?;
            }
            let key = PrivateKeyDer::try_from(made.signing_key.serialize_der())
                .map_err(|e| anyhow::anyhow!("the self-signed certificate's key: {e}"))?;
            let fp = fingerprint(&der);
            (vec![der], key, Some(fp))
        } else {
            let (Some(cert), Some(key)) = (&self.cert, &self.key) else {
                anyhow::bail!("a tls: LISTEN needs --cert FILE --key FILE, or --self-signed");
            };
            let chain = read_certs(cert)?;
            let key = PrivateKeyDer::from_pem_file(key)
                .with_context(|| format!("reading the private key from {}", key.display()))?;
            (chain, key, None)
        };
        let builder = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .context("setting up TLS")?;
        let builder = match &self.client_ca {
            Some(file) => {
                let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                    Arc::new(roots(file)?),
                    provider(),
                )
                .build()
                .with_context(|| format!("using the client CA of {}", file.display()))?;
                builder.with_client_cert_verifier(verifier)
            }
            None => builder.with_no_client_auth(),
        };
        let config = builder
            .with_single_cert(chain, key)
            .context("loading the certificate and its key")?;
        Ok((Arc::new(config), fingerprint))
    }
}

/// SHA-256 of a certificate, as `AB:CD:...`.
pub fn fingerprint(der: &[u8]) -> String {
    let d = ring::digest::digest(&ring::digest::SHA256, der);
    d.as_ref()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// The subject of the certificate a client presented, as `CN=alice, O=Example`.
pub fn client_subject(conn: &rustls::ServerConnection) -> Option<String> {
    let cert = conn.peer_certificates()?.first()?;
    let (_, parsed) = x509_parser::parse_x509_certificate(cert).ok()?;
    Some(parsed.subject().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// webpki's reasons, which reach us as type names, are spelled out in words.
    #[test]
    fn a_certificate_reason_is_told_in_words() {
        #[derive(Debug)]
        struct Webpki;
        impl std::fmt::Display for Webpki {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("CaUsedAsEndEntity")
            }
        }
        impl std::error::Error for Webpki {}
        let other = rustls::OtherError(std::sync::Arc::new(Webpki));
        let e = io::Error::other(rustls::Error::InvalidCertificate(
            rustls::CertificateError::Other(other),
        ));
        assert!(
            handshake_error(&e)
                .starts_with("TLS handshake: bad certificate: it is a CA certificate (CA:TRUE)"),
            "{}",
            handshake_error(&e)
        );
        let e = io::Error::other(rustls::Error::InvalidCertificate(
            rustls::CertificateError::NotValidForNameContext {
                expected: rustls::pki_types::ServerName::try_from("localhost").unwrap(),
                presented: vec![
                    "DnsName(\"example.com\")".into(),
                    "IpAddress(10.0.0.1)".into(),
                ],
            },
        ));
        assert_eq!(
            handshake_error(&e),
            "TLS handshake: bad certificate: it is for example.com, 10.0.0.1, not localhost"
        );
        let e = io::Error::other(rustls::Error::InvalidCertificate(
            rustls::CertificateError::UnhandledCriticalExtension,
        ));
        assert_eq!(
            handshake_error(&e),
            "TLS handshake: bad certificate: unhandled critical extension"
        );
        assert_eq!(spelled("not a type name"), "not a type name");
    }

    #[test]
    fn tls_addresses_parse_and_display() {
        let e: Endpoint = "tls:example.com:443".parse().unwrap();
        assert_eq!(e.host(), Some("example.com"));
        assert_eq!(e.to_string(), "tls:example.com:443");
        let e: Endpoint = "tls:8443".parse().unwrap();
        assert_eq!(e.to_string(), "tls:127.0.0.1:8443");
        assert_eq!(
            "tls:[::1]:1".parse::<Endpoint>().unwrap().to_string(),
            "tls:[::1]:1"
        );
        assert!(!"/a.sock".parse::<Endpoint>().unwrap().is_tls());
        assert!("tls:x:99999".parse::<Endpoint>().is_err());
        assert!("tls:".parse::<Endpoint>().is_err());
    }
}
