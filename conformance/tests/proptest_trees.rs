//! Property test: generated trees (names, sizes, kinds, modes, mtimes) land
//! identically through every harness and direction compiled here, with the
//! same canonical events as the local reference. Shrinks to a minimal tree
//! on failure.

use blit_api::{Capabilities, PayloadTransport};
use blit_conformance::{check_tree, gen, Harness, LocalHarness, TransportHarness};
use blit_transport_local::LocalTransport;
use proptest::prelude::*;
use std::sync::Arc;

fn harnesses() -> Vec<Arc<dyn Harness>> {
    let user_copy =
        TransportHarness::new(|| Ok(Arc::new(LocalTransport::without_zero_copy()) as Arc<dyn PayloadTransport>))
            .expect("the local transport builds")
            .named("local-user-copy");
    vec![Arc::new(LocalHarness::new()), Arc::new(user_copy)]
}

/// What every harness supports: trees use only that.
fn common_caps(harnesses: &[Arc<dyn Harness>]) -> Capabilities {
    let mut caps = Capabilities { symlink: true, path_non_utf8: true, mtime_ns: true, ..Capabilities::default() };
    for h in harnesses {
        let c = h.capabilities();
        caps.symlink &= c.symlink;
        caps.path_non_utf8 &= c.path_non_utf8;
        caps.mtime_ns &= c.mtime_ns;
    }
    caps
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 20, ..ProptestConfig::default() })]

    #[test]
    fn generated_trees_land_identically_everywhere(spec in gen::tree(common_caps(&harnesses()))) {
        for harness in harnesses() {
            for direction in blit_api::Direction::ALL.into_iter().filter(|d| harness.directions().contains(*d)) {
                check_tree(harness.clone(), direction, &spec).map_err(|f| TestCaseError::fail(f.to_string()))?;
            }
        }
    }
}
