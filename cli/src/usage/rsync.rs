//! What to say about rsync flags blit does not have: each gets its own
//! answer, naming the blit way or saying it is not supported.

/// The answer for an rsync flag blit does not take (`flag` as typed, with
/// any `=VALUE` removed); `None` when it is not one.
pub(crate) fn answer(flag: &str) -> Option<&'static str> {
    let said = match flag {
        "--inplace" | "--append" | "--append-verify" => {
            "blit never writes into the file it replaces: every file lands under a temporary name and is \
             renamed into place, so a reader or a crash never sees a torn file. A large file an interrupted \
             run left half-written is continued from its partial copy on the next run (always on), which is \
             what --inplace and --append are usually for"
        }
        "--rsync-path" => "use --blit-path PROGRAM: the blit program on the far side of an ssh transfer",
        "--compare-dest" | "--copy-dest" => {
            "is not supported yet: blit compares only with DST itself; --link-dest DIR links unchanged files \
             from a previous copy"
        }
        "-D" | "--devices" | "--specials" => {
            "blit does not copy device files, sockets or FIFOs: each is reported as a failure and skipped"
        }
        "-L" | "--copy-links" | "-k" | "--copy-dirlinks" | "--copy-unsafe-links" | "--safe-links" | "--munge-links" => {
            "blit copies symlinks as symlinks and never follows them"
        }
        "--preallocate" => "is not supported: files are written as they arrive, holes kept",
        "--remove-source-files" => "is not supported yet: copy, check the result, then remove the source",
        "--existing" | "--ignore-non-existing" => "is not supported: blit creates what DST lacks",
        "--chmod" | "--chown" | "--usermap" | "--groupmap" => {
            "is not supported: blit keeps each entry's permissions, and its owner and group with -o and -g"
        }
        "--numeric-ids" => "is not needed: blit always carries owner and group as numbers (-o, -g)",
        "-A" | "--acls" => "is not supported yet: ACLs are not copied",
        "--delete-before" => {
            "blit deletes only after the whole source was read without error; use --delete (or blit mirror)"
        }
        "--no-whole-file" => "is not needed: remote transfers send only the changed blocks of large files by default",
        "-R" | "--relative" | "--no-implied-dirs" => {
            "is not supported: name the directory to copy, with a trailing slash to copy its contents"
        }
        "-y" | "--fuzzy" | "-I" | "--ignore-times" | "--modify-window" | "-O" | "--omit-dir-times" | "-J" => {
            "is not supported: blit compares size and modification time, or content with -c"
        }
        "--compress-level" | "--zl" | "--compress-choice" | "--zc" => {
            "choose the codec and level with --compress zstd:LEVEL"
        }
        "--checksum-choice" | "--cc" => "blit compares content by BLAKE3 (-c)",
        "--port" => "name the port in the address: blit://HOST:PORT/module/path, or ssh://HOST:PORT/path over ssh",
        "--password-file" => "use --secret-file FILE (or the BLIT_SECRET environment variable)",
        "--partial-dir" | "-T" | "--temp-dir" => {
            "is not supported: partial and temporary files are kept beside their target, so the final \
             rename is atomic"
        }
        "--out-format" | "--log-file-format" => "is not supported: -i prints rsync's change codes",
        "--list-only" => "use `blit ls HOST::module/path` (or `blit ls HOST:path` over ssh)",
        "--daemon" => "run blitd",
        "--contimeout" => "use --timeout SECONDS",
        "-4" | "--ipv4" | "-6" | "--ipv6" => "name an IPv4 address, or an IPv6 one in brackets: [ADDR]::module/path",
        "-F" | "--filter" | "-C" | "--cvs-exclude" => {
            "is not supported: use --exclude, --include, --exclude-from, --include-from or --files-from"
        }
        _ => return None,
    };
    Some(said)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rsync_flags_get_their_own_answer_and_others_none() {
        assert!(answer("--inplace").unwrap().contains("renamed into place"));
        assert!(answer("--rsync-path").unwrap().contains("--blit-path"));
        assert_eq!(answer("-e"), None, "-e is blit's own flag now");
        assert!(answer("--copy-dest").unwrap().contains("--link-dest DIR"));
        assert_eq!(answer("--bogus"), None);
        assert_eq!(answer("-Q"), None);
    }
}
