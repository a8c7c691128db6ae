//! The records the sending half emits that a shard emits too: where they go,
//! and the failure records. Below `send` and `shard`, which both use them.

use crate::convert::{failure_to_pb, header_to_pb, Mask};
use blit_api::{Error, ErrorKind, FileFailure, FileHeader, Result};
use blit_proto::pb;
use blit_proto::pb::payload_record::Record;
use tokio::sync::mpsc;

/// Where the sending half puts its records.
pub(crate) type RecordSender = mpsc::Sender<pb::PayloadRecord>;

pub(crate) fn stopped() -> Error {
    Error::new(ErrorKind::Cancelled, "the payload receiver stopped")
}

pub(crate) fn emit(out: &RecordSender, record: Record) -> Result<()> {
    out.blocking_send(pb::PayloadRecord { record: Some(record) }).map_err(|_| stopped())
}

pub(crate) fn failure(header: &FileHeader, error: &Error, mask: &Mask) -> pb::Failure {
    failure_to_pb(&FileFailure::new(&header.path, error), mask)
}

pub(crate) fn source_failed(out: &RecordSender, header: &FileHeader, error: &Error, mask: &Mask) -> Result<()> {
    let wire = pb::Header { resume: None, ..header_to_pb(header) };
    let record = pb::SourceFailed { header: Some(wire), failure: Some(failure(header, error, mask)) };
    emit(out, Record::SourceFailed(record))
}
