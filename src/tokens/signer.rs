//! The test harness's signing key: generated once per process, trusted only by engines
//! compiled for tests ([`crate::testing::compile`]).

use std::sync::OnceLock;

use ed25519_dalek::pkcs8::EncodePrivateKey;
use ed25519_dalek::SigningKey;
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, EncodingKey, Header};

use super::jwks::KeySet;

/// The key id the harness signs with.
pub(crate) const TEST_KID: &str = "portcullis-test-key";

pub(crate) struct TestSigner {
    encoding: EncodingKey,
    public: [u8; 32],
}

/// The process's test signer; `None` only if the system has no randomness to give.
pub(crate) fn signer() -> Option<&'static TestSigner> {
    static SIGNER: OnceLock<Option<TestSigner>> = OnceLock::new();
    SIGNER
        .get_or_init(|| {
            let mut seed = [0u8; 32];
            getrandom::fill(&mut seed).ok()?;
            let key = SigningKey::from_bytes(&seed);
            let der = key.to_pkcs8_der().ok()?;
            Some(TestSigner {
                encoding: EncodingKey::from_ed_der(der.as_bytes()),
                public: key.verifying_key().to_bytes(),
            })
        })
        .as_ref()
}

impl TestSigner {
    /// Signs `claims` with EdDSA under [`TEST_KID`].
    pub(crate) fn sign(&self, claims: &serde_json::Value) -> Option<String> {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(TEST_KID.to_owned());
        jsonwebtoken::encode(&header, claims, &self.encoding).ok()
    }

    /// The key set holding the public key.
    pub(crate) fn key_set(&self) -> KeySet {
        KeySet::single(
            TEST_KID,
            AlgorithmFamily::Ed,
            DecodingKey::from_ed_der(&self.public),
        )
    }
}

/// Signs a test case's `token_claims` with the harness key: `iss` and `aud` default to the
/// engine's only issuer, `exp` to an hour from now.
pub(crate) fn sign_case(
    engine: &crate::Engine,
    claims: &std::collections::BTreeMap<String, crate::policy::model::ClaimValueDef>,
) -> Result<String, String> {
    use serde_json::{Map, Value};
    let tokens = engine
        .callers
        .tokens
        .as_ref()
        .ok_or("the policy has no `[tokens]` issuers")?;
    let mut map: Map<String, Value> = claims
        .iter()
        .map(|(k, v)| (k.clone(), to_json(v)))
        .collect();
    let only = match tokens.verifier.issuers.as_slice() {
        [one] => Some(one),
        _ => None,
    };
    for (claim, default) in [
        ("iss", only.map(|i| Value::from(i.iss.clone()))),
        (
            "aud",
            only.and_then(|i| i.audiences.first())
                .map(|a| Value::from(a.clone())),
        ),
        ("exp", Some(Value::from(super::verify::now() + 3600))),
    ] {
        if !map.contains_key(claim) {
            let value = default.ok_or_else(|| {
                format!("`token_claims` needs `{claim}`: the policy has several issuers")
            })?;
            map.insert(claim.to_owned(), value);
        }
    }
    let s = signer().ok_or("no randomness for the test key")?;
    s.sign(&Value::Object(map))
        .ok_or_else(|| "the test key could not sign".to_owned())
}

fn to_json(v: &crate::policy::model::ClaimValueDef) -> serde_json::Value {
    use crate::policy::model::ClaimValueDef as D;
    use serde_json::Value;
    match v {
        D::Text(t) => Value::from(t.clone()),
        D::Integer(i) => Value::from(*i),
        D::Float(f) => Value::from(*f),
        D::Bool(b) => Value::from(*b),
        D::List(items) => Value::Array(items.iter().map(to_json).collect()),
        D::Map(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), to_json(v))).collect()),
    }
}
