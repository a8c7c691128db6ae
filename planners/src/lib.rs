#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

pub mod filter;
pub mod need_list;
pub mod ranges;
pub mod shard;
pub mod tune;
