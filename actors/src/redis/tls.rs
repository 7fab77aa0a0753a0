//! [`TlsRoots`]: the certificates a `rediss` server's certificate must chain to, the system's
//! or those of `REDIS_CA_FILE`, made once into the TLS client's settings.

use std::fmt;
use std::sync::{Arc, OnceLock};

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::{ClientConfig, RootCertStore};
use tokio_rustls::TlsConnector;

/// The TLS client settings for one set of trusted roots; clones share them.
#[derive(Clone)]
pub struct TlsRoots {
    /// Where the roots came from, for the log and for comparing settings.
    source: String,
    client: Arc<ClientConfig>,
}

impl TlsRoots {
    /// The system's root certificates (Debian's `ca-certificates`), read once per process.
    pub fn system() -> Result<Self, String> {
        static SYSTEM: OnceLock<Result<TlsRoots, String>> = OnceLock::new();
        SYSTEM
            .get_or_init(|| {
                let found = rustls_native_certs::load_native_certs();
                let roots = trusting("the system's root certificates", found.certs)?;
                if roots.is_empty() {
                    return Err("the system has no root certificates (install \
                        ca-certificates, or name a PEM file in REDIS_CA_FILE)"
                        .into());
                }
                settings("the system's root certificates", roots)
            })
            .clone()
    }

    /// Only the certificates of the PEM file at `path` (a private CA).
    pub fn from_pem_file(path: &str) -> Result<Self, String> {
        let certificates = CertificateDer::pem_file_iter(path)
            .and_then(|all| all.collect::<Result<Vec<_>, _>>())
            .map_err(|err| format!("{path} cannot be read as PEM certificates: {err}"))?;
        let roots = trusting(path, certificates)?;
        if roots.is_empty() {
            return Err(format!("{path} holds no certificate"));
        }
        settings(path, roots)
    }

    /// `tcp` wrapped in TLS, the server's certificate checked for `host`.
    pub async fn connect(
        &self,
        host: &str,
        tcp: TcpStream,
    ) -> Result<TlsStream<TcpStream>, std::io::Error> {
        let name = ServerName::try_from(host.to_owned()).map_err(|_| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("{host:?} cannot be checked against a certificate"),
            )
        })?;
        TlsConnector::from(self.client.clone())
            .connect(name, tcp)
            .await
    }
}

fn trusting(
    source: &str,
    certificates: Vec<CertificateDer<'static>>,
) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    for certificate in certificates {
        roots
            .add(certificate)
            .map_err(|err| format!("{source}: a certificate that cannot be used: {err}"))?;
    }
    Ok(roots)
}

/// The TLS client's settings trusting `roots`.
fn settings(source: &str, roots: RootCertStore) -> Result<TlsRoots, String> {
    // ring: the provider that builds with gcc alone (aws-lc-rs also needs cmake). rustls
    // deprecates it for lacking post-quantum key exchange: a trade made for the build.
    #[allow(deprecated)]
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let client = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|err| format!("TLS cannot be set up: {err}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(TlsRoots {
        source: source.to_owned(),
        client: Arc::new(client),
    })
}

impl fmt::Debug for TlsRoots {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TlsRoots({})", self.source)
    }
}

impl PartialEq for TlsRoots {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl Eq for TlsRoots {}
