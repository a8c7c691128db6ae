#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod assemble;
mod auth;
mod config;
pub mod frame;
mod inbound;
mod link;
mod out;
mod probe;
mod ramp;
mod receive;
mod send;
mod shard;
mod shared;
mod splice;
mod token;
mod transport;
mod whole;

pub use auth::{connect, connect_tls, Acceptor, HELLO_LEN, HELLO_TIMEOUT, TOKEN_TTL};
pub use config::{Compression, TcpConfig, AUTO_STREAMS, DEFAULT_CHUNK, DEFAULT_ZSTD_LEVEL, MAX_STREAMS};
pub use link::Link;
pub use shared::{Closer, Tuning};
pub use token::{Token, TOKEN_LEN};
pub use transport::TcpTransport;

/// The scheme this transport registers under.
pub const SCHEME: &str = "tcp";

/// Registers the TCP payload transport under [`SCHEME`]. The registered
/// factory builds a loopback transport ([`TcpTransport::loopback`]); remote
/// sessions negotiate their connections on the control stream and build
/// their own with [`TcpTransport::new`].
pub fn register(registry: &mut blit_api::Registry) {
    registry.register(
        SCHEME,
        std::sync::Arc::new(|| {
            Ok(std::sync::Arc::new(TcpTransport::loopback(TcpConfig::default())?)
                as std::sync::Arc<dyn blit_api::PayloadTransport>)
        }),
    );
}
