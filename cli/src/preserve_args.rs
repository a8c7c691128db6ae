//! The flags of `blit copy` and `blit mirror` that keep more than contents,
//! modes and times: hard links, owner, group and extended attributes.
//!
//! All are off by default, as rsync's are outside `-a`. Ownership is not
//! switched on when the user is root: in a push or a pull the two sides run
//! as different users (often the daemon as root), so "running as root" does
//! not say whose ids a destination may take, and the same command line
//! should do the same thing whoever runs it. Without the privilege to set
//! them, entries land with the destination's default owner and one warning
//! says so.

use blit_api::TransferOptions;
use clap::Args;

const PRESERVE_HELP: &str = "Preserve";

/// Hard links, owner, group and extended attributes.
#[derive(Debug, Clone, Default, Args)]
pub struct PreserveArgs {
    /// Keep hard-linked files linked: a file with several names inside SRC
    /// is sent once and its other names are linked to it at the
    /// destination (in every direction).
    #[arg(short = 'H', long, help_heading = PRESERVE_HELP)]
    pub hard_links: bool,
    /// Keep the owning user id (numeric). Setting it needs root on the
    /// destination side; without it entries still land and one warning
    /// says so.
    #[arg(short = 'o', long, help_heading = PRESERVE_HELP)]
    pub owner: bool,
    /// Keep the owning group id (numeric); without the privilege to set it,
    /// entries still land and one warning says so.
    #[arg(short = 'g', long, help_heading = PRESERVE_HELP)]
    pub group: bool,
    /// Keep extended attributes (user.* and any other namespace the source
    /// side can read). Where the destination filesystem cannot store them,
    /// entries still land and one warning says so.
    #[arg(short = 'X', long, help_heading = PRESERVE_HELP)]
    pub xattrs: bool,
}

impl PreserveArgs {
    /// `options` with these flags set.
    pub fn apply(&self, options: TransferOptions) -> TransferOptions {
        options.hard_links(self.hard_links).owner(self.owner).group(self.group).xattrs(self.xattrs)
    }
}

#[cfg(test)]
mod tests {
    use crate::{Cli, Command};
    use clap::Parser;

    #[test]
    fn short_and_long_flags_reach_the_options() {
        let cli = Cli::try_parse_from(["blit", "copy", "-HogX", "a", "b"]).unwrap();
        let Command::Copy(args) = cli.command else { panic!("not a copy") };
        let o = args.preserve.apply(blit_api::TransferOptions::new());
        assert!(o.hard_links && o.owner && o.group && o.xattrs);
        let cli = Cli::try_parse_from(["blit", "mirror", "--group", "a", "b"]).unwrap();
        let Command::Mirror(args) = cli.command else { panic!("not a mirror") };
        let o = args.preserve.apply(blit_api::TransferOptions::new());
        assert!(!o.hard_links && !o.owner && o.group && !o.xattrs);
    }
}
