//! blit's control plane: one transfer session between a client and a
//! daemon, over any medium that carries its frames in order.
//!
//! A session is one stream of `blit_proto::pb::Frame`s each way. The client
//! opens it with `Open` ([`client::push`], [`client::pull`], over a
//! [`client::Dialer`]); the daemon checks it and answers `Opened`
//! ([`server::accept`], [`server::serve`]); the two sides may negotiate a
//! [`DataPlane`] for the payload; then each side runs its half of the one
//! pipeline (`blit_engine::run_source` or `run_destination`) with its
//! manifest, need list and events on the stream (the `link` module
//! explains the credit that keeps every queue bounded without deadlock),
//! and the session ends with `Done` or `Error` from each side.
//!
//! The medium only moves frames ([`frames`]): the gRPC crate
//! (`blit-transport-grpc`) is tonic's client and service glue around this
//! crate. Payload records
//! travel on the session's own stream ([`InStream`], the transport
//! registered as `grpc`) or, with the `tcp-data-plane` feature, on the raw
//! TCP data plane; both are [`DataPlane`]s.
//!
//! Everything a peer sends is validated: paths with `..`, absolute paths
//! and NUL bytes are protocol errors, a peer that speaks another
//! [`PROTOCOL_VERSION`] is refused with both versions named, and a daemon
//! shows module directories as `/<module>`, never their place on its disk.

#![deny(missing_docs)]

pub mod admin;
mod budget;
pub mod client;
mod config;
mod convert;
pub mod error;
pub mod frames;
#[cfg(test)]
mod fuzz;
pub mod jobs;
mod link;
mod meter;
mod plane;
mod ports;
mod receive;
mod records;
pub mod relay;
mod send;
pub mod server;
mod shard;
mod transport;
pub mod wire;

pub use config::{
    address, ModuleInfo, RemoteSpec, SessionConfig, TransportMode, CHUNK_SIZE, DEFAULT_PORT, MAX_MESSAGE_SIZE,
};
pub use plane::{DataPlane, InStream};
pub use ports::PortRange;
pub use transport::GrpcTransport;

/// The scheme the in-stream transport registers under.
pub const SCHEME: &str = "grpc";

/// The wire protocol version this build speaks.
pub const PROTOCOL_VERSION: u32 = blit_proto::PROTOCOL_VERSION;
