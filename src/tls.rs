//! TLS for the SCIM listener: PEM loading, a hot-swappable certificate resolver, and the rustls
//! server configuration (aws-lc-rs, TLS 1.2 and 1.3 only, ALPN h2 + http/1.1).

use arc_swap::ArcSwap;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::{ServerConfig, SupportedProtocolVersion};
use std::fmt;
use std::path::Path;
use std::sync::Arc;

/// The crypto provider used everywhere: aws-lc-rs (rustls' default, FIPS-capable, post-quantum
/// key exchange). Passed explicitly to every builder so the process default never matters.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// The lowest TLS version accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MinVersion {
    /// TLS 1.2 and 1.3 (what Entra ID needs: it speaks TLS 1.2).
    Tls12,
    /// TLS 1.3 only.
    Tls13,
}

impl MinVersion {
    /// Parses `"1.2"` or `"1.3"`.
    pub fn parse(s: &str) -> Result<MinVersion, String> {
        match s.trim() {
            "1.2" => Ok(MinVersion::Tls12),
            "1.3" => Ok(MinVersion::Tls13),
            other => Err(format!(
                "unsupported TLS version {other:?}: use \"1.2\" (needed for Entra ID) or \"1.3\""
            )),
        }
    }

    fn versions(self) -> &'static [&'static SupportedProtocolVersion] {
        static TLS12_AND_13: [&SupportedProtocolVersion; 2] =
            [&rustls::version::TLS13, &rustls::version::TLS12];
        static TLS13_ONLY: [&SupportedProtocolVersion; 1] = [&rustls::version::TLS13];
        match self {
            MinVersion::Tls12 => &TLS12_AND_13,
            MinVersion::Tls13 => &TLS13_ONLY,
        }
    }
}

/// Reads a certificate chain and its private key from PEM files and checks that they match.
pub fn load_certified_key(
    cert_file: &Path,
    key_file: &Path,
    provider: &CryptoProvider,
) -> Result<CertifiedKey, TlsFileError> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert_file)
        .map_err(|e| TlsFileError::Cert(describe_pem_error(&e)))?
        .collect::<Result<_, _>>()
        .map_err(|e| TlsFileError::Cert(describe_pem_error(&e)))?;
    if chain.is_empty() {
        return Err(TlsFileError::Cert(
            "no PEM certificate found (expected -----BEGIN CERTIFICATE-----)".to_owned(),
        ));
    }
    let key = PrivateKeyDer::from_pem_file(key_file)
        .map_err(|e| TlsFileError::Key(describe_pem_error(&e)))?;
    CertifiedKey::from_der(chain, key, provider).map_err(|e| TlsFileError::Mismatch(e.to_string()))
}

/// Why the certificate or key could not be loaded; says which file is at fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsFileError {
    /// The certificate file is missing or unreadable or holds no certificate.
    Cert(String),
    /// The key file is missing or unreadable or holds no private key.
    Key(String),
    /// Both loaded, but the key does not belong to the certificate or is unsupported.
    Mismatch(String),
}

impl fmt::Display for TlsFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsFileError::Cert(e) | TlsFileError::Key(e) => f.write_str(e),
            TlsFileError::Mismatch(e) => write!(f, "certificate and key do not match: {e}"),
        }
    }
}

fn describe_pem_error(e: &rustls::pki_types::pem::Error) -> String {
    use rustls::pki_types::pem::Error as E;
    match e {
        E::Io(io) if io.kind() == std::io::ErrorKind::NotFound => "file not found".to_owned(),
        E::Io(io) => format!("cannot read file: {io}"),
        E::NoItemsFound => "no matching PEM section found".to_owned(),
        other => format!("invalid PEM: {other}"),
    }
}

/// A certificate resolver whose certificate can be swapped while the server runs (hot reload):
/// handshakes already under way keep the certificate they started with.
pub struct HotCert {
    current: ArcSwap<CertifiedKey>,
}

impl HotCert {
    /// A resolver serving `key`.
    pub fn new(key: Arc<CertifiedKey>) -> Arc<HotCert> {
        Arc::new(HotCert {
            current: ArcSwap::new(key),
        })
    }

    /// Serves `key` to new handshakes from now on.
    pub fn store(&self, key: Arc<CertifiedKey>) {
        self.current.store(key);
    }
}

impl fmt::Debug for HotCert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HotCert").finish_non_exhaustive()
    }
}

impl ResolvesServerCert for HotCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.load_full())
    }
}

/// The rustls server configuration: the given versions, no client auth, ALPN h2 then http/1.1.
pub fn server_config(
    resolver: Arc<HotCert>,
    min: MinVersion,
    provider: Arc<CryptoProvider>,
) -> Result<Arc<ServerConfig>, rustls::Error> {
    let mut cfg = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(min.versions())?
        .with_no_client_auth()
        .with_cert_resolver(resolver);
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}

/// A self-signed certificate for `names` (used by `demo --tls` and by tests), as PEM strings
/// `(cert, key)`.
pub fn self_signed(names: &[&str]) -> Result<(String, String), rcgen::Error> {
    let names: Vec<String> = names.iter().map(|s| (*s).to_owned()).collect();
    let rcgen::CertifiedKey { cert, signing_key } = rcgen::generate_simple_self_signed(names)?;
    Ok((cert.pem(), signing_key.serialize_pem()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
        let p = dir.join(name);
        let mut f = std::fs::File::create(&p).expect("create");
        f.write_all(text.as_bytes()).expect("write");
        p
    }

    #[test]
    fn loads_a_matching_pair_and_rejects_mismatches_and_missing_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (c1, k1) = self_signed(&["localhost"]).expect("cert 1");
        let (_c2, k2) = self_signed(&["localhost"]).expect("cert 2");
        let cert = write(dir.path(), "tls.crt", &c1);
        let key = write(dir.path(), "tls.key", &k1);
        let other_key = write(dir.path(), "other.key", &k2);
        let p = provider();
        assert!(load_certified_key(&cert, &key, &p).is_ok());
        assert!(matches!(
            load_certified_key(&cert, &other_key, &p),
            Err(TlsFileError::Mismatch(_))
        ));
        assert!(matches!(
            load_certified_key(&dir.path().join("nope.crt"), &key, &p),
            Err(TlsFileError::Cert(e)) if e == "file not found"
        ));
        let garbage = write(dir.path(), "garbage.crt", "hello");
        assert!(matches!(
            load_certified_key(&garbage, &key, &p),
            Err(TlsFileError::Cert(_))
        ));
        assert!(matches!(
            load_certified_key(&cert, &cert, &p),
            Err(TlsFileError::Key(_))
        ));
    }

    #[test]
    fn min_version_parses_only_supported_versions() {
        assert_eq!(MinVersion::parse("1.2"), Ok(MinVersion::Tls12));
        assert_eq!(MinVersion::parse("1.3"), Ok(MinVersion::Tls13));
        assert!(MinVersion::parse("1.1").is_err());
        assert!(MinVersion::parse("tls1.2").is_err());
    }
}
