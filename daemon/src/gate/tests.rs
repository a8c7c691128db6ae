use super::*;

fn addr(ip: u8, port: u16) -> SocketAddr {
    SocketAddr::from(([10, 0, 0, ip], port))
}

#[tokio::test]
async fn caps_close_the_oldest_unproved_connections() {
    let gate = Gate::new(Duration::from_secs(60));
    let first: Vec<_> = (0..MAX_UNPROVED_PER_IP as u16).map(|p| gate.admit(addr(1, p))).collect();
    assert!(first.iter().all(|k| !k.is_killed()));
    let newest = gate.admit(addr(1, 9999));
    assert!(first[0].is_killed(), "the oldest of that address goes first");
    assert!(first[1..].iter().all(|k| !k.is_killed()) && !newest.is_killed());
    assert_eq!(gate.unproved(), MAX_UNPROVED_PER_IP);
    // Proved connections leave the books and are never closed by the caps.
    gate.proved(Some(addr(1, 1)));
    assert_eq!(gate.unproved(), MAX_UNPROVED_PER_IP - 1);
    // The total cap, across addresses.
    let mut others = Vec::new();
    for i in 0..MAX_UNPROVED {
        others.push(gate.admit(addr(2 + (i / 16) as u8, i as u16)));
    }
    assert_eq!(gate.unproved(), MAX_UNPROVED);
    assert!(first[2].is_killed(), "the oldest overall went for the newcomers");
    assert!(!first[1].is_killed(), "a proved connection stays");
    assert!(!others.last().unwrap().is_killed());
}

#[tokio::test]
async fn an_unproved_connection_is_closed_at_the_deadline() {
    let gate = Gate::new(Duration::from_millis(50));
    let late = gate.admit(addr(1, 1));
    let quick = gate.admit(addr(1, 2));
    gate.proved(Some(addr(1, 2)));
    tokio::time::timeout(Duration::from_secs(2), late.killed()).await.expect("closed at the deadline");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!quick.is_killed());
    assert_eq!(gate.unproved(), 0);
}

#[test]
fn failed_secrets_wait_longer_and_longer_per_address() {
    let gate = Gate::new(Duration::from_secs(10));
    let delays: Vec<_> = (0..8).map(|_| gate.failed(Some(addr(1, 1)))).collect();
    assert_eq!(delays[0], Duration::from_millis(100));
    assert!(delays.windows(2).all(|w| w[1] >= w[0]), "{delays:?}");
    assert_eq!(*delays.last().unwrap(), MAX_DELAY);
    assert_eq!(gate.failed(Some(addr(2, 1))), Duration::from_millis(100), "per address");
    gate.proved(Some(addr(1, 7)));
    assert_eq!(gate.failed(Some(addr(1, 1))), Duration::from_millis(100), "a success resets the address");
}
