//! What every transport's two halves share: each runs once per transfer,
//! taking its part (a channel end, a pipe end, its connections), and does
//! its work on a blocking thread.

use crate::{Error, ErrorKind, Result};
use std::sync::{Mutex, PoisonError};

/// The error of a half that runs a second time (or whose part the other
/// side holds).
pub fn half_taken(transport: &str, half: &str) -> Error {
    Error::new(
        ErrorKind::InvalidInput,
        format!("this {transport} transport's {half} half already ran or has no part here"),
    )
    .with_hint("create one transport per transfer")
}

/// A part one half takes when it runs, at most once.
#[derive(Debug)]
pub struct HalfPart<T>(Mutex<Option<T>>);

impl<T> HalfPart<T> {
    /// A part waiting for its half.
    pub fn new(part: T) -> Self {
        HalfPart(Mutex::new(Some(part)))
    }

    /// No part: the half belongs to the other side.
    pub fn none() -> Self {
        HalfPart(Mutex::new(None))
    }

    /// Takes the part; [`half_taken`] when it is gone.
    pub fn take(&self, transport: &str, half: &str) -> Result<T> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).take().ok_or_else(|| half_taken(transport, half))
    }
}

/// Runs `work` on a blocking thread; a panic there becomes an
/// [`ErrorKind::Unexpected`] error naming the transport's half.
pub async fn on_blocking_thread<R: Send + 'static>(
    transport: &str,
    half: &str,
    work: impl FnOnce() -> Result<R> + Send + 'static,
) -> Result<R> {
    tokio::task::spawn_blocking(work).await.map_err(|e| {
        Error::new(ErrorKind::Unexpected, format!("the {transport} transport's {half} thread failed: {e}"))
    })?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_part_is_taken_once_and_a_panic_is_an_error() {
        let part = HalfPart::new(7);
        assert_eq!(part.take("toy", "send").unwrap(), 7);
        let e = part.take("toy", "send").unwrap_err();
        assert!(e.to_string().contains("this toy transport's send half already ran"), "{e}");
        assert!(HalfPart::<u8>::none().take("toy", "receive").is_err());
        assert_eq!(on_blocking_thread("toy", "send", || Ok(3)).await.unwrap(), 3);
        let e = on_blocking_thread::<()>("toy", "receive", || panic!("boom")).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unexpected);
        assert!(e.to_string().contains("toy transport's receive thread failed"), "{e}");
    }
}
