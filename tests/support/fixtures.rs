//! Fixture files shared by the integration tests, parsed: the RFC 7643 §8.2 example User.

use serde_json::Value;

/// The full User representation of RFC 7643 §8.2 (the certificate value shortened to one line of
/// valid base64).
pub fn babs() -> Value {
    serde_json::from_str(include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/rfc7643/babs.json"
    )))
    .expect("tests/fixtures/rfc7643/babs.json is JSON")
}
