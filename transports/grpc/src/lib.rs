#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

#[cfg(feature = "client")]
mod admin;
mod auth;
#[cfg(feature = "client")]
mod client;
mod config;
#[cfg(feature = "client")]
mod connector;
mod error;
#[cfg(feature = "client")]
mod pipe;
#[cfg(feature = "client")]
mod relay;
#[cfg(feature = "server")]
pub mod server;

#[cfg(feature = "client")]
pub use admin::{cancel, jobs, remove, remove_if, space};
#[cfg(feature = "server")]
pub use auth::{check as check_secret, presented as presented_secret, Required};
pub use auth::{Secret, AUTH_KEY};
pub use blit_session::{
    GrpcTransport, ModuleInfo, PortRange, RemoteSpec, TransportMode, CHUNK_SIZE, DEFAULT_PORT, MAX_MESSAGE_SIZE,
    PROTOCOL_VERSION, SCHEME,
};
/// TLS configurations, shared with the data plane ([`blit_tls`]).
pub use blit_tls::{ClientTls, ServerTls};
#[cfg(feature = "client")]
pub use client::{list, modules, pull, push};
pub use config::GrpcConfig;
pub use error::{error_from_status, status_from_error, unauthenticated};
#[cfg(feature = "client")]
pub use pipe::Pipe;
#[cfg(feature = "client")]
pub use relay::{grant, relay, Grant, RelayTo, MAX_RELAY_CA};

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
