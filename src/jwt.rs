//! The sidecar's own access tokens: EdDSA-signed JWTs issued by the OAuth2 token endpoint
//! (`oauth.rs`) and checked on every request, statelessly, by any replica holding the keys.
//!
//! Keys come from PEM files: the signing key is an Ed25519 PKCS#8 private key (`openssl genpkey
//! -algorithm ed25519`); extra verification keys are Ed25519 public keys (`openssl pkey -pubout`)
//! kept during a rotation. A key's `kid` is derived from the public key itself (the first 16 hex
//! digits of its SHA-256), so every replica names a key the same way with nothing to configure.
//! Keys are never printed: `Debug` shows only the `kid`s. See docs/design/auth-methods.md.

use aws_lc_rs::digest;
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{PrivateKeyDer, SubjectPublicKeyInfoDer};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The longest bearer token looked at as a JWT; longer ones are refused before any parsing.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// The DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410 §4): SEQUENCE, AlgorithmIdentifier
/// id-Ed25519, BIT STRING of 33 bytes; the 32-byte key follows.
const ED25519_SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// The claims of an issued token.
#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    iss: String,
    aud: String,
    sub: String,
    iat: u64,
    nbf: u64,
    exp: u64,
}

/// One public key: its `kid` and the raw 32-byte Ed25519 key.
#[derive(Clone)]
struct PublicKey {
    kid: String,
    key: DecodingKey,
}

/// The signing key, the keys accepted for verification, and the claims every token carries.
#[derive(Clone)]
pub struct Keys {
    kid: String,
    signing: EncodingKey,
    verify: Vec<PublicKey>,
    /// The `iss` claim written and required.
    pub issuer: String,
    /// The `aud` claim written and required.
    pub audience: String,
    /// How long an issued token is valid.
    pub lifetime: Duration,
    /// Clock difference tolerated on `exp` and `nbf`.
    pub clock_skew: Duration,
}

/// Why an issued token was refused; logged, never shown in detail to the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Longer than [`MAX_TOKEN_BYTES`].
    Oversized,
    /// Not three base64url parts with a JSON header, or claims of the wrong shape.
    Malformed,
    /// An algorithm other than EdDSA (`none`, HS256, ...).
    Algorithm,
    /// No `kid`, or one naming none of the keys.
    UnknownKey,
    /// The signature does not verify.
    Signature,
    /// Past `exp` (plus the skew).
    Expired,
    /// Before `nbf` (minus the skew).
    NotYetValid,
    /// Another issuer.
    Issuer,
    /// Another audience.
    Audience,
}

impl Refusal {
    /// A short label for logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::Oversized => "oversized",
            Refusal::Malformed => "malformed",
            Refusal::Algorithm => "algorithm",
            Refusal::UnknownKey => "unknown_kid",
            Refusal::Signature => "signature",
            Refusal::Expired => "expired",
            Refusal::NotYetValid => "not_yet_valid",
            Refusal::Issuer => "wrong_issuer",
            Refusal::Audience => "wrong_audience",
        }
    }
}

/// A failure to load a key file; the message names the problem, never the key.
pub type KeyError = String;

fn kid_of(raw_public: &[u8]) -> String {
    let d = digest::digest(&digest::SHA256, raw_public);
    d.as_ref()[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// Reads an Ed25519 PKCS#8 private key from a PEM file.
pub fn read_signing_key(path: &Path) -> Result<(String, EncodingKey, DecodingKey), KeyError> {
    let key = PrivateKeyDer::from_pem_file(path).map_err(|e| match e {
        rustls::pki_types::pem::Error::Io(io) if io.kind() == std::io::ErrorKind::NotFound => {
            "file not found".to_owned()
        }
        _ => {
            "no PEM private key in the file (expected `openssl genpkey -algorithm ed25519` output)"
                .to_owned()
        }
    })?;
    let PrivateKeyDer::Pkcs8(pkcs8) = key else {
        return Err(
            "the key is not PKCS#8 (expected `openssl genpkey -algorithm ed25519` output)"
                .to_owned(),
        );
    };
    let pair = Ed25519KeyPair::from_pkcs8(pkcs8.secret_pkcs8_der())
        .or_else(|_| Ed25519KeyPair::from_pkcs8_maybe_unchecked(pkcs8.secret_pkcs8_der()))
        .map_err(|_| {
            "not an Ed25519 private key (generate one with `openssl genpkey -algorithm ed25519`)"
                .to_owned()
        })?;
    let public = pair.public_key().as_ref().to_vec();
    Ok((
        kid_of(&public),
        EncodingKey::from_ed_der(pkcs8.secret_pkcs8_der()),
        DecodingKey::from_ed_der(&public),
    ))
}

/// Reads an Ed25519 public key (SubjectPublicKeyInfo PEM, `openssl pkey -pubout`) and its `kid`.
pub fn read_verify_key(path: &Path) -> Result<(String, DecodingKey), KeyError> {
    let spki = SubjectPublicKeyInfoDer::from_pem_file(path).map_err(|e| match e {
        rustls::pki_types::pem::Error::Io(io) if io.kind() == std::io::ErrorKind::NotFound => {
            "file not found".to_owned()
        }
        _ => "no PEM public key in the file (expected `openssl pkey -pubout` output)".to_owned(),
    })?;
    let der: &[u8] = spki.as_ref();
    match der.strip_prefix(&ED25519_SPKI_PREFIX[..]) {
        Some(raw) if raw.len() == 32 => Ok((kid_of(raw), DecodingKey::from_ed_der(raw))),
        _ => Err("not an Ed25519 public key".to_owned()),
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Why a token's header does not parse: `Algorithm` when it names an algorithm `jsonwebtoken`
/// does not know (`"alg": "none"` among them), else `Malformed`.
pub fn header_refusal(token: &str) -> Refusal {
    use base64::Engine as _;
    let alg = token
        .split('.')
        .next()
        .and_then(|h| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(h)
                .ok()
        })
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .and_then(|v| v.get("alg").and_then(|a| a.as_str()).map(str::to_owned));
    match alg {
        Some(a) if a.parse::<Algorithm>().is_err() => Refusal::Algorithm,
        _ => Refusal::Malformed,
    }
}

/// Maps a `jsonwebtoken` error onto a refusal. Every kind is named: a new kind in a later
/// version of the crate falls to `Malformed`, which refuses.
pub fn refusal_of(kind: &ErrorKind) -> Refusal {
    match kind {
        ErrorKind::InvalidSignature => Refusal::Signature,
        ErrorKind::ExpiredSignature => Refusal::Expired,
        ErrorKind::ImmatureSignature => Refusal::NotYetValid,
        ErrorKind::InvalidIssuer => Refusal::Issuer,
        ErrorKind::InvalidAudience => Refusal::Audience,
        ErrorKind::InvalidAlgorithm
        | ErrorKind::InvalidAlgorithmName
        | ErrorKind::MissingAlgorithm => Refusal::Algorithm,
        _ => Refusal::Malformed,
    }
}

// === impl Keys ===

impl Keys {
    /// Builds the key set: the signing key (its public half verifies too) and earlier public keys.
    pub fn new(
        signing: (String, EncodingKey, DecodingKey),
        previous: Vec<(String, DecodingKey)>,
        issuer: String,
        audience: String,
        lifetime: Duration,
        clock_skew: Duration,
    ) -> Keys {
        let (kid, signing, public) = signing;
        let mut verify = vec![PublicKey {
            kid: kid.clone(),
            key: public,
        }];
        verify.extend(
            previous
                .into_iter()
                .filter(|(k, _)| *k != kid)
                .map(|(kid, key)| PublicKey { kid, key }),
        );
        Keys {
            kid,
            signing,
            verify,
            issuer,
            audience,
            lifetime,
            clock_skew,
        }
    }

    /// The `kid` of the signing key.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// Issues a token for `client` valid from now for [`Keys::lifetime`].
    pub fn issue(&self, client: &str) -> Result<String, String> {
        let now = now_secs();
        let claims = Claims {
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            sub: client.to_owned(),
            iat: now,
            nbf: now,
            exp: now + self.lifetime.as_secs(),
        };
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, &claims, &self.signing).map_err(|e| e.to_string())
    }

    /// Verifies a token: size, EdDSA only, a known `kid`, signature, `exp`/`nbf` within the skew,
    /// `iss` and `aud`. Returns the client id (`sub`).
    pub fn verify(&self, token: &str) -> Result<String, Refusal> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(Refusal::Oversized);
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| header_refusal(token))?;
        if header.alg != Algorithm::EdDSA {
            return Err(Refusal::Algorithm);
        }
        let kid = header.kid.ok_or(Refusal::UnknownKey)?;
        let key = self
            .verify
            .iter()
            .find(|k| k.kid == kid)
            .ok_or(Refusal::UnknownKey)?;
        let mut v = Validation::new(Algorithm::EdDSA);
        v.leeway = self.clock_skew.as_secs();
        v.validate_nbf = true;
        v.set_issuer(&[&self.issuer]);
        v.set_audience(&[&self.audience]);
        v.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        let data = jsonwebtoken::decode::<Claims>(token, &key.key, &v)
            .map_err(|e| refusal_of(e.kind()))?;
        Ok(data.claims.sub)
    }
}

impl fmt::Debug for Keys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keys")
            .field("signing_kid", &self.kid)
            .field(
                "verify_kids",
                &self
                    .verify
                    .iter()
                    .map(|k| k.kid.as_str())
                    .collect::<Vec<_>>(),
            )
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("lifetime", &self.lifetime)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys_from(pem: &str, audience: &str) -> Keys {
        let dir = tempfile::tempdir().expect("dir");
        let p = dir.path().join("k.pem");
        std::fs::write(&p, pem).expect("write");
        Keys::new(
            read_signing_key(&p).expect("key"),
            Vec::new(),
            "scim-sidecar".to_owned(),
            audience.to_owned(),
            Duration::from_secs(60),
            Duration::from_secs(0),
        )
    }

    fn pem() -> String {
        let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).expect("ed25519");
        pair.serialize_pem()
    }

    #[test]
    fn an_issued_token_verifies_and_names_its_client() {
        let keys = keys_from(&pem(), "scim");
        let t = keys.issue("entra").expect("issue");
        assert_eq!(keys.verify(&t), Ok("entra".to_owned()));
    }

    #[test]
    fn another_audience_or_key_or_alg_is_refused() {
        let pem = pem();
        let a = keys_from(&pem, "scim-a");
        let b = keys_from(&pem, "scim-b");
        let t = a.issue("entra").expect("issue");
        assert_eq!(b.verify(&t), Err(Refusal::Audience));
        let other = keys_from(&super::tests::pem(), "scim-a");
        assert_eq!(other.verify(&t), Err(Refusal::UnknownKey));
        // alg none: header {"alg":"none"}
        let none = format!(
            "eyJhbGciOiJub25lIn0.{}.",
            t.split('.').nth(1).expect("payload")
        );
        assert!(a.verify(&none).is_err());
        assert_eq!(
            a.verify(&"a".repeat(MAX_TOKEN_BYTES + 1)),
            Err(Refusal::Oversized)
        );
    }

    #[test]
    fn debug_shows_kids_not_keys() {
        let k = keys_from(&pem(), "scim");
        let text = format!("{k:?}");
        assert!(text.contains(k.kid()), "{text}");
        assert!(!text.contains("content"), "{text}");
    }
}
