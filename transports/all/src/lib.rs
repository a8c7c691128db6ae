#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

pub use blit_transport_local as local;

#[cfg(feature = "grpc")]
pub use blit_transport_grpc as grpc;

use blit_api::Registry;

/// A registry with every transport this build carries, and stubs that explain
/// how to get the ones it does not.
pub fn registry() -> Registry {
    let mut r = Registry::new();
    blit_transport_local::register(&mut r);
    #[cfg(feature = "grpc")]
    blit_transport_grpc::register(&mut r);
    #[cfg(not(feature = "grpc"))]
    r.register_disabled("grpc", "grpc transport not compiled in; rebuild with feature `grpc`");
    if !cfg!(feature = "tcp-data-plane") {
        r.register_disabled("tcp", "tcp data plane not compiled in; rebuild with feature `tcp-data-plane`");
    }
    r
}

#[cfg(test)]
mod tests {
    #[test]
    fn local_is_always_there() {
        let r = super::registry();
        assert_eq!(r.get("local").map(|t| t.name().to_owned()).ok().as_deref(), Some("local"));
    }

    #[test]
    fn grpc_follows_its_feature() {
        let r = super::registry();
        match r.get("grpc") {
            Ok(t) => assert!(cfg!(feature = "grpc") && t.name() == "grpc"),
            Err(e) => assert!(!cfg!(feature = "grpc") && e.to_string().contains("feature `grpc`"), "{e}"),
        }
    }
}
