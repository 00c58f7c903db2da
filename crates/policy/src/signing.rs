//! Detached ed25519 signatures over the exact bytes of a policy file. IT signs with a private
//! key kept off the laptops; each laptop pins the public key at install time and refuses an
//! unsigned or badly signed policy. Keys and signatures are base64 text with a prefix naming
//! what they are, so a wrong file is refused with a clear message.
//!
//! Pure: randomness for key generation is passed in, files are read by the caller.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};

const PRIVATE: &str = "leakguard-policy-private-key-ed25519:";
const PUBLIC: &str = "leakguard-policy-public-key-ed25519:";
const SIGNATURE: &str = "leakguard-policy-signature-ed25519:";

/// Why signing or verification failed.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignatureError {
    #[error("not a Leakguard {0} (expected a line starting `{1}`); make one with `leakguard policy keygen`")]
    Format(&'static str, &'static str),
    #[error("the policy's signature does not verify with the pinned key: the file was changed after signing, or signed with another key")]
    Mismatch,
    #[error("the policy has no signature (`<policy>.sig`), and a public key is pinned: unsigned policies are refused")]
    Unsigned,
}

fn decode<const N: usize>(
    text: &str,
    prefix: &'static str,
    what: &'static str,
) -> Result<[u8; N], SignatureError> {
    let body = text
        .trim()
        .strip_prefix(prefix)
        .ok_or(SignatureError::Format(what, prefix))?;
    let bytes = STANDARD
        .decode(body.trim())
        .map_err(|_| SignatureError::Format(what, prefix))?;
    bytes
        .try_into()
        .map_err(|_| SignatureError::Format(what, prefix))
}

/// The private key in a key text (`leakguard policy keygen`'s `.key` file).
pub(crate) fn signing_key(text: &str) -> Result<SigningKey, SignatureError> {
    Ok(SigningKey::from_bytes(&decode::<32>(
        text,
        PRIVATE,
        "private key",
    )?))
}

/// The public key in a key text (the `.pub` file).
pub(crate) fn verifying_key(text: &str) -> Result<VerifyingKey, SignatureError> {
    VerifyingKey::from_bytes(&decode::<32>(text, PUBLIC, "public key")?)
        .map_err(|_| SignatureError::Format("public key", PUBLIC))
}

/// A key pair from 32 random bytes: (private key text, public key text).
pub fn keypair(seed: [u8; 32]) -> (String, String) {
    let key = SigningKey::from_bytes(&seed);
    (
        format!("{PRIVATE}{}\n", STANDARD.encode(key.to_bytes())),
        format!(
            "{PUBLIC}{}\n",
            STANDARD.encode(key.verifying_key().to_bytes())
        ),
    )
}

/// The detached signature text of `policy` (the file's exact bytes).
///
/// # Errors
/// A malformed private key text.
pub fn sign(policy: &[u8], private_key: &str) -> Result<String, SignatureError> {
    let key = signing_key(private_key)?;
    Ok(format!(
        "{SIGNATURE}{}\n",
        STANDARD.encode(key.sign(policy).to_bytes())
    ))
}

/// Checks a detached signature of `policy` against a public key.
///
/// # Errors
/// A malformed key or signature, or a signature that does not verify.
pub fn verify(policy: &[u8], signature: &str, public_key: &str) -> Result<(), SignatureError> {
    let key = verifying_key(public_key)?;
    let sig = Signature::from_bytes(&decode::<64>(signature, SIGNATURE, "signature")?);
    key.verify(policy, &sig)
        .map_err(|_| SignatureError::Mismatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_verify_and_every_way_to_fail() {
        let (private, public) = keypair([7; 32]);
        let policy = br#"{"version": 1}"#;
        let sig = sign(policy, &private).unwrap();
        assert_eq!(verify(policy, &sig, &public), Ok(()));
        assert_eq!(
            verify(br#"{"version": 1 }"#, &sig, &public),
            Err(SignatureError::Mismatch),
            "one added space breaks it"
        );
        let (_, other_public) = keypair([8; 32]);
        assert_eq!(
            verify(policy, &sig, &other_public),
            Err(SignatureError::Mismatch)
        );
        assert!(matches!(
            verify(policy, &sig, &private),
            Err(SignatureError::Format("public key", _))
        ));
        assert!(matches!(
            verify(policy, "garbage", &public),
            Err(SignatureError::Format("signature", _))
        ));
        assert!(matches!(
            sign(policy, &public),
            Err(SignatureError::Format("private key", _))
        ));
    }
}
