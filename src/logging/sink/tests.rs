//! The sink under a writer that blocks: access lines past the bound are dropped and counted,
//! other lines are written whole and in order, never dropped, and a flush writes everything queued.

use super::*;
use std::sync::mpsc::{Receiver, Sender, channel};

/// A writer that announces each write and then waits for a permit before taking the bytes.
struct Gated {
    entered: Sender<()>,
    permits: Receiver<()>,
    out: Arc<Mutex<Vec<u8>>>,
}

impl Write for Gated {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let _ = self.entered.send(());
        self.permits.recv().map_err(std::io::Error::other)?;
        self.out.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

struct Harness {
    sink: Arc<Sink>,
    entered: Receiver<()>,
    permits: Sender<()>,
    out: Arc<Mutex<Vec<u8>>>,
}

fn gated(capacity: usize) -> Harness {
    let (entered_tx, entered) = channel();
    let (permits, permits_rx) = channel();
    let out = Arc::new(Mutex::new(Vec::new()));
    let writer = Gated {
        entered: entered_tx,
        permits: permits_rx,
        out: out.clone(),
    };
    let sink = Sink::start(Box::new(writer), capacity).unwrap();
    Harness {
        sink,
        entered,
        permits,
        out,
    }
}

#[test]
fn access_lines_past_the_bound_are_dropped_and_other_lines_are_written_whole_in_order() {
    let h = gated(100);
    // The writer takes the first line and blocks writing it: the queue is empty again.
    h.sink.push(b"start\n", true);
    h.entered.recv().unwrap();
    // 10 access lines of 10 bytes fill the 100-byte queue; 5 more are dropped and counted.
    for i in 0..15 {
        h.sink.push(format!("access-{i:02}\n").as_bytes(), true);
    }
    assert_eq!(h.sink.dropped(), 5);
    // An audit line is never dropped: its producer writes it itself, after what is queued, and
    // waits while the writer is blocked (as a synchronous write to a full pipe would).
    let sink = h.sink.clone();
    let producer = std::thread::spawn(move || {
        sink.push(b"{\"target\":\"scim_sidecar::audit\",\"n\":1}\n", false);
        sink.push(b"{\"target\":\"scim_sidecar::audit\",\"n\":2}\n", false);
    });
    // The writer unblocks; everything queued is written by a flush.
    for _ in 0..100 {
        h.permits.send(()).unwrap();
    }
    producer.join().unwrap();
    h.sink.flush();
    let out = String::from_utf8(h.out.lock().unwrap().clone()).unwrap();
    let mut expected = String::from("start\n");
    for i in 0..10 {
        expected.push_str(&format!("access-{i:02}\n"));
    }
    expected.push_str("{\"target\":\"scim_sidecar::audit\",\"n\":1}\n");
    expected.push_str("{\"target\":\"scim_sidecar::audit\",\"n\":2}\n");
    assert_eq!(out, expected);
    assert_eq!(h.sink.dropped(), 5);
}

#[test]
fn a_flush_writes_every_line_queued_before_it_in_few_batches() {
    let h = gated(1 << 16);
    h.sink.push(b"first\n", true);
    h.entered.recv().unwrap();
    // While the writer is busy, lines gather in the queue; they go out as one batch.
    for i in 0..50 {
        h.sink.push(format!("line {i}\n").as_bytes(), true);
    }
    let sink = h.sink.clone();
    let flusher = std::thread::spawn(move || sink.flush());
    h.permits.send(()).unwrap();
    h.entered.recv().unwrap();
    h.permits.send(()).unwrap();
    flusher.join().unwrap();
    let out = String::from_utf8(h.out.lock().unwrap().clone()).unwrap();
    assert_eq!(out.lines().count(), 51, "{out}");
    assert!(out.ends_with("line 49\n"));
    assert!(
        h.entered.try_recv().is_err(),
        "two writes: the first line, then one batch of 50"
    );
    assert_eq!(h.sink.dropped(), 0);
}

#[test]
fn a_line_larger_than_the_queue_is_written_whole() {
    let h = gated(8);
    let long = format!("{}\n", "x".repeat(100));
    h.sink.push(long.as_bytes(), true);
    h.permits.send(()).unwrap();
    h.sink.flush();
    assert_eq!(*h.out.lock().unwrap(), long.as_bytes());
    assert_eq!(h.sink.dropped(), 0);
}

#[test]
fn the_fmt_layer_writes_through_the_sink_and_only_access_lines_are_droppable() {
    let h = gated(1 << 16);
    for _ in 0..10 {
        h.permits.send(()).unwrap();
    }
    let subscriber = tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_writer(MakeSinkWriter(Some(h.sink.clone())))
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        tracing::info!(target: "scim_sidecar::access", path = "/x", "request");
        tracing::info!(target: "scim_sidecar::audit", event = "user.created", "audit");
        tracing::warn!("something");
    });
    assert!(droppable("scim_sidecar::access"));
    assert!(!droppable("scim_sidecar::audit"));
    assert!(!droppable("scim_sidecar::handler"));
    h.sink.flush();
    let out = String::from_utf8(h.out.lock().unwrap().clone()).unwrap();
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert_eq!(lines[0]["target"], "scim_sidecar::access");
    assert_eq!(lines[1]["event"], "user.created");
    assert_eq!(lines[2]["message"], "something");
}
