//! `blit modules HOST`, and what `blit ls` shares with it.

use crate::{remote, ConnectArgs, ModulesArgs, EXIT_FATAL, EXIT_OK};
use blit_api::{Error, Result};

/// A runtime for one command.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::io("start runtime", "blit", e))
}

/// The exit code of a command's result, printing its error.
pub(crate) fn finish(result: Result<()>) -> u8 {
    match result {
        Ok(()) => EXIT_OK,
        Err(e) => {
            eprintln!("blit: error: {}", crate::escape::for_terminal(&e.to_string()));
            EXIT_FATAL
        }
    }
}

/// Prints the modules of a daemon.
pub(crate) fn modules(args: ModulesArgs) -> u8 {
    finish((|| {
        let (host, port) = remote::parse_host(&args.host)?;
        let modules = runtime()?.block_on(imp::modules(&host, port, &args.connect))?;
        for m in modules {
            if args.json {
                let v = serde_json::json!({"schema": crate::report::JSON_SCHEMA, "name": m.name, "comment": m.comment, "read_only": m.read_only});
                println!("{v}");
            } else {
                let ro = if m.read_only { "ro" } else { "rw" };
                let (name, comment) = (crate::escape::for_terminal(&m.name), crate::escape::for_terminal(&m.comment));
                println!("{name:<20} {ro}  {comment}");
            }
        }
        Ok(())
    })())
}

mod imp {
    use super::*;
    use blit_transports::remote::{Module, Reach};
    use blit_transports::route;

    pub(super) async fn modules(host: &str, port: u16, connect: &ConnectArgs) -> Result<Vec<Module>> {
        route(&connect.reach(Reach::default()))?.modules(host, port).await
    }
}
