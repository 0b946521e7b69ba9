//! The log sink: access lines go to a bounded in-memory queue that one writer thread (started
//! with the first of them) writes to stderr a batch at a time, with one `write_all`.
//!
//! A request's thread only copies its line into the queue (a mutex held for a `memcpy`). The
//! writer, woken by the first line after a quiet spell, lets lines gather for up to [`LINGER`]
//! (less when the queue passes half its bound or a flush is asked), then writes them all at once:
//! a busy sidecar makes one write syscall and one wake-up per batch instead of one per line. When
//! the queue holds [`QUEUE_BYTES`], access lines are dropped and counted ([`Sink::dropped`], the
//! `scim_sidecar_log_dropped_lines_total` metric). Only access lines are queued: every other line
//! (warnings, errors, audit events; rare) is written at once by the thread that logs it, after
//! what is queued, as before. [`Sink::flush`] waits until every line queued before it is written:
//! the shutdown path and the panic hook call it (docs/design/log-writer.md).

use std::io::Write;
use std::sync::atomic::AtomicBool;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Once, OnceLock, PoisonError, Weak};
use std::time::Duration;

/// The queue's bound in bytes (about 4,000 access lines): what a stalled stderr may hold back.
pub const QUEUE_BYTES: usize = 1 << 20;

/// How long the writer lets lines gather before it writes them: the most a line waits in the
/// queue of a sidecar that is not flushing or shutting down.
pub const LINGER: Duration = Duration::from_millis(10);

/// How long [`Sink::flush`] waits for the writer before giving up (a stderr nobody reads).
pub const FLUSH_WAIT: Duration = Duration::from_secs(5);

/// The queue and the writer thread's state, under one mutex.
#[derive(Debug, Default)]
struct State {
    /// Whole lines waiting for the writer.
    queue: Vec<u8>,
    /// Lines queued since start.
    pushed: u64,
    /// Lines written since start (the writer's progress, for `flush`).
    written: u64,
    /// The writer waits for lines (a producer wakes it).
    parked: bool,
    /// The writer lets lines gather (a producer wakes it only past half the bound).
    lingering: bool,
    /// A flush waits: the writer writes at once.
    flush_asked: bool,
    /// Flushers waiting on `progress`.
    waiting: usize,
}

/// The shared queue between producers and the writer thread.
pub struct Sink {
    state: Mutex<State>,
    /// stderr (or a test's writer); taken before `state` by whoever writes, so lines keep order.
    out: Mutex<Box<dyn Write + Send>>,
    /// The writer waits here for lines.
    work: Condvar,
    /// Flushers wait here for the writer's progress.
    progress: Condvar,
    capacity: usize,
    dropped: AtomicU64,
    /// This sink, for the writer thread started by the first queued line.
    me: Weak<Sink>,
    /// Starts the writer thread once, on the first access line: a sidecar that logs none (at
    /// `warn`, or not yet serving) has no thread and no batch buffer (idle RSS).
    worker: Once,
    /// The writer thread could not be started: access lines are written at once instead.
    unthreaded: AtomicBool,
}

impl std::fmt::Debug for Sink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sink")
            .field("capacity", &self.capacity)
            .field("dropped", &self.dropped)
            .finish_non_exhaustive()
    }
}

impl Sink {
    /// A sink writing to `out`, with a queue of `capacity` bytes; its writer thread starts with the
    /// first queued line.
    pub fn start(out: Box<dyn Write + Send>, capacity: usize) -> std::io::Result<Arc<Sink>> {
        Ok(Arc::new_cyclic(|me| Sink {
            state: Mutex::new(State::default()),
            out: Mutex::new(out),
            work: Condvar::new(),
            progress: Condvar::new(),
            capacity,
            dropped: AtomicU64::new(0),
            me: me.clone(),
            worker: Once::new(),
            unthreaded: AtomicBool::new(false),
        }))
    }

    /// Starts the writer thread if it is not running yet; false when it cannot be started.
    fn has_worker(&self) -> bool {
        self.worker.call_once(|| {
            let started = self.me.upgrade().map(|sink| {
                std::thread::Builder::new()
                    .name("log-writer".to_owned())
                    .spawn(move || sink.run())
            });
            if let Some(Err(e)) = &started {
                eprintln!("cannot start the log writer thread, writing access lines at once: {e}");
            }
            if !matches!(started, Some(Ok(_))) {
                self.unthreaded.store(true, Ordering::Relaxed);
            }
        });
        !self.unthreaded.load(Ordering::Relaxed)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes one whole line (with its newline). A `droppable` line (an access line) is queued for
    /// the writer thread, or dropped and counted when the queue is full (a line larger than the
    /// whole queue is taken when the queue is empty). Any other line (audit events, warnings,
    /// errors: rare) is written at once by the calling thread, after everything queued before it,
    /// as the synchronous writer did: it is on stderr when `push` returns, and never dropped.
    pub fn push(&self, line: &[u8], droppable: bool) {
        if !droppable || !self.has_worker() {
            let mut out = self.out.lock().unwrap_or_else(PoisonError::into_inner);
            let (queued, taken) = {
                let mut s = self.lock();
                (std::mem::take(&mut s.queue), s.pushed)
            };
            let _ = out
                .write_all(&queued)
                .and_then(|()| out.write_all(line))
                .and_then(|()| out.flush());
            drop(out);
            self.written(taken);
            return;
        }
        let mut s = self.lock();
        if !s.queue.is_empty() && s.queue.len() + line.len() > self.capacity {
            drop(s);
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        s.queue.extend_from_slice(line);
        s.pushed += 1;
        let wake = s.parked || (s.lingering && s.queue.len() >= self.capacity / 2);
        if wake {
            s.parked = false;
            s.lingering = false;
            drop(s);
            self.work.notify_one();
        }
    }

    /// Records that every line queued up to `taken` is written; wakes flushers.
    fn written(&self, taken: u64) {
        let mut s = self.lock();
        s.written = s.written.max(taken);
        if s.waiting > 0 {
            self.progress.notify_all();
        }
    }

    /// Waits until every line queued before this call is written, at most [`FLUSH_WAIT`].
    pub fn flush(&self) {
        let mut s = self.lock();
        let target = s.pushed;
        if s.written < target {
            s.flush_asked = true;
            self.work.notify_one();
        }
        s.waiting += 1;
        let (mut s, _) = self
            .progress
            .wait_timeout_while(s, FLUSH_WAIT, |s| s.written < target)
            .unwrap_or_else(PoisonError::into_inner);
        s.waiting -= 1;
    }

    /// Access lines dropped because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// The writer thread: parks while the queue is empty; once woken, lets lines gather for up to
    /// [`LINGER`], takes the whole queue and writes it with one `write_all`. A write error (stderr
    /// closed) loses that batch, as the synchronous writer did.
    fn run(&self) {
        let mut batch = Vec::new();
        loop {
            let mut s = self.lock();
            while s.queue.is_empty() {
                s.parked = true;
                s = self.work.wait(s).unwrap_or_else(PoisonError::into_inner);
            }
            s.parked = false;
            if !s.flush_asked && s.queue.len() < self.capacity / 2 {
                s.lingering = true;
                s = self
                    .work
                    .wait_timeout_while(s, LINGER, |s| {
                        s.lingering && !s.flush_asked && s.queue.len() < self.capacity / 2
                    })
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
                s.lingering = false;
            }
            s.flush_asked = false;
            drop(s);
            // `out` before `state`, as in `push`: whoever holds `out` writes what is queued first.
            let mut out = self.out.lock().unwrap_or_else(PoisonError::into_inner);
            let taken = {
                let mut s = self.lock();
                std::mem::swap(&mut s.queue, &mut batch);
                s.pushed
            };
            if !batch.is_empty() {
                let _ = out.write_all(&batch).and_then(|()| out.flush());
            }
            drop(out);
            batch.clear();
            self.written(taken);
        }
    }
}

/// The process's sink, once [`install`] ran.
static GLOBAL: OnceLock<Arc<Sink>> = OnceLock::new();

/// Starts the process's writer thread on stderr and installs a panic hook that writes what is
/// queued before the panic message. Returns `None` (the caller writes synchronously) when the
/// thread cannot be started.
pub fn install() -> Option<&'static Arc<Sink>> {
    if let Some(s) = GLOBAL.get() {
        return Some(s);
    }
    let started = match Sink::start(Box::new(std::io::stderr()), QUEUE_BYTES) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("cannot start the log writer thread, writing logs synchronously: {e}");
            return None;
        }
    };
    let sink = GLOBAL.get_or_init(|| started);
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        flush();
        previous(info);
    }));
    Some(sink)
}

/// The process's sink, if installed.
pub fn global() -> Option<&'static Arc<Sink>> {
    GLOBAL.get()
}

/// Writes everything queued so far (no-op without a sink): before the process exits.
pub fn flush() {
    if let Some(s) = GLOBAL.get() {
        s.flush();
    }
}

/// Access lines the process's sink dropped (0 without a sink): the metric's value.
pub fn dropped() -> u64 {
    GLOBAL.get().map_or(0, |s| s.dropped())
}

/// The `tracing` fmt layer's writer: each event's formatted line, written with one `write_all`,
/// becomes one queued line. Access lines are droppable, every other target is not. Without a sink
/// (the writer thread could not start) lines go straight to stderr, as before.
#[derive(Debug, Clone)]
pub struct MakeSinkWriter(pub Option<Arc<Sink>>);

/// The writer of one event.
#[derive(Debug)]
pub enum SinkWriter<'a> {
    /// Into the queue.
    Queue {
        /// The sink.
        sink: &'a Sink,
        /// Whether the line may be dropped when the queue is full.
        droppable: bool,
    },
    /// Straight to stderr.
    Stderr(std::io::Stderr),
}

impl Write for SinkWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            SinkWriter::Queue { sink, droppable } => {
                sink.push(buf, *droppable);
                Ok(buf.len())
            }
            SinkWriter::Stderr(e) => e.write(buf),
        }
    }
    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        match self {
            SinkWriter::Queue { sink, droppable } => {
                sink.push(buf, *droppable);
                Ok(())
            }
            SinkWriter::Stderr(e) => e.write_all(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            SinkWriter::Queue { .. } => Ok(()),
            SinkWriter::Stderr(e) => e.flush(),
        }
    }
}

impl MakeSinkWriter {
    fn writer(&self, droppable: bool) -> SinkWriter<'_> {
        match &self.0 {
            Some(sink) => SinkWriter::Queue { sink, droppable },
            None => SinkWriter::Stderr(std::io::stderr()),
        }
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for MakeSinkWriter {
    type Writer = SinkWriter<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        self.writer(false)
    }

    fn make_writer_for(&'a self, meta: &tracing::Metadata<'_>) -> Self::Writer {
        self.writer(droppable(meta.target()))
    }
}

/// Whether lines of a `tracing` target may be dropped when the queue is full: access lines only.
fn droppable(target: &str) -> bool {
    target == crate::access_log::TARGET
}

#[cfg(test)]
mod tests;
