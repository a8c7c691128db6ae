#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod format;
mod land;
mod read;
mod write;

pub use format::{append, format_mtime, parse_mtime, SHARD_ENTRY_MAX};
pub use land::{land_shard, ShardSource};
pub use read::{LONG_NAME_MAX, PAX_MAX};
pub use write::{write_shard, ShardOut};
