//! The conformance suite for every transport this workspace compiles, in
//! every direction it runs, each compared with the local reference (the
//! cross-transport identity test):
//!
//! - `conformance::local::local::*`: the reference against itself;
//! - `conformance::pipe::local::*`: the example third-party transport;
//! - `conformance::grpc::local::*`: the gRPC payload transport in one process
//!   ([`blit_transport_grpc::GrpcTransport::loopback`], through its registry entry);
//! - `conformance::grpc::push::*` and `conformance::grpc::pull::*`: the
//!   client against a blitd running in this process ([`harness::GrpcHarness`]);
//! - `conformance::tcp::local::*`: the TCP data plane over loopback in one
//!   process; `conformance::tcp::push::*` and `conformance::tcp::pull::*`:
//!   the same sessions as grpc with the payload on the TCP data plane
//!   (feature `tcp-data-plane`, on by default).
//!
//! Every trial checks the destination tree and the canonical event log of
//! each transfer against the reference run of the same case. Filter as usual:
//! `cargo test -p blit-daemon --test conformance -- conformance::grpc::pull::`.

mod harness;

use blit_conformance::{Harness, LocalHarness, TransportHarness};
use harness::GrpcHarness;

fn main() {
    let harnesses: Vec<Box<dyn Harness>> = vec![
        Box::new(LocalHarness::new()),
        Box::new(
            TransportHarness::registered(blit_transport_pipe::register, blit_transport_pipe::SCHEME)
                .expect("the pipe transport registers and builds"),
        ),
        Box::new(
            TransportHarness::registered(blit_transport_grpc::register, blit_transport_grpc::SCHEME)
                .expect("the grpc transport registers and builds"),
        ),
        Box::new(GrpcHarness::new()),
    ];
    #[cfg(feature = "tcp-data-plane")]
    let harnesses = {
        let mut harnesses = harnesses;
        let tcp = TransportHarness::registered(blit_transports::tcp::register, blit_transports::tcp::SCHEME)
            .expect("the tcp transport registers and builds");
        harnesses.push(Box::new(tcp));
        harnesses.push(Box::new(GrpcHarness::tcp()));
        harnesses
    };
    blit_conformance::main(harnesses);
}
