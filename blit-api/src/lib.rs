#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod caps;
mod error;
mod header;
mod landing;
mod manifest;
mod need;
mod options;
mod payload;
mod progress;
mod registry;
mod summary;

pub use caps::{Capabilities, Direction, DirectionSet};
pub use error::{Error, ErrorKind, Result};
pub use header::{FileHeader, FileKind, RelPath};
pub use landing::{Incoming, Landing};
pub use manifest::{manifest_channel, ManifestItem, ManifestReceiver, ManifestSender, ManifestSource};
pub use need::{
    need_channel, NeedBatch, NeedListSink, NeedReceiver, NeedSender, NEED_BATCH_MAX_BYTES, NEED_BATCH_MAX_ENTRIES,
};
pub use options::TransferOptions;
pub use payload::{
    plan_channel, LandingFile, PayloadPlan, PayloadReader, PayloadTransport, PayloadWriter, PlanReceiver, PlanSender,
    SourceFile,
};
pub use progress::{Events, NullSink, ProgressEvent, ProgressSink, RecordingSink};
pub use registry::{Registry, TransportFactory};
pub use summary::{FileFailure, TransferSummary};
