//! The command tree with its full version string, shell completions and man
//! pages, all generated from the clap definitions so they never drift.

use crate::{Cli, CompletionsArgs, ManArgs, EXIT_FATAL, EXIT_OK};
use clap::CommandFactory;

/// The protocol version this build speaks, for `--version`.
fn protocol() -> String {
    match blit_transports::remote::protocol() {
        Some(version) => format!("protocol {version}"),
        None => "no remote protocol (built without the grpc feature)".to_owned(),
    }
}

/// The `blit` command tree; `--version` shows the crate and protocol versions.
pub fn command() -> clap::Command {
    Cli::command().version(version())
}

fn version() -> &'static str {
    static VERSION: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    VERSION.get_or_init(|| format!("{} ({})", env!("CARGO_PKG_VERSION"), protocol()))
}

/// `blit completions SHELL`.
pub(crate) fn completions(args: CompletionsArgs) -> u8 {
    clap_complete::generate(args.shell, &mut command(), "blit", &mut std::io::stdout());
    EXIT_OK
}

/// Renders one page.
fn render(cmd: clap::Command) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    clap_mangen::Man::new(cmd).render(&mut out)?;
    Ok(out)
}

/// Every page: `blit.1` and `blit-<command>.1`.
pub(crate) fn pages() -> std::io::Result<Vec<(String, Vec<u8>)>> {
    let root = command();
    let mut pages = vec![("blit.1".to_owned(), render(root.clone())?)];
    for sub in root.get_subcommands().filter(|s| s.get_name() != "help") {
        let name: &'static str = Box::leak(format!("blit-{}", sub.get_name()).into_boxed_str());
        pages.push((format!("{name}.1"), render(sub.clone().name(name).version(version()))?));
    }
    Ok(pages)
}

/// `blit man [--out DIR]`.
pub(crate) fn man(args: ManArgs) -> u8 {
    let result = (|| -> std::io::Result<()> {
        let pages = pages()?;
        match args.out {
            None => {
                use std::io::Write;
                std::io::stdout().write_all(&pages[0].1)
            }
            Some(dir) => {
                std::fs::create_dir_all(&dir)?;
                for (name, page) in pages {
                    std::fs::write(dir.join(&name), page)?;
                    println!("{}", dir.join(name).display());
                }
                Ok(())
            }
        }
    })();
    match result {
        Ok(()) => EXIT_OK,
        Err(e) => {
            eprintln!("blit: error: cannot write man pages: {e} (choose a writable --out directory)");
            EXIT_FATAL
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completions_cover_every_command() {
        for shell in [clap_complete::Shell::Bash, clap_complete::Shell::Zsh, clap_complete::Shell::Fish] {
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut command(), "blit", &mut out);
            let text = String::from_utf8(out).unwrap();
            for word in [
                "copy",
                "mirror",
                "modules",
                "ls",
                "du",
                "df",
                "find",
                "rm",
                "jobs",
                "max-depth",
                "pattern",
                "dry-run",
                "checksum",
                "completions",
            ] {
                assert!(text.contains(word), "{shell:?} completion lacks {word}");
            }
        }
    }

    #[test]
    fn man_pages_for_blit_and_each_command() {
        let pages = pages().unwrap();
        let names: Vec<_> = pages.iter().map(|(n, _)| n.as_str()).collect();
        for want in [
            "blit.1",
            "blit-copy.1",
            "blit-mirror.1",
            "blit-modules.1",
            "blit-ls.1",
            "blit-du.1",
            "blit-df.1",
            "blit-find.1",
            "blit-rm.1",
        ] {
            assert!(names.contains(&want), "{names:?}");
        }
        let copy = String::from_utf8(pages.iter().find(|(n, _)| n == "blit-copy.1").unwrap().1.clone()).unwrap();
        assert!(copy.contains(".TH") && copy.contains("trailing") && copy.contains("dry"), "{copy}");
        for (name, page) in &pages[..3] {
            let text = String::from_utf8_lossy(page).split_whitespace().collect::<Vec<_>>().join(" ");
            assert!(text.contains("64 the command line was wrong"), "{name} lacks the exit codes");
        }
    }

    #[test]
    fn version_names_the_protocol() {
        let v = command().get_version().unwrap().to_owned();
        assert!(v.starts_with(env!("CARGO_PKG_VERSION")) && v.contains("protocol"), "{v}");
    }
}
