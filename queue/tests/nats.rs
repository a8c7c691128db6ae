//! The queue against a real `nats-server -js` on loopback: items go to one
//! worker each, come back when a worker goes silent, done records and job
//! state last, credentials are checked.

use blit_api::{ErrorKind, RelPath, TransferOptions, TransferSummary};
use blit_queue::testing::NatsServer;
use blit_queue::{ItemDone, JobSpec, JobState, Queue, QueueUrl, WorkItem};
use std::time::{Duration, Instant};

fn spec(dst: &str) -> JobSpec {
    JobSpec {
        src: b"/src/".to_vec(),
        dst: dst.as_bytes().to_vec(),
        mirror: false,
        options: TransferOptions::new(),
        transport: "auto".into(),
        streams: None,
        compress: "none".into(),
    }
}

fn item(job: &str, seq: u64) -> WorkItem {
    WorkItem {
        job: job.into(),
        run: 1,
        seq,
        paths: vec![RelPath::from_bytes(format!("f{seq}").into_bytes()).unwrap()],
        bytes: seq,
        range: None,
    }
}

async fn connect(server: &NatsServer, name: &str) -> Queue {
    Queue::connect(&QueueUrl::parse(&server.url()).unwrap(), name).await.unwrap()
}

#[tokio::test]
async fn each_item_goes_to_one_worker_and_a_silent_workers_item_comes_back() {
    let server = NatsServer::start(&[]);
    let submit = connect(&server, "submit").await;
    let job = spec("/dst").id();
    for seq in 1..=3 {
        submit.publish(&item(&job, seq)).await.unwrap();
    }
    // The same item again (a resubmission) is stored once.
    submit.publish(&item(&job, 3)).await.unwrap();
    let a = connect(&server, "a").await.taker(Duration::from_secs(1)).await.unwrap();
    let b = connect(&server, "b").await.taker(Duration::from_secs(1)).await.unwrap();
    let first = a.next().await.unwrap().expect("an item for a");
    let second = b.next().await.unwrap().expect("an item for b");
    let third = b.next().await.unwrap().expect("the last item for b");
    let seqs = |t: &blit_queue::Taken| t.item.as_ref().unwrap().seq;
    let mut got = vec![seqs(&first), seqs(&second), seqs(&third)];
    got.sort();
    assert_eq!(got, [1, 2, 3], "each item once");
    assert_eq!(first.attempt, 1);
    second.ack().await.unwrap();
    third.ack().await.unwrap();
    // `a` keeps its lease (1 s) for 2 s, then goes silent: its item comes
    // back to `b`, not before a lease after the last renewal.
    let taken = Instant::now();
    let keeping = async {
        for _ in 0..4 {
            first.keep().await;
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    };
    let waiting = async {
        loop {
            if let Some(t) = b.next().await.unwrap() {
                break t;
            }
            assert!(taken.elapsed() < Duration::from_secs(20), "the silent worker's item never came back");
        }
    };
    let ((), again) = tokio::join!(keeping, waiting);
    assert!(taken.elapsed() >= Duration::from_millis(2500), "the item left a worker that kept its lease");
    assert_eq!(seqs(&again), seqs(&first));
    assert_eq!(again.attempt, 2);
    again.ack().await.unwrap();
    assert!(b.next().await.unwrap().is_none(), "nothing is left");
}

#[tokio::test]
async fn done_records_and_job_state_outlive_the_connection() {
    let server = NatsServer::start(&[]);
    let job = spec("/dst2");
    let id = job.id();
    {
        let q = connect(&server, "submit").await;
        assert!(q.job(&id).await.unwrap().is_none());
        q.put_job(&job).await.unwrap();
        q.set_state(&id, &JobState { run: 1, planned: true, items: 2, finished: false }).await.unwrap();
        for seq in [2, 1] {
            let summary = TransferSummary { files_transferred: seq, ..TransferSummary::default() };
            let done = ItemDone { run: 1, seq, worker: "w".into(), summary, error: None };
            q.done(&id, &done).await.unwrap();
        }
    }
    let q = connect(&server, "rerun").await;
    assert_eq!(q.job(&id).await.unwrap().unwrap().dst, job.dst);
    assert_eq!(q.state(&id).await.unwrap().unwrap().items, 2);
    let mut follow = q.follow(&id).await.unwrap();
    let first = follow.next().await.unwrap();
    let second = follow.next().await.unwrap();
    assert_eq!((first.seq, second.seq), (2, 1), "in the order they were stored");
    assert_eq!(second.summary.files_transferred, 1);
    // A new run starts clean.
    q.clear(&id).await.unwrap();
    let mut follow = q.follow(&id).await.unwrap();
    let none = tokio::time::timeout(Duration::from_millis(500), follow.next()).await;
    assert!(none.is_err(), "no record is left after clear");
}

#[tokio::test]
async fn credentials_in_the_address_are_used_and_checked() {
    let server = NatsServer::start(&["--user", "ops", "--pass", "s3cret"]);
    let port = server.port();
    let good = QueueUrl::parse(&format!("nats://ops:s3cret@127.0.0.1:{port}")).unwrap();
    Queue::connect(&good, "t").await.expect("the right password connects");
    let bad = QueueUrl::parse(&format!("nats://ops:wrong@127.0.0.1:{port}")).unwrap();
    let e = Queue::connect(&bad, "t").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Io);
    let text = format!("{e} {}", e.hint().unwrap_or_default());
    assert!(text.contains("credentials"), "{text}");
    assert!(!text.contains("wrong"), "the password is never shown: {text}");
    let none = QueueUrl::parse(&format!("nats://127.0.0.1:{port}")).unwrap();
    assert!(Queue::connect(&none, "t").await.is_err(), "no credentials, no queue");

    let server = NatsServer::start(&["--auth", "t0ken"]);
    let token = QueueUrl::parse(&format!("nats://t0ken@127.0.0.1:{}", server.port())).unwrap();
    Queue::connect(&token, "t").await.expect("the token connects");
}

#[tokio::test]
async fn a_server_without_jetstream_is_named_with_what_to_do() {
    // A plain NATS server (no -js): the harness always passes -js, so run
    // one by hand.
    let program = blit_queue::testing::program().expect("nats-server");
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut child = std::process::Command::new(program)
        .args(["-a", "127.0.0.1", "-p", &port.to_string()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let url = QueueUrl::parse(&format!("nats://127.0.0.1:{port}")).unwrap();
    let started = Instant::now();
    let e = loop {
        match Queue::connect(&url, "t").await {
            Err(e) if e.message().contains("cannot reach") && started.elapsed() < Duration::from_secs(10) => {
                tokio::time::sleep(Duration::from_millis(100)).await
            }
            other => break other.unwrap_err(),
        }
    };
    let _ = child.kill();
    let _ = child.wait();
    assert!(e.hint().unwrap_or_default().contains("-js"), "{e}: {:?}", e.hint());
}
