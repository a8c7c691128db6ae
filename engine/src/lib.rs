#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod caps;
mod pipeline;
mod tap;

pub use caps::check_capabilities;
pub use pipeline::{run_destination, run_local, run_source, DestinationRoles, LocalTransfer, SourceRoles};
pub use tap::{SummaryTap, TransportReport};
