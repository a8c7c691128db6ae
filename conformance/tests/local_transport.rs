//! The whole conformance suite against the local transport (the reference),
//! in the `local` direction: `cargo test -p blit-conformance --test
//! local_transport -- conformance::local::local::`. This is how CI covers the
//! local transport's parity; every other transport's test file looks the same.

fn main() {
    blit_conformance::main(vec![Box::new(blit_conformance::LocalHarness::new())]);
}
