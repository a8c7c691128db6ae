//! The one-time session token: 256 random bits, compared in constant time.

use blit_api::{Error, ErrorKind, Result};

/// Bytes in a token.
pub const TOKEN_LEN: usize = 32;

/// A one-time data-plane token. The side that listens makes a fresh one per
/// session and sends it to its peer over the (already authenticated) control
/// stream; every data connection must present it first.
///
/// `Debug` never shows the bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct Token([u8; TOKEN_LEN]);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(..)")
    }
}

impl Token {
    /// A fresh random token from the operating system's generator.
    pub fn random() -> Result<Token> {
        let mut bytes = [0u8; TOKEN_LEN];
        getrandom::getrandom(&mut bytes).map_err(|e| {
            Error::new(ErrorKind::Unexpected, format!("the system random generator failed: {e}"))
                .with_hint("the data plane needs /dev/urandom or getrandom(2)")
        })?;
        Ok(Token(bytes))
    }

    /// A token received from the peer; refuses anything but 32 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Token> {
        let bytes = <[u8; TOKEN_LEN]>::try_from(bytes).map_err(|_| {
            Error::new(ErrorKind::Protocol, format!("a data-plane token of {} bytes; it must be 32", bytes.len()))
        })?;
        Ok(Token(bytes))
    }

    /// The raw bytes, to send to the peer.
    pub fn as_bytes(&self) -> &[u8; TOKEN_LEN] {
        &self.0
    }

    /// Whether `other` equals this token, in time that does not depend on
    /// where they differ.
    pub fn matches(&self, other: &[u8]) -> bool {
        if other.len() != TOKEN_LEN {
            return false;
        }
        let mut diff = 0u8;
        for (a, b) in self.0.iter().zip(other) {
            diff |= a ^ b;
        }
        // Keep the optimiser from turning the fold into an early exit.
        std::hint::black_box(diff) == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_compare_exactly() {
        let a = Token::random().unwrap();
        let b = Token::random().unwrap();
        assert_ne!(a, b);
        assert!(a.matches(a.as_bytes()));
        assert!(!a.matches(b.as_bytes()));
        let mut close = *a.as_bytes();
        close[31] ^= 1;
        assert!(!a.matches(&close));
        assert!(!a.matches(&a.as_bytes()[..31]));
        assert_eq!(format!("{a:?}"), "Token(..)");
        assert_eq!(Token::from_bytes(a.as_bytes()).unwrap(), a);
        assert_eq!(Token::from_bytes(&[0; 31]).unwrap_err().kind(), ErrorKind::Protocol);
    }
}
