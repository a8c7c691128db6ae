#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod config;
mod transport;

pub use config::PipeConfig;
pub use transport::PipeTransport;

/// The scheme this transport registers under.
pub const SCHEME: &str = "pipe";

/// Registers the pipe payload transport under [`SCHEME`], with the default
/// [`PipeConfig`].
pub fn register(registry: &mut blit_api::Registry) {
    registry.register(
        SCHEME,
        std::sync::Arc::new(|| {
            Ok(std::sync::Arc::new(PipeTransport::new()?) as std::sync::Arc<dyn blit_api::PayloadTransport>)
        }),
    );
}
