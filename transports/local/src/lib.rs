#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod backup;
mod basis;
mod beneath;
mod copy;
mod flush;
mod judge;
mod landing;
mod link_land;
mod link_table;
mod listing;
mod meta;
mod need_list;
mod ownership;
mod partial;
mod policy;
mod pool;
mod preserve;
mod sweep;
mod temp;
#[cfg(test)]
mod testutil;
mod transport;
mod tree;
mod verify;
mod walker;
pub mod xattr;

pub use listing::list;
pub use need_list::LocalDestination;
pub use partial::part_name;
pub use policy::DestinationPolicy;
pub use transport::LocalTransport;
pub use tree::Anchor;
pub use walker::LocalSource;

/// Reads, once, what the filesystem layer would otherwise read from the
/// system on first use (the process umask, from `/proc/self/status`), so a
/// process that confines itself afterwards (blitd's Landlock rules) need
/// not allow it.
pub fn warm_up() {
    let _ = meta::umask();
}

/// The scheme this transport registers under.
pub const SCHEME: &str = "local";

/// Registers the local payload transport under [`SCHEME`].
pub fn register(registry: &mut blit_api::Registry) {
    registry.register(
        SCHEME,
        std::sync::Arc::new(|| {
            Ok(std::sync::Arc::new(LocalTransport::new()) as std::sync::Arc<dyn blit_api::PayloadTransport>)
        }),
    );
}
