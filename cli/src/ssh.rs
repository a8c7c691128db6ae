//! Transfers over ssh with no daemon, as rsync does: for `[user@]HOST:path`
//! the client runs `ssh [user@]HOST blit server --root DIR` and speaks
//! blit's protocol over the ssh channel; on the far side, `blit server`
//! serves DIR as blitd serves a module (the same service, containment and
//! landing), for as long as the connection lasts.
//!
//! `-e/--rsh COMMAND` (or `BLIT_RSH`) chooses the ssh command, split as a
//! shell would split it (`-e 'ssh -p 2222 -i key'`); `--blit-path PROGRAM`
//! names the far side's blit (default `blit`, found on its `PATH`), and is
//! passed to the far side's shell as written, like rsync's `--rsync-path`.

use crate::remote::{Remote, Ssh};
use crate::ConnectArgs;
use blit_api::{Error, ErrorKind, Result};
use blit_transports::remote::{Reach, Route, Via};
use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::sync::Arc;

/// The environment variable that names the ssh command when `-e` is not given.
pub const RSH_ENV: &str = "BLIT_RSH";

/// The route to `remote` with `reach`'s transport settings: through ssh
/// when it names a login, else to its daemon with the secret and TLS
/// `connect` asks for.
pub(crate) fn route(remote: &Remote, connect: &ConnectArgs, reach: Reach) -> Result<Arc<dyn Route>> {
    let Some(ssh) = &remote.ssh else {
        return blit_transports::route(&connect.reach(reach));
    };
    if reach.transport == "tcp" {
        return Err(Error::new(
            ErrorKind::Unsupported,
            "--transport tcp needs a blitd daemon; over ssh the payload travels inside the ssh connection",
        )
        .with_path(remote.host.clone())
        .with_hint("drop --transport tcp, or write HOST::MODULE/path to reach a daemon"));
    }
    if connect.tls || connect.tls_ca.is_some() {
        return Err(Error::new(ErrorKind::Unsupported, "--tls applies to blitd daemons; ssh encrypts on its own")
            .with_path(remote.host.clone())
            .with_hint("drop --tls, or write HOST::MODULE/path to reach a daemon over TLS"));
    }
    let via = Via { argv: command(ssh, connect)?, label: ssh.login.clone() };
    blit_transports::route(&Reach { transport: "grpc".to_owned(), via: Some(via), ..reach })
}

/// The ssh command line that starts `blit server` for `ssh`.
fn command(ssh: &Ssh, connect: &ConnectArgs) -> Result<Vec<OsString>> {
    let rsh = match &connect.rsh {
        Some(rsh) => rsh.clone(),
        None => std::env::var(RSH_ENV).ok().filter(|v| !v.trim().is_empty()).unwrap_or_else(|| "ssh".to_owned()),
    };
    let words = shlex::split(&rsh).filter(|w| !w.is_empty()).ok_or_else(|| {
        Error::new(ErrorKind::InvalidInput, format!("cannot split the ssh command `{rsh}`"))
            .with_hint("check its quotes (-e/--rsh or BLIT_RSH)")
    })?;
    let mut argv: Vec<OsString> = words.into_iter().map(OsString::from).collect();
    if let Some(port) = ssh.port {
        argv.push("-p".into());
        argv.push(port.to_string().into());
    }
    argv.push(ssh.login.clone().into());
    let dir = shlex::bytes::try_quote(&ssh.dir).map_err(|_| {
        Error::new(ErrorKind::InvalidInput, "the remote path holds a NUL byte").with_path(ssh.login.clone())
    })?;
    let program = connect.blit_path.as_deref().unwrap_or("blit");
    let mut far = format!("{program} server --root ").into_bytes();
    far.extend_from_slice(&dir);
    argv.push(OsString::from_vec(far));
    Ok(argv)
}

/// Arguments of `blit server` (started by ssh; not for people).
#[derive(Debug, clap::Args)]
pub struct ServerArgs {
    /// The directory to serve: absolute, or relative to the working
    /// directory (the login's home under ssh).
    #[arg(long, value_name = "DIR")]
    pub root: std::path::PathBuf,
}

/// `blit server`: serves `--root` over standard input and output until the
/// client closes them. Errors go to standard error, one line each, where
/// the client shows them.
pub(crate) fn server(args: ServerArgs) -> u8 {
    match serve(args) {
        Ok(()) => crate::EXIT_OK,
        Err(e) => {
            eprintln!("blit server: {e}");
            crate::EXIT_FATAL
        }
    }
}

#[cfg(feature = "grpc")]
fn serve(args: ServerArgs) -> Result<()> {
    use blit_daemon::{DaemonConfig, ModuleConfig};
    let dir = args.root;
    let shown = if dir.as_os_str() == "." { "~".into() } else { dir.clone() };
    match std::fs::metadata(&dir) {
        Ok(meta) if meta.is_dir() => {}
        Ok(_) => {
            return Err(Error::new(ErrorKind::InvalidInput, "not a directory")
                .with_path(shown.display().to_string())
                .with_hint("name a directory that exists on the far side"))
        }
        Err(e) => {
            return Err(Error::io("open", shown.display(), e).with_hint("name a directory that exists on the far side"))
        }
    }
    // The process has its user's rights and no more: what the user may do
    // to their own files, a push may ask for.
    let mut module = ModuleConfig::new(crate::remote::SSH_MODULE, dir);
    module.allow_owner = true;
    module.allow_setid = true;
    module.allow_xattrs = vec!["security.*".to_owned(), "trusted.*".to_owned(), "system.*".to_owned()];
    module.shown_as = Some(shown);
    let mut config = DaemonConfig::new();
    config.add_module(module)?;
    blit_daemon::raise_open_files();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("blit-server")
        .build()
        .map_err(|e| Error::io("start runtime", "blit server", e))?
        .block_on(blit_daemon::serve_stdio(config))
}

#[cfg(not(feature = "grpc"))]
fn serve(_: ServerArgs) -> Result<()> {
    Err(Error::new(ErrorKind::Unsupported, blit_api::GRPC_NOT_BUILT).with_hint("install a full build of blit here"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;

    fn argv(remote: &str, connect: &ConnectArgs) -> Vec<String> {
        let r = crate::remote::parse(OsStr::new(remote)).unwrap().unwrap();
        command(r.ssh.as_ref().unwrap(), connect).unwrap().iter().map(|a| a.to_string_lossy().into_owned()).collect()
    }

    #[test]
    fn builds_the_ssh_command_line() {
        let plain = ConnectArgs::default();
        let with = ConnectArgs {
            rsh: Some("ssh -i 'my key' -o BatchMode=yes".to_owned()),
            blit_path: Some("/opt/blit/bin/blit".to_owned()),
            ..ConnectArgs::default()
        };
        let odd = "/srv/it's $HOME \"here\"`x`";
        let line = argv(&format!("me@h:{odd}/x"), &plain);
        if std::env::var_os(RSH_ENV).is_none() {
            assert_eq!(line[..2], ["ssh", "me@h"]);
        }
        // The far side's shell gives `blit server` the directory as it was.
        let far = line.last().unwrap().replacen("blit server --root ", "printf %s ", 1);
        let said = std::process::Command::new("sh").arg("-c").arg(&far).output().unwrap();
        assert_eq!(String::from_utf8_lossy(&said.stdout), odd, "{far}");
        assert_eq!(
            argv("ssh://h:2222/x/y", &with),
            ["ssh", "-i", "my key", "-o", "BatchMode=yes", "-p", "2222", "h", "/opt/blit/bin/blit server --root /x"]
        );
        let unbalanced = ConnectArgs { rsh: Some("ssh -i 'key".to_owned()), ..ConnectArgs::default() };
        let r = crate::remote::parse(OsStr::new("h:x")).unwrap().unwrap();
        assert!(command(r.ssh.as_ref().unwrap(), &unbalanced).is_err());
    }
}
