//! Runs the whole blit conformance suite against the pipe transport:
//! `cargo test -p blit-transport-pipe --test conformance -- conformance::pipe::local::`.

use blit_conformance::blit_api::PayloadTransport;
use blit_conformance::TransportHarness;
use blit_transport_pipe::{register, PipeTransport, SCHEME};

// The public type implements the trait it claims.
const _: fn() = || {
    fn is_transport<T: PayloadTransport + 'static>() {}
    is_transport::<PipeTransport>();
};

fn main() {
    // Through the registry, so `register` and `SCHEME` are tested too.
    let harness = TransportHarness::registered(register, SCHEME).expect("the pipe transport registers and builds");
    blit_conformance::main(vec![Box::new(harness)]);
}
