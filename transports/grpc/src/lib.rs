#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod auth;
mod budget;
#[cfg(feature = "client")]
mod client;
mod config;
#[cfg(feature = "client")]
mod connector;
mod convert;
mod error;
#[cfg(test)]
mod fuzz;
#[cfg(any(feature = "client", feature = "server"))]
mod link;
#[cfg(any(feature = "client", feature = "server"))]
mod plane;
mod receive;
mod records;
mod send;
#[cfg(feature = "server")]
pub mod server;
mod shard;
mod transport;

#[cfg(feature = "server")]
pub use auth::{check as check_secret, Required};
pub use auth::{Secret, AUTH_KEY};
/// TLS configurations, shared with the data plane ([`blit_tls`]).
pub use blit_tls::{ClientTls, ServerTls};
#[cfg(feature = "client")]
pub use client::{list, modules, pull, push};
pub use config::{GrpcConfig, ModuleInfo, RemoteSpec, TransportMode, CHUNK_SIZE, DEFAULT_PORT, MAX_MESSAGE_SIZE};
pub use error::{error_from_status, status_from_error};
pub use transport::GrpcTransport;

/// The scheme this transport registers under.
pub const SCHEME: &str = "grpc";

/// The wire protocol version this build speaks.
pub const PROTOCOL_VERSION: u32 = blit_proto::PROTOCOL_VERSION;

/// Registers the gRPC payload transport under [`SCHEME`]. The registered
/// factory builds a loopback transport ([`GrpcTransport::loopback`]); remote
/// sessions go through [`push`] and [`pull`].
pub fn register(registry: &mut blit_api::Registry) {
    registry.register(
        SCHEME,
        std::sync::Arc::new(|| {
            Ok(std::sync::Arc::new(GrpcTransport::loopback()) as std::sync::Arc<dyn blit_api::PayloadTransport>)
        }),
    );
}
