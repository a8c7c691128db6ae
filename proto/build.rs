//! Generates the protobuf and tonic code from `proto/blit/v1/blit.proto` (and
//! the distributed jobs' messages, `queue.proto`) with a
//! vendored `protoc`, so a fresh machine needs no system install.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protoc = protoc_bin_vendored::protoc_bin_path()?;
    // tonic-build (through prost-build) runs the protoc that PROTOC names.
    std::env::set_var("PROTOC", protoc);
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    let proto = "proto/blit/v1/blit.proto";
    let queue = "proto/blit/v1/queue.proto";
    println!("cargo:rerun-if-changed={proto}");
    println!("cargo:rerun-if-changed={queue}");
    tonic_build::configure()
        .build_transport(false)
        .bytes(["."])
        .client_mod_attribute("blit.v1", "#[cfg(feature = \"client\")]")
        .server_mod_attribute("blit.v1", "#[cfg(feature = \"server\")]")
        .file_descriptor_set_path(out.join("blit_v1_descriptor.bin"))
        .compile_protos(&[proto, queue], &["proto"])?;
    Ok(())
}
