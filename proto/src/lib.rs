#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

/// The code tonic-build generates; reached only through [`pb`].
#[rustfmt::skip]
#[allow(missing_docs, unreachable_pub, clippy::all, clippy::pedantic, missing_debug_implementations)]
mod generated {
    include!(concat!(env!("OUT_DIR"), "/blit.v1.rs"));
}

/// The version of the wire protocol this build speaks. A peer that speaks
/// another version is refused with an error naming both.
pub const PROTOCOL_VERSION: u32 = 1;

/// The encoded `FileDescriptorSet` of `blit.proto`, for reflection and tests.
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/blit_v1_descriptor.bin"));

/// The messages and stubs of package `blit.v1`, as generated.
///
/// Every message, enum and oneof module of `blit.proto` is here under its
/// generated name; see the `.proto` file for what each field means.
pub mod pb {
    pub use crate::generated::*;
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    #[test]
    fn descriptor_set_decodes_and_names_the_service() {
        let set = prost_types::FileDescriptorSet::decode(FILE_DESCRIPTOR_SET).expect("descriptor set decodes");
        let file = set.file.iter().find(|f| f.package() == "blit.v1").expect("package blit.v1");
        let service = file.service.iter().find(|s| s.name() == "Blit").expect("service Blit");
        let methods: Vec<_> = service.method.iter().map(|m| m.name()).collect();
        assert_eq!(methods, ["Modules", "List", "Transfer", "Space", "Remove", "Jobs", "Cancel", "Grant", "Relay"]);
    }

    #[test]
    fn version_field_is_field_one_everywhere() {
        let set = prost_types::FileDescriptorSet::decode(FILE_DESCRIPTOR_SET).unwrap();
        let file = set.file.iter().find(|f| f.package() == "blit.v1").unwrap();
        for name in [
            "ModulesRequest",
            "ModulesReply",
            "ListRequest",
            "ListReply",
            "SpaceRequest",
            "SpaceReply",
            "RemoveRequest",
            "RemoveReply",
            "JobsRequest",
            "JobsReply",
            "CancelRequest",
            "CancelReply",
            "GrantRequest",
            "GrantReply",
            "RelayRequest",
            "Open",
            "Opened",
        ] {
            let msg = file.message_type.iter().find(|m| m.name() == name).unwrap();
            let field = msg.field.iter().find(|f| f.number() == 1).unwrap();
            assert_eq!(field.name(), "protocol_version", "{name}");
        }
        let frame = file.message_type.iter().find(|m| m.name() == "Frame").unwrap();
        assert_eq!(frame.field.iter().find(|f| f.number() == 1).unwrap().name(), "open");
    }

    #[test]
    fn data_fields_are_bytes() {
        let record = pb::PayloadRecord {
            record: Some(pb::payload_record::Record::Data(prost::bytes::Bytes::from_static(b"abc"))),
        };
        let back = pb::PayloadRecord::decode(record.encode_to_vec().as_slice()).unwrap();
        assert_eq!(back, record);
    }
}
