//! A destination writer that discards file data, for benchmarks only
//! (internal feature `_bench-null-sink`; `BLIT_BENCH_NULL_SINK=1` at run
//! time). It lets `bench/remote.sh` measure the network path without the
//! destination's file system: every file "lands" in `/dev/null`, and commit
//! does nothing. A build without the feature never reads the variable.

use blit_api::{Error, FileHeader, LandingFile, PayloadWriter, Result};
use std::fs::File;
use std::sync::Arc;

/// The environment variable that turns the null sink on (with the feature).
pub const NULL_SINK_ENV: &str = "BLIT_BENCH_NULL_SINK";

/// The file the null sink writes to, when this is a benchmark build and
/// [`NULL_SINK_ENV`] is `1` (blitd's sandbox must then let it open it).
pub fn null_sink_path() -> Option<&'static std::path::Path> {
    let on = cfg!(feature = "_bench-null-sink") && std::env::var(NULL_SINK_ENV).as_deref() == Ok("1");
    on.then(|| std::path::Path::new(NULL_PATH))
}

const NULL_PATH: &str = "/dev/null";

/// `writer`, or the null sink when this is a benchmark build and
/// [`NULL_SINK_ENV`] is `1`.
pub fn bench_writer(writer: Arc<dyn PayloadWriter>) -> Arc<dyn PayloadWriter> {
    if null_sink_path().is_some() {
        announce();
        return Arc::new(NullWriter);
    }
    writer
}

fn announce() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| eprintln!("blit: {NULL_SINK_ENV}=1: file data is discarded (benchmark build)"));
}

#[derive(Debug)]
struct NullWriter;

#[derive(Debug)]
struct NullFile(File);

impl PayloadWriter for NullWriter {
    fn begin(&self, header: &FileHeader) -> Result<Box<dyn LandingFile>> {
        let file = File::options().write(true).open(NULL_PATH).map_err(|e| Error::io("open", NULL_PATH, e))?;
        let _ = header;
        Ok(Box::new(NullFile(file)))
    }
}

impl LandingFile for NullFile {
    fn file(&mut self) -> &mut File {
        &mut self.0
    }

    fn commit(self: Box<Self>) -> Result<()> {
        Ok(())
    }
}
