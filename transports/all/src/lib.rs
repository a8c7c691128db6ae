#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

pub use blit_transport_local as local;

#[cfg(feature = "grpc")]
mod grpc_route;
mod null_sink;
pub mod remote;
pub use null_sink::{bench_writer, null_sink_path, NULL_SINK_ENV};

#[cfg(feature = "grpc")]
pub use blit_transport_grpc as grpc;

#[cfg(feature = "tcp-data-plane")]
pub use blit_transport_tcp as tcp;

use blit_api::Registry;

pub use blit_api::TCP_NOT_BUILT;

/// Whether this build carries the TCP data plane.
pub const HAS_TCP_DATA_PLANE: bool = cfg!(feature = "tcp-data-plane");

/// The route to daemons with `reach`, or why this build has none.
pub fn route(reach: &remote::Reach) -> blit_api::Result<std::sync::Arc<dyn remote::Route>> {
    #[cfg(feature = "grpc")]
    return grpc_route::GrpcRoute::new(reach).map(|r| std::sync::Arc::new(r) as std::sync::Arc<dyn remote::Route>);
    #[cfg(not(feature = "grpc"))]
    {
        let _ = reach;
        Err(blit_api::Error::new(blit_api::ErrorKind::Unsupported, blit_api::GRPC_NOT_BUILT)
            .with_hint("remote transfers, `blit ls` and `blit modules` reach blitd through it"))
    }
}

/// A registry with every transport this build carries, and stubs that explain
/// how to get the ones it does not.
pub fn registry() -> Registry {
    let mut r = Registry::new();
    blit_transport_local::register(&mut r);
    #[cfg(feature = "grpc")]
    blit_transport_grpc::register(&mut r);
    #[cfg(not(feature = "grpc"))]
    r.register_disabled("grpc", blit_api::GRPC_NOT_BUILT);
    #[cfg(feature = "tcp-data-plane")]
    blit_transport_tcp::register(&mut r);
    #[cfg(not(feature = "tcp-data-plane"))]
    r.register_disabled("tcp", TCP_NOT_BUILT);
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
    fn tcp_follows_its_feature() {
        match super::registry().get("tcp") {
            Ok(t) => assert!(cfg!(feature = "tcp-data-plane") && t.name() == "tcp"),
            Err(e) => assert!(!cfg!(feature = "tcp-data-plane") && e.to_string().contains("not compiled in"), "{e}"),
        }
    }

    const HAS_GRPC: bool = cfg!(feature = "grpc");

    #[test]
    fn the_route_to_daemons_follows_the_grpc_feature() {
        use crate::remote::Reach;
        use crate::route;
        let built = route(&Reach::default());
        assert_eq!(built.is_ok(), HAS_GRPC);
        if let Err(e) = built {
            assert!(e.to_string().contains("feature `grpc`"), "{e}");
        }
        let typo = Reach { transport: "udp".to_owned(), ..Reach::default() };
        if HAS_GRPC {
            let e = route(&typo).err().expect("an unknown transport is refused");
            assert!(e.to_string().contains("auto, tcp or grpc"), "{e}");
        }
    }

    #[test]
    fn a_secret_from_the_environment_never_prints() {
        use crate::remote::{Reach, SecretSource};
        let secret = SecretSource::Env { name: "BLIT_SECRET".to_owned(), value: "hunter2-s3cret".to_owned() };
        let reach = Reach { secret: Some(secret), ..Reach::default() };
        let shown = format!("{reach:?}");
        assert!(shown.contains("BLIT_SECRET") && !shown.contains("hunter2"), "{shown}");
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
