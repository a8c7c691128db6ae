//! The `nats://` address of a queue, with the credentials it may carry.

use blit_api::{Error, ErrorKind, Result};

/// The environment variable naming a NATS credentials file (`.creds`,
/// a user JWT and its nkey seed) to connect with.
pub const CREDS_ENV: &str = "BLIT_QUEUE_CREDS";

/// A parsed `nats://[USER:PASSWORD@ | TOKEN@]HOST[:PORT]` address.
#[derive(Clone)]
pub struct QueueUrl {
    /// `nats://HOST:PORT` without credentials.
    server: String,
    /// A user and password, or a token (user without password).
    user: Option<(String, Option<String>)>,
}

impl std::fmt::Debug for QueueUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_string())
    }
}

/// Shown with its credentials hidden: `nats://USER:***@HOST:PORT`.
impl std::fmt::Display for QueueUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let rest = self.server.strip_prefix("nats://").unwrap_or(&self.server);
        match &self.user {
            None => write!(f, "nats://{rest}"),
            Some((user, Some(_))) => write!(f, "nats://{user}:***@{rest}"),
            Some((_, None)) => write!(f, "nats://***@{rest}"),
        }
    }
}

impl QueueUrl {
    /// Parses `text`; the port defaults to 4222.
    pub fn parse(text: &str) -> Result<QueueUrl> {
        let bad = |what: &str| {
            Error::new(ErrorKind::InvalidInput, format!("bad queue address: {what}"))
                .with_hint("write it as nats://HOST:PORT, nats://USER:PASSWORD@HOST:PORT or nats://TOKEN@HOST:PORT")
        };
        let rest = text.strip_prefix("nats://").ok_or_else(|| bad("it does not start with nats://"))?;
        let (user, host) = match rest.rsplit_once('@') {
            Some((creds, host)) => (Some(creds), host),
            None => (None, rest),
        };
        let host = host.trim_end_matches('/');
        if host.is_empty() || host.contains('/') || host.chars().any(char::is_whitespace) {
            return Err(bad("no host, or a path after it"));
        }
        let server = match host.rsplit_once(':') {
            Some((_, port)) if !host.ends_with(']') => {
                port.parse::<u16>().map_err(|_| bad("the port is not a number from 1 to 65535"))?;
                format!("nats://{host}")
            }
            _ => format!("nats://{host}:4222"),
        };
        let user = match user {
            None => None,
            Some("") => return Err(bad("empty credentials before @")),
            Some(creds) => Some(match creds.split_once(':') {
                Some((user, pass)) => (decode(user), Some(decode(pass))),
                None => (decode(creds), None),
            }),
        };
        Ok(QueueUrl { server, user })
    }

    /// Connects, with the address's credentials or the credentials file
    /// [`CREDS_ENV`] names.
    pub(crate) async fn connect(&self, name: &str) -> Result<async_nats::Client> {
        let mut options = match std::env::var_os(CREDS_ENV) {
            Some(path) => async_nats::ConnectOptions::with_credentials_file(&path).await.map_err(|e| {
                Error::io("read the NATS credentials file", std::path::Path::new(&path).display().to_string(), e)
                    .with_hint(format!("{CREDS_ENV} names a .creds file (a user JWT and its nkey seed)"))
            })?,
            None => async_nats::ConnectOptions::new(),
        };
        options = match &self.user {
            Some((user, Some(pass))) => options.user_and_password(user.clone(), pass.clone()),
            Some((token, None)) => options.token(token.clone()),
            None => options,
        };
        options
            .name(name)
            .connection_timeout(std::time::Duration::from_secs(10))
            // Bounds what waits for the submitting command to read: events
            // past this are dropped by the client (they are display only).
            .subscription_capacity(1024)
            .connect(self.server.as_str())
            .await
            .map_err(|e| {
                let hint = match e.kind() {
                    async_nats::ConnectErrorKind::AuthorizationViolation
                    | async_nats::ConnectErrorKind::Authentication => {
                        "the server refused the credentials: check USER:PASSWORD@ or TOKEN@ in the address, or BLIT_QUEUE_CREDS"
                    }
                    _ => "check that nats-server runs there with JetStream on (`nats-server -js`) and that the address and port are right",
                };
                Error::new(ErrorKind::Io, format!("cannot reach the queue: {e}")).with_path(self.to_string()).with_hint(hint)
            })
    }
}

/// `%XX` escapes of a URL's user part decoded (a password may hold `@`
/// or `:` written as `%40`, `%3A`); anything malformed is kept as written.
fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1).copied().and_then(hex), bytes.get(i + 2).copied().and_then(hex)) {
            (b'%', Some(hi), Some(lo)) => {
                out.push((hi * 16 + lo) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap_or_else(|_| text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_parse_and_hide_their_secrets() {
        let plain = QueueUrl::parse("nats://10.0.0.1:4333").unwrap();
        assert_eq!(plain.server, "nats://10.0.0.1:4333");
        assert_eq!(plain.to_string(), "nats://10.0.0.1:4333");
        let default_port = QueueUrl::parse("nats://queue.example/").unwrap();
        assert_eq!(default_port.server, "nats://queue.example:4222");
        let user = QueueUrl::parse("nats://ops:p%40ss@h:1").unwrap();
        assert_eq!(user.user, Some(("ops".to_owned(), Some("p@ss".to_owned()))));
        assert_eq!(user.to_string(), "nats://ops:***@h:1");
        let token = QueueUrl::parse("nats://s3cret@h:1").unwrap();
        assert_eq!(token.user, Some(("s3cret".to_owned(), None)));
        assert!(!format!("{token:?}").contains("s3cret"));
    }

    #[test]
    fn malformed_addresses_are_refused() {
        for bad in ["h:4222", "nats://", "nats://h:port", "nats://h:1/x", "nats://@h", "nats://h:99999"] {
            let e = QueueUrl::parse(bad).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidInput, "{bad}");
            assert!(e.hint().unwrap().contains("nats://HOST:PORT"), "{bad}");
        }
    }
}
