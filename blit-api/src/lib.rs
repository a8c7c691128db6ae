#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod caps;
mod error;
mod filter;
mod half;
mod header;
mod job;
mod landing;
mod manifest;
mod need;
mod options;
mod part;
mod payload;
mod progress;
mod rate;
mod records;
mod registry;
mod resume;
mod space;
mod sparse;
mod summary;
pub mod text;
pub mod wire;

pub use caps::{Capabilities, Direction, DirectionSet};
pub use error::{Error, ErrorKind, Result};
pub use filter::{FilterRule, FilterSpec, RuleKind, FILES_FROM_MAX_BYTES};
pub use half::{half_taken, on_blocking_thread, HalfPart};
pub use header::{FileHeader, FileKind, RelPath};
pub use job::Job;
pub use landing::{Incoming, Landing};
pub use manifest::{
    manifest_channel, manifest_channel_holding, ManifestClosed, ManifestItem, ManifestReceiver, ManifestSender,
    ManifestSource, ManifestTryRecvError, MANIFEST_BATCH,
};
pub use need::{
    need_channel, Ahead, NeedBatch, NeedListSink, NeedReceiver, NeedSender, NEED_BATCH_MAX_BYTES,
    NEED_BATCH_MAX_ENTRIES,
};
pub use options::TransferOptions;
pub use part::PartRange;
pub use payload::{
    land_with_holes, plan_channel, LandingFile, PayloadPlan, PayloadReader, PayloadReaderExt, PayloadTransport,
    PayloadWriter, PlanReceiver, PlanSender, SourceFile,
};
pub use progress::{Events, NullSink, ProgressEvent, ProgressSink, RecordingSink};
pub use rate::RateLimit;
pub use records::stream::{land_stream, StreamWriter};
pub use records::{keep_going, send_file, send_source, short_read, Lander, RecordWriter, Sent};
pub use registry::{Registry, TransportFactory, GRPC_NOT_BUILT, TCP_NOT_BUILT};
pub use resume::{
    ranges_to_send, ranges_to_send_after, BlockCopy, BlockMap, Prehash, ResumePlan, DELTA_MIN, RESUME_BLOCK_MIN,
    RESUME_MAX_BLOCKS, RESUME_MIN,
};
pub use space::{Expect, Space};
pub use sparse::{data_ranges, SPARSE_MIN};
pub use summary::{FileFailure, TransferSummary};
