//! HTTPS for the emulator's listeners: a local certificate authority, a server certificate
//! it signs, and a listener that completes TLS handshakes before axum serves the connection.
//!
//! ```text
//! data_dir/tls/
//!   ca.pem           the CA certificate: what clients trust (`Emulator::ca_file`)
//!   server.pem       server certificate for localhost, 127.0.0.1 and ::1, signed by the CA
//!   server-key.pem   its private key (mode 0600)
//! ```
//!
//! The files are generated when any of them is missing and reused otherwise, so a client that
//! trusts `ca.pem` once keeps working across restarts. The CA's private key is never written:
//! regenerating the server certificate means a new CA too. TLS uses rustls with its `ring`
//! provider, chosen explicitly (no process-wide default is installed).

use std::fs;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::Context as _;
use futures::StreamExt as _;
use futures::stream::FuturesUnordered;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use crate::timefmt;

/// Folder of the TLS files under the data folder.
pub(crate) const TLS_DIR: &str = "tls";
const CA_FILE: &str = "ca.pem";
const CERT_FILE: &str = "server.pem";
const KEY_FILE: &str = "server-key.pem";

/// Names the server certificate is valid for.
const SERVER_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// A handshake that takes longer than this is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The emulator's TLS material, loaded or generated.
#[derive(Debug, Clone)]
pub(crate) struct Tls {
    /// The CA certificate clients trust.
    pub ca_file: PathBuf,
    /// The rustls server configuration shared by all listeners.
    pub config: Arc<ServerConfig>,
}

impl Tls {
    /// Loads the certificate and key under `dir`, generating all three files first when any is
    /// missing.
    pub(crate) fn load_or_create(dir: &Path) -> anyhow::Result<Self> {
        let (ca, cert, key) = (dir.join(CA_FILE), dir.join(CERT_FILE), dir.join(KEY_FILE));
        if !(ca.is_file() && cert.is_file() && key.is_file()) {
            generate(dir).with_context(|| {
                format!("cannot create the TLS certificates in {}", dir.display())
            })?;
        }
        let config = server_config(&cert, &key).with_context(|| {
            format!(
                "cannot load the TLS certificate {} and key {}: delete the folder {} to have \
                 new ones generated",
                cert.display(),
                key.display(),
                dir.display()
            )
        })?;
        Ok(Self {
            ca_file: ca,
            config: Arc::new(config),
        })
    }
}

/// Validity of the generated certificates: from a year ago for twenty years.
fn validity(params: &mut CertificateParams) {
    let year = timefmt::civil(timefmt::unix_secs(SystemTime::now()) as i64).year as i32;
    params.not_before = rcgen::date_time_ymd(year - 1, 1, 1);
    params.not_after = rcgen::date_time_ymd(year + 20, 1, 1);
}

/// Generates a CA and a server certificate signed by it, and writes the three files.
fn generate(dir: &Path) -> anyhow::Result<()> {
    let ca_key = KeyPair::generate()?;
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.distinguished_name
        .push(DnType::CommonName, "ADLS write-back emulator local CA");
    ca.distinguished_name
        .push(DnType::OrganizationName, "ADLS write-back emulator");
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    validity(&mut ca);
    let ca_cert = ca.self_signed(&ca_key)?;
    let issuer = Issuer::new(ca, ca_key);

    let server_key = KeyPair::generate()?;
    let names: Vec<String> = SERVER_NAMES.iter().map(|s| s.to_string()).collect();
    let mut server = CertificateParams::new(names)?;
    server.distinguished_name = rcgen::DistinguishedName::new();
    server
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    server.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    server.use_authority_key_identifier_extension = true;
    validity(&mut server);
    let server_cert = server.signed_by(&server_key, &issuer)?;

    fs::create_dir_all(dir)?;
    write_private(&dir.join(KEY_FILE), &server_key.serialize_pem())?;
    fs::write(dir.join(CERT_FILE), server_cert.pem())?;
    // The CA last: its presence marks a complete set.
    fs::write(dir.join(CA_FILE), ca_cert.pem())?;
    tracing::info!(dir = %dir.display(), "generated the emulator's TLS certificates");
    Ok(())
}

/// Writes a file only its owner may read.
fn write_private(path: &Path, contents: &str) -> io::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    io::Write::write_all(&mut options.open(path)?, contents.as_bytes())
}

/// A rustls server configuration (ring provider, HTTP/1.1) for a certificate and key.
fn server_config(cert: &Path, key: &Path) -> anyhow::Result<ServerConfig> {
    let chain = CertificateDer::pem_file_iter(cert)?.collect::<Result<Vec<_>, _>>()?;
    let key = PrivateKeyDer::from_pem_file(key)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

type Handshake =
    Pin<Box<dyn Future<Output = (io::Result<TlsStream<TcpStream>>, SocketAddr)> + Send>>;

/// A TCP listener whose accepted connections have completed a TLS handshake.
///
/// Handshakes run concurrently inside `accept`, so a slow or silent client delays nobody.
pub(crate) struct TlsListener {
    tcp: TcpListener,
    acceptor: TlsAcceptor,
    handshakes: FuturesUnordered<Handshake>,
}

impl TlsListener {
    /// Serves TLS with `config` on an already bound listener.
    pub(crate) fn new(tcp: TcpListener, config: Arc<ServerConfig>) -> Self {
        Self {
            tcp,
            acceptor: TlsAcceptor::from(config),
            handshakes: FuturesUnordered::new(),
        }
    }

    fn start_handshake(&mut self, stream: TcpStream, peer: SocketAddr) {
        let accept = self.acceptor.accept(stream);
        self.handshakes.push(Box::pin(async move {
            let result = match tokio::time::timeout(HANDSHAKE_TIMEOUT, accept).await {
                Ok(result) => result,
                Err(_) => Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "TLS handshake timed out",
                )),
            };
            (result, peer)
        }));
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            tokio::select! {
                accepted = self.tcp.accept() => match accepted {
                    Ok((stream, peer)) => self.start_handshake(stream, peer),
                    Err(e) => accept_error(e).await,
                },
                Some((result, peer)) = self.handshakes.next(), if !self.handshakes.is_empty() => {
                    match result {
                        Ok(stream) => return (stream, peer),
                        Err(e) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                    }
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

/// Per-connection accept errors are skipped; others (out of file descriptors) pause a while.
async fn accept_error(e: io::Error) {
    use io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if !matches!(
        e.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        tracing::error!(error = %e, "accept failed");
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Serves `router` on `listener` until `signal`, over TLS when `tls` is given.
pub(crate) async fn serve(
    listener: TcpListener,
    router: axum::Router,
    tls: Option<Arc<ServerConfig>>,
    signal: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    match tls {
        None => {
            axum::serve(listener, router)
                .with_graceful_shutdown(signal)
                .await
        }
        Some(config) => {
            axum::serve(TlsListener::new(listener, config), router)
                .with_graceful_shutdown(signal)
                .await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generates_once_and_reuses() {
        let dir = tempfile::tempdir().unwrap();
        let tls_dir = dir.path().join(TLS_DIR);
        let first = Tls::load_or_create(&tls_dir).unwrap();
        let ca = fs::read(&first.ca_file).unwrap();
        let cert = fs::read(tls_dir.join(CERT_FILE)).unwrap();
        let again = Tls::load_or_create(&tls_dir).unwrap();
        assert_eq!(again.ca_file, first.ca_file);
        assert_eq!(fs::read(&again.ca_file).unwrap(), ca);
        assert_eq!(fs::read(tls_dir.join(CERT_FILE)).unwrap(), cert);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = fs::metadata(tls_dir.join(KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        fs::remove_file(tls_dir.join(KEY_FILE)).unwrap();
        Tls::load_or_create(&tls_dir).unwrap();
        assert_ne!(fs::read(tls_dir.join(CA_FILE)).unwrap(), ca, "a new set");
    }

    #[test]
    fn unreadable_material_explains_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        for name in [CA_FILE, CERT_FILE, KEY_FILE] {
            fs::write(dir.path().join(name), "garbage").unwrap();
        }
        let message = format!("{:#}", Tls::load_or_create(dir.path()).unwrap_err());
        assert!(message.contains("delete the folder"), "{message}");
    }
}
