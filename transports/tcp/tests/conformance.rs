//! The whole conformance suite against the TCP transport over loopback, in
//! the `local` direction (both halves in this process, real sockets, the
//! token handshake, four connections): `cargo test -p blit-transport-tcp
//! --test conformance`. Push and pull through blitd run in
//! `daemon/tests/conformance/main.rs` (`conformance::tcp::push::*` and
//! `conformance::tcp::pull::*`).

fn main() {
    let harness =
        blit_conformance::TransportHarness::registered(blit_transport_tcp::register, blit_transport_tcp::SCHEME)
            .expect("the tcp transport registers");
    blit_conformance::main(vec![Box::new(harness)]);
}
