//! What the engine refuses, or warns about, before a half starts: every
//! option a transport's [`Capabilities`] cannot honour. A flag that would
//! change the result (`--checksum`, `--mirror`, a direction) is an error
//! naming the transport; one whose loss is harmless (`--resume`: partial
//! files are started over) is a one-line warning.

use blit_api::{Capabilities, Direction, Error, ErrorKind, PayloadTransport, Result, TransferOptions};

fn refused(transport: &str, what: &str, hint: &str) -> Error {
    Error::new(ErrorKind::Unsupported, format!("the {transport} transport {what}")).with_hint(hint.to_owned())
}

/// Errors for what `transport` cannot do of `options` (and of `direction`,
/// when given); otherwise the warnings to show. Also returns the options
/// the transport can honour (`--resume` and delta transfer dropped where
/// it cannot).
pub fn check_capabilities(
    transport: &dyn PayloadTransport,
    direction: Option<Direction>,
    options: &TransferOptions,
) -> Result<(TransferOptions, Vec<String>)> {
    let name = transport.name();
    let caps: Capabilities = transport.capabilities();
    if let Some(d) = direction.filter(|d| !caps.directions.contains(*d)) {
        return Err(refused(name, &format!("cannot carry a {d} transfer"), "choose another transport"));
    }
    if options.checksum && !caps.checksum {
        return Err(refused(
            name,
            "cannot compare files by checksum (--checksum)",
            "drop --checksum or choose another transport",
        ));
    }
    if options.mirror && !caps.mirror {
        return Err(refused(
            name,
            "cannot delete extraneous entries (mirror, --delete)",
            "copy instead, or choose another transport",
        ));
    }
    if let Some(part) = &options.part_range {
        part.check()?;
        if !caps.resume {
            return Err(refused(
                name,
                "cannot carry one part range of a file (it carries no resumed files)",
                "choose a transport that resumes partial files",
            ));
        }
    }
    let mut warnings = Vec::new();
    let mut honoured = options.clone();
    if options.resume && !caps.resume {
        warnings
            .push(format!("the {name} transport cannot resume partial files; --resume is ignored and they start over"));
        honoured = honoured.resume(false);
    }
    // A delta is sent the way a resume is: without the capability, files
    // go whole, which changes nothing but the bytes moved.
    if !caps.resume {
        honoured = honoured.delta(false);
    }
    Ok((honoured, warnings))
}

#[cfg(test)]
mod tests {
    use super::*;
    use blit_api::{DirectionSet, Landing, PayloadReader, PlanReceiver};
    use std::sync::Arc;

    struct Caps(Capabilities);

    #[async_trait::async_trait]
    impl PayloadTransport for Caps {
        fn name(&self) -> &str {
            "toy"
        }
        fn capabilities(&self) -> Capabilities {
            self.0
        }
        async fn send(&self, _plans: PlanReceiver, _reader: Arc<dyn PayloadReader>) -> Result<()> {
            Ok(())
        }
        async fn receive(&self, _landing: Landing) -> Result<()> {
            Ok(())
        }
    }

    #[test]
    fn refuses_what_changes_the_result_and_warns_about_the_rest() {
        let none =
            Caps(Capabilities { directions: DirectionSet { local: true, ..Default::default() }, ..Default::default() });
        let plain = TransferOptions::new();
        let (kept, warnings) = check_capabilities(&none, Some(Direction::Local), &plain).unwrap();
        assert_eq!((kept, warnings.len()), (plain.clone(), 0));
        let e = check_capabilities(&none, Some(Direction::Push), &plain).unwrap_err();
        assert!(e.to_string().contains("the toy transport cannot carry a push transfer"), "{e}");
        for (options, flag) in [(plain.clone().checksum(true), "--checksum"), (plain.clone().mirror(true), "mirror")] {
            let e = check_capabilities(&none, None, &options).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Unsupported);
            assert!(e.to_string().contains(flag), "{e}");
        }
        let (kept, warnings) = check_capabilities(&none, None, &plain.clone().resume(true)).unwrap();
        assert!(!kept.resume, "--resume dropped");
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].contains("--resume is ignored"), "{warnings:?}");
        let (kept, warnings) = check_capabilities(&none, None, &plain.clone().delta(true)).unwrap();
        assert!(!kept.delta && warnings.is_empty(), "delta dropped quietly: files go whole");
        let all = Caps(Capabilities { checksum: true, mirror: true, resume: true, ..none.0 });
        let asked = plain.checksum(true).mirror(true).resume(true).delta(true);
        let (kept, warnings) = check_capabilities(&all, None, &asked).unwrap();
        assert_eq!((kept, warnings.len()), (asked, 0));
    }

    #[test]
    fn a_part_range_needs_resumes_and_a_valid_range() {
        let none = Caps(Capabilities::default());
        let all = Caps(Capabilities { resume: true, ..Capabilities::default() });
        let ranged = TransferOptions::new().part_range(Some(blit_api::PartRange { offset: 4, len: 8 }));
        let e = check_capabilities(&none, None, &ranged).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unsupported);
        assert!(e.to_string().contains("part range"), "{e}");
        assert_eq!(check_capabilities(&all, None, &ranged).unwrap().0, ranged);
        for (offset, len) in [(0, 0), (u64::MAX, 1)] {
            let bad = TransferOptions::new().part_range(Some(blit_api::PartRange { offset, len }));
            assert_eq!(check_capabilities(&all, None, &bad).unwrap_err().kind(), ErrorKind::InvalidInput);
        }
    }
}
