//! The ports a daemon's data-plane listeners may take, so that a firewall
//! can let them through (`data_ports` in blitd.toml).

use blit_api::{Error, ErrorKind, Result};
use std::fmt;
use std::net::{IpAddr, SocketAddr, TcpListener};
use std::str::FromStr;

/// An inclusive range of TCP ports, `first` to `last`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortRange {
    first: u16,
    last: u16,
}

impl PortRange {
    /// The ports `first..=last`; both must be above 0 and in order.
    pub fn new(first: u16, last: u16) -> Result<Self> {
        if first == 0 || first > last {
            return Err(Error::new(ErrorKind::InvalidInput, format!("`{first}-{last}` is not a port range"))
                .with_hint("write PORT or FIRST-LAST with 1 <= FIRST <= LAST <= 65535, e.g. 40000-40099"));
        }
        Ok(PortRange { first, last })
    }

    /// Whether `port` is in the range.
    pub fn contains(&self, port: u16) -> bool {
        (self.first..=self.last).contains(&port)
    }

    /// How many ports the range holds.
    pub fn len(&self) -> usize {
        usize::from(self.last - self.first) + 1
    }

    /// Never: a range holds at least one port.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Binds a listener on `ip` at the first free port of the range,
    /// starting the search at `start` (any number: it is taken modulo the
    /// range's length, so concurrent sessions spread over the range).
    /// `AddrInUse` when every port is taken.
    pub fn bind(&self, ip: IpAddr, start: usize) -> std::io::Result<TcpListener> {
        let len = self.len();
        for i in 0..len {
            let port = self.first + ((start + i) % len) as u16;
            match TcpListener::bind(SocketAddr::new(ip, port)) {
                Ok(listener) => return Ok(listener),
                Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => continue,
                Err(e) => return Err(e),
            }
        }
        Err(std::io::Error::new(std::io::ErrorKind::AddrInUse, format!("every port of {self} is in use")))
    }
}

impl FromStr for PortRange {
    type Err = Error;

    /// Parses `PORT` or `FIRST-LAST`.
    fn from_str(s: &str) -> Result<Self> {
        let bad = || {
            Error::new(ErrorKind::InvalidInput, format!("`{s}` is not a port range"))
                .with_hint("write PORT or FIRST-LAST with 1 <= FIRST <= LAST <= 65535, e.g. 40000-40099")
        };
        let (first, last) = s.trim().split_once('-').unwrap_or((s.trim(), s.trim()));
        let port = |p: &str| p.trim().parse::<u16>().map_err(|_| bad());
        PortRange::new(port(first)?, port(last)?).map_err(|_| bad())
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.first == self.last {
            write!(f, "{}", self.first)
        } else {
            write!(f, "{}-{}", self.first, self.last)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ports_and_ranges_and_refuses_the_rest() {
        let r: PortRange = "40000-40009".parse().unwrap();
        assert_eq!((r.len(), r.contains(40000), r.contains(40009), r.contains(40010)), (10, true, true, false));
        assert_eq!(r.to_string(), "40000-40009");
        assert_eq!("9000".parse::<PortRange>().unwrap().to_string(), "9000");
        for bad in ["", "0", "0-10", "10-9", "x", "1-70000", "1-2-3", "-5"] {
            let e = bad.parse::<PortRange>().unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidInput, "{bad}");
            assert!(e.to_string().contains("not a port range"), "{bad}: {e}");
        }
    }

    #[test]
    fn binds_the_next_free_port_of_the_range() {
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        // Two free ports next to each other are not guaranteed: take one
        // and make a range of one, then fill it.
        let probe = TcpListener::bind(SocketAddr::new(ip, 0)).unwrap();
        let port = probe.local_addr().unwrap().port();
        drop(probe);
        let range = PortRange::new(port, port).unwrap();
        let first = range.bind(ip, 7).unwrap();
        assert_eq!(first.local_addr().unwrap().port(), port);
        let e = range.bind(ip, 0).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::AddrInUse);
        assert!(e.to_string().contains(&port.to_string()), "{e}");
    }
}
