#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod format;
mod land;

pub use format::{append, format_mtime, parse_mtime, SHARD_ENTRY_MAX};
pub use land::{land_shard, ShardSource};
