#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod blocking;
mod client;
mod pem;
mod server;

pub use blocking::BlockingTls;
pub use client::ClientTls;
pub use server::ServerTls;

/// Re-exported so users of this crate name the same stream types.
pub use tokio_rustls;

/// The ALPN protocol of the gRPC control plane (HTTP/2).
pub const ALPN_CONTROL: &[u8] = b"h2";

/// The ALPN protocol of a TCP data-plane connection.
pub const ALPN_DATA: &[u8] = b"blit-data/1";

/// The crypto provider every configuration uses (ring).
fn provider() -> std::sync::Arc<rustls::crypto::CryptoProvider> {
    std::sync::Arc::new(rustls::crypto::ring::default_provider())
}

#[cfg(test)]
mod tests;

#[cfg(any(test, feature = "_testing"))]
pub mod testing;
