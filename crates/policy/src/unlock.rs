//! One-time unlock codes: what the helpdesk gives a user whose policy does not let them stop
//! the guard (`controls.quit`) or pause it (for longer than `controls.pause_minutes`). A code
//! is signed with the private key whose public half is the policy's `controls.unlock_key`, and
//! names one device, one action and a time by which it must be used; the guard uses each code
//! once (it keeps the nonces it has seen until they expire).
//!
//! Pure: the caller supplies the nonce and the clock.

use crate::signing::{signing_key, verifying_key, SignatureError};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ed25519_dalek::{Signature, Signer, Verifier};
use sha2::Digest;

const PREFIX: &str = "LGU1-";
/// Signed before the payload, so a code can never be mistaken for another signed thing.
const DOMAIN: &[u8] = b"leakguard-unlock-v1\0";
const PAYLOAD: usize = 1 + 2 + 8 + 8 + 8;

/// What a code lets the user do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnlockAction {
    /// Stop the guard (`leakguard stop --code`, the app's Quit).
    Stop,
    /// Pause for this many minutes, whatever `controls.pause_minutes` says.
    Pause { minutes: u16 },
}

/// A code that verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unlock {
    pub action: UnlockAction,
    /// Unix seconds by which the code had to be used.
    pub expires: i64,
    /// The code's nonce, hex (recorded in the event; the guard refuses it a second time).
    pub nonce: String,
}

/// Why a code was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnlockError {
    #[error("this is not a Leakguard unlock code (they start `{PREFIX}`); copy the whole code from IT's message")]
    Format,
    #[error(
        "the policy in force names no unlock key (controls.unlock_key), so no code can be accepted"
    )]
    NoKey,
    #[error("the policy's unlock key is unusable: {0}")]
    Key(SignatureError),
    #[error("the code's signature does not verify with the policy's unlock key: it was changed, or made with another key")]
    Mismatch,
    #[error("the code was made for another device; give IT this device's name: {0}")]
    OtherDevice(String),
    #[error("the code expired; ask IT for a new one")]
    Expired,
    #[error("the code was already used; ask IT for a new one")]
    Used,
}

/// The 8-byte tag of a device name (case-insensitive).
fn device_tag(device: &str) -> [u8; 8] {
    let d = sha2::Sha256::digest(device.trim().to_lowercase().as_bytes());
    d[..8].try_into().expect("8 bytes")
}

/// Makes a code for `device` (the name in its events' `device` field).
///
/// # Errors
/// A malformed private key text.
pub fn issue(
    private_key: &str,
    device: &str,
    action: UnlockAction,
    expires: i64,
    nonce: [u8; 8],
) -> Result<String, SignatureError> {
    let key = signing_key(private_key)?;
    let (kind, minutes) = match action {
        UnlockAction::Stop => (1u8, 0u16),
        UnlockAction::Pause { minutes } => (2, minutes),
    };
    let mut payload = Vec::with_capacity(PAYLOAD + 64);
    payload.push(kind);
    payload.extend_from_slice(&minutes.to_be_bytes());
    payload.extend_from_slice(&expires.to_be_bytes());
    payload.extend_from_slice(&nonce);
    payload.extend_from_slice(&device_tag(device));
    let sig = key.sign(&[DOMAIN, &payload].concat());
    payload.extend_from_slice(&sig.to_bytes());
    Ok(format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(payload)))
}

/// Reads and checks a code on `device` at `now` (Unix seconds). Whether it was used before is
/// the caller's to check (by [`Unlock::nonce`]).
///
/// # Errors
/// See [`UnlockError`].
pub fn verify(
    code: &str,
    public_key: Option<&str>,
    device: &str,
    now: i64,
) -> Result<Unlock, UnlockError> {
    let body: String = code
        .trim()
        .strip_prefix(PREFIX)
        .ok_or(UnlockError::Format)?
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let bytes = URL_SAFE_NO_PAD
        .decode(body)
        .map_err(|_| UnlockError::Format)?;
    if bytes.len() != PAYLOAD + 64 {
        return Err(UnlockError::Format);
    }
    let key = verifying_key(public_key.ok_or(UnlockError::NoKey)?).map_err(UnlockError::Key)?;
    let (payload, sig) = bytes.split_at(PAYLOAD);
    let sig = Signature::from_bytes(sig.try_into().expect("64 bytes"));
    key.verify(&[DOMAIN, payload].concat(), &sig)
        .map_err(|_| UnlockError::Mismatch)?;
    if payload[19..27] != device_tag(device) {
        return Err(UnlockError::OtherDevice(device.to_string()));
    }
    let expires = i64::from_be_bytes(payload[3..11].try_into().expect("8 bytes"));
    if now > expires {
        return Err(UnlockError::Expired);
    }
    let minutes = u16::from_be_bytes([payload[1], payload[2]]);
    let action = match payload[0] {
        1 => UnlockAction::Stop,
        2 if minutes > 0 => UnlockAction::Pause { minutes },
        _ => return Err(UnlockError::Format),
    };
    Ok(Unlock {
        action,
        expires,
        nonce: payload[11..19].iter().map(|b| format!("{b:02x}")).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signing::keypair;

    #[test]
    fn a_code_works_once_on_its_device_before_it_expires_and_nowhere_else() {
        let (private, public) = keypair([3; 32]);
        let code = issue(&private, "Laptop-42", UnlockAction::Stop, 1_000, [9; 8]).unwrap();
        assert!(code.starts_with(PREFIX) && code.len() < 140, "{code}");
        let ok = verify(&code, Some(&public), "laptop-42", 999).unwrap();
        assert_eq!(ok.action, UnlockAction::Stop);
        assert_eq!(ok.nonce, "0909090909090909");
        assert_eq!(ok.expires, 1_000);
        // Wrapped over lines in an e-mail: still read.
        let wrapped = format!("{}\n  {}", &code[..60], &code[60..]);
        assert!(verify(&wrapped, Some(&public), "Laptop-42", 0).is_ok());
        assert_eq!(
            verify(&code, Some(&public), "laptop-43", 999),
            Err(UnlockError::OtherDevice("laptop-43".into()))
        );
        assert_eq!(
            verify(&code, Some(&public), "Laptop-42", 1_001),
            Err(UnlockError::Expired)
        );
        let (_, other) = keypair([4; 32]);
        assert_eq!(
            verify(&code, Some(&other), "Laptop-42", 0),
            Err(UnlockError::Mismatch)
        );
        assert_eq!(verify(&code, None, "Laptop-42", 0), Err(UnlockError::NoKey));
        // One changed character anywhere: refused.
        for i in PREFIX.len()..code.len() {
            let mut b = code.clone().into_bytes();
            b[i] = if b[i] == b'A' { b'B' } else { b'A' };
            let tampered = String::from_utf8(b).unwrap();
            assert!(
                verify(&tampered, Some(&public), "Laptop-42", 0).is_err(),
                "position {i}"
            );
        }
        assert_eq!(
            verify("hello", Some(&public), "Laptop-42", 0),
            Err(UnlockError::Format)
        );
        let pause = issue(
            &private,
            "Laptop-42",
            UnlockAction::Pause { minutes: 90 },
            1_000,
            [1; 8],
        )
        .unwrap();
        assert_eq!(
            verify(&pause, Some(&public), "Laptop-42", 0)
                .unwrap()
                .action,
            UnlockAction::Pause { minutes: 90 }
        );
        // A policy signature is not an unlock code, and a code signs nothing else.
        let sig = crate::signing::sign(b"x", &private).unwrap();
        assert_eq!(
            verify(&sig, Some(&public), "Laptop-42", 0),
            Err(UnlockError::Format)
        );
    }
}
