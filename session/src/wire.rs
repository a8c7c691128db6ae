//! The wire forms of events and per-entry failures for carriers
//! other than a session (the distributed jobs of `blit-queue` put them in
//! NATS messages; errors are in [`crate::error`]). Decoding validates as a
//! session does: a path with `..` or an absolute path is refused, a long
//! message is cut.

use crate::convert::{event_from_pb, event_to_pb, failure_from_pb, failure_to_pb, Mask};
use blit_api::{FileFailure, ProgressEvent, Result};
use blit_proto::pb;

/// The wire form of a progress event; `None` for `Started`, `Finished` and
/// `Failed`, which belong to the side that runs the transfer.
pub fn event_to_wire(event: &ProgressEvent) -> Option<pb::Event> {
    event_to_pb(event, &Mask::none())
}

/// A progress event from the wire, validated.
pub fn event_from_wire(event: pb::Event) -> Result<ProgressEvent> {
    event_from_pb(event)
}

/// The wire form of a per-entry failure.
pub fn failure_to_wire(failure: &FileFailure) -> pb::Failure {
    failure_to_pb(failure, &Mask::none())
}

/// A per-entry failure from the wire, validated.
pub fn failure_from_wire(failure: pb::Failure) -> Result<FileFailure> {
    failure_from_pb(failure)
}
