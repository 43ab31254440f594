//! Stdin and stdout as the runtime sees them: async channels fed by plain threads, so a
//! blocked terminal read or a full pipe never hangs the runtime or its exit (a stdout that
//! cannot stall is written in place); stdio fds left in O_NONBLOCK mode are coped with, and
//! stdin/stdout pipes are enlarged.

use std::io;
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::sync::{mpsc, oneshot};

use crate::io::CHUNK;
use crate::shutdown::Shutdown;
// A destination that never stalls (a regular file, /dev/null) is written from the runtime
// thread, which saves the writer thread's futex wakeup per chunk (docs/performance.md).
use crate::term::never_stalls;

/// Chunks in flight between a stdio thread and the runtime: bounds memory to a few CHUNKs.
const DEPTH: usize = 4;

/// Stdin read by a thread in pieces of up to CHUNK; `None` after EOF. The thread is never
/// joined: the process exits without waiting for a read that may never return.
pub fn stdin() -> mpsc::Receiver<io::Result<Bytes>> {
    let stdin = rustix::stdio::stdin();
    grow_pipe(stdin);
    read_chunks(stdin)
}

/// Any readable fd (stdin, a file sent as a request body) read by a thread in pieces of up
/// to CHUNK; `None` after EOF, an error ends the stream.
pub fn read_chunks<F: AsFd + Send + 'static>(src: F) -> mpsc::Receiver<io::Result<Bytes>> {
    let (tx, rx) = mpsc::channel(DEPTH);
    std::thread::spawn(move || {
        // One buffer, read into its uninitialised spare room and split: no zeroing (which
        // cost 16% of connect's CPU time in perf), and the memory is reused once the
        // runtime has dropped the chunks it was given.
        let mut buf = BytesMut::with_capacity(CHUNK);
        loop {
            buf.reserve(CHUNK);
            match rustix::io::read(&src, buf.spare_capacity_mut()) {
                Ok(([], _)) => return,
                Ok((filled, _)) => {
                    let n = filled.len();
                    // SAFETY: read() initialised the first n bytes of the spare capacity.
                    unsafe { buf.set_len(n) };
                    if tx.blocking_send(Ok(buf.split().freeze())).is_err() {
                        return;
                    }
                }
                Err(rustix::io::Errno::INTR) => {}
                // A stdin someone left in O_NONBLOCK mode: wait until it is readable.
                Err(rustix::io::Errno::AGAIN) => wait_for(&src, rustix::event::PollFlags::IN),
                Err(e) => {
                    let _ = tx.blocking_send(Err(e.into()));
                    return;
                }
            }
        }
    });
    rx
}

/// Blocks until `fd` is ready for `flags` (for stdio fds left in O_NONBLOCK mode by
/// whoever shares them).
pub(crate) fn wait_for(fd: impl AsFd, flags: rustix::event::PollFlags) {
    let mut fds = [rustix::event::PollFd::new(&fd, flags)];
    let _ = rustix::event::poll(&mut fds, None);
}

/// write_all that also copes with an O_NONBLOCK stdout (EAGAIN: wait, go on).
pub(crate) fn write_all(fd: impl AsFd, mut data: &[u8]) -> io::Result<()> {
    while !data.is_empty() {
        match rustix::io::write(&fd, data) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => data = &data[n..],
            Err(rustix::io::Errno::INTR) => {}
            Err(rustix::io::Errno::AGAIN) => wait_for(&fd, rustix::event::PollFlags::OUT),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Pipe buffer we ask for on a stdin/stdout pipe: 1 MiB (the default
/// /proc/sys/fs/pipe-max-size) instead of 64 KiB lets one read or write move 16 times more
/// per wakeup; see the measurement on CHUNK. Failure (not a pipe, a limit) changes nothing.
pub(crate) const PIPE_SIZE: usize = 1 << 20;

pub(crate) fn grow_pipe(fd: impl AsFd) {
    if rustix::fs::fstat(&fd).is_ok_and(|st| {
        rustix::fs::FileType::from_raw_mode(st.st_mode) == rustix::fs::FileType::Fifo
    }) {
        let _ = rustix::pipe::fcntl_setpipe_size(&fd, PIPE_SIZE);
    }
}

/// An output (stdout, stderr, the file of `http -o`) as the runtime writes to it, one chunk
/// per `write_all`: chunks from concurrent clients never interleave mid-chunk. A destination
/// that can stall (a pipe, a terminal, a socket) is written by a thread, so a reader that
/// stops reading never hangs the runtime; one that cannot (see [`never_stalls`]) is written
/// in place. Cloned handles share the writer.
#[derive(Clone)]
pub struct Writer {
    to: To,
    tail: Tail,
}

/// The last byte given to a [`Writer`], kept apart from it (holding a Writer keeps its
/// destination open): whether what was shown ended a line.
#[derive(Clone)]
pub struct Tail(Arc<AtomicU16>);

impl Tail {
    /// The last byte queued, or None before the first.
    pub fn last(&self) -> Option<u8> {
        u8::try_from(self.0.load(Ordering::Relaxed)).ok()
    }

    fn set(&self, chunk: &[u8]) {
        if let Some(&b) = chunk.last() {
            self.0.store(u16::from(b), Ordering::Relaxed);
        }
    }
}

#[derive(Clone)]
enum To {
    Thread(mpsc::Sender<Item>),
    Direct(Arc<Direct>),
}

/// What the writer thread is given: a chunk, or a flush to answer once all before it is written.
enum Item {
    Chunk(Bytes),
    Flushed(oneshot::Sender<()>),
}

/// A destination written in place; the last handle dropped reports how it ended.
struct Direct {
    dest: Box<dyn AsFd + Send + Sync>,
    failed: Mutex<Option<io::Error>>,
    done: Mutex<Option<oneshot::Sender<io::Result<()>>>>,
}

impl Drop for Direct {
    fn drop(&mut self) {
        let result = match self.failed.get_mut().map(Option::take) {
            Ok(Some(e)) => Err(e),
            _ => Ok(()),
        };
        if let Some(tx) = self.done.get_mut().ok().and_then(Option::take) {
            let _ = tx.send(result);
        }
    }
}

/// Waits for the stdout writer to write everything and reports how it ended.
pub struct WriterDone(oneshot::Receiver<io::Result<()>>);

impl Writer {
    pub fn spawn() -> (Writer, WriterDone) {
        grow_pipe(rustix::stdio::stdout());
        Writer::spawn_to(rustix::stdio::stdout())
    }

    /// The same writer on stderr (`http --demux` writes a container's stderr there).
    pub fn spawn_stderr() -> (Writer, WriterDone) {
        Writer::spawn_to(rustix::stdio::stderr())
    }

    /// The same writer on any destination, such as the file of `http -o`.
    pub fn spawn_to<F: AsFd + Send + Sync + 'static>(dest: F) -> (Writer, WriterDone) {
        let (done_tx, done_rx) = oneshot::channel();
        if never_stalls(&dest) {
            let direct = Direct {
                dest: Box::new(dest),
                failed: Mutex::new(None),
                done: Mutex::new(Some(done_tx)),
            };
            let to = To::Direct(Arc::new(direct));
            return (Writer::with(to), WriterDone(done_rx));
        }
        let (tx, mut rx) = mpsc::channel::<Item>(DEPTH);
        std::thread::spawn(move || {
            let mut result = Ok(());
            while let Some(item) = rx.blocking_recv() {
                match item {
                    Item::Chunk(chunk) => {
                        if let Err(e) = write_all(&dest, &chunk) {
                            result = Err(e);
                            break;
                        }
                    }
                    Item::Flushed(tx) => {
                        let _ = tx.send(());
                    }
                }
            }
            let _ = done_tx.send(result);
        });
        (Writer::with(To::Thread(tx)), WriterDone(done_rx))
    }

    fn with(to: To) -> Writer {
        let tail = Tail(Arc::new(AtomicU16::new(u16::MAX)));
        Writer { to, tail }
    }

    /// The last byte written through this writer, followed after the writer is gone.
    pub fn tail(&self) -> Tail {
        self.tail.clone()
    }

    /// Queues a chunk (or writes it, see [`never_stalls`]); fails with BrokenPipe once
    /// stdout is gone.
    pub async fn write(&self, chunk: Bytes) -> io::Result<()> {
        let gone = || io::Error::from(io::ErrorKind::BrokenPipe);
        self.tail.set(&chunk);
        match &self.to {
            To::Thread(tx) => tx.send(Item::Chunk(chunk)).await.map_err(|_| gone()),
            To::Direct(d) => {
                let mut failed = d.failed.lock().map_err(|_| gone())?;
                if failed.is_some() {
                    return Err(gone());
                }
                write_all(&d.dest, &chunk).map_err(|e| {
                    *failed = Some(e);
                    gone()
                })
            }
        }
    }

    /// Waits until everything queued before is written, so that the destination can be
    /// written by other means after it (`http` splices a body there); fails with
    /// BrokenPipe once the destination is gone.
    pub async fn flush(&self) -> io::Result<()> {
        let gone = || io::Error::from(io::ErrorKind::BrokenPipe);
        match &self.to {
            To::Thread(tx) => {
                let (done, written) = oneshot::channel();
                tx.send(Item::Flushed(done)).await.map_err(|_| gone())?;
                written.await.map_err(|_| gone())
            }
            To::Direct(d) => match d.failed.lock() {
                Ok(f) if f.is_none() => Ok(()),
                _ => Err(gone()),
            },
        }
    }

    pub fn is_closed(&self) -> bool {
        match &self.to {
            To::Thread(tx) => tx.is_closed(),
            To::Direct(d) => d.failed.lock().map_or(true, |f| f.is_some()),
        }
    }

    /// Resolves once stdout is gone: a write failed, or (checked every 100 ms, for a server
    /// idling between clients) the reading end of the pipe was closed, which poll(2)
    /// reports as POLLERR before any write would fail.
    pub async fn closed(&self) {
        let reader_gone = async {
            loop {
                let stdout = rustix::stdio::stdout();
                let mut fds = [rustix::event::PollFd::new(
                    &stdout,
                    rustix::event::PollFlags::empty(),
                )];
                let zero = rustix::event::Timespec {
                    tv_sec: 0,
                    tv_nsec: 0,
                };
                if self.is_closed()
                    || rustix::event::poll(&mut fds, Some(&zero)).is_ok()
                        && fds[0].revents().intersects(rustix::event::PollFlags::ERR)
                {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        };
        match &self.to {
            To::Thread(tx) => tokio::select! {
                _ = tx.closed() => {}
                _ = reader_gone => {}
            },
            To::Direct(_) => reader_gone.await,
        }
    }
}

impl WriterDone {
    /// Waits until every queued chunk is written (all `Writer` handles must be dropped).
    /// A closed stdout is not an error: udskit exits 0 when the reader goes away (README,
    /// "Exit codes").
    pub async fn wait(self) -> io::Result<()> {
        ended(self.0.await)
    }

    /// [`wait`](Self::wait), but once a stop signal has come only for a second more: a
    /// reader that stopped reading must not hold up the exit (the thread is abandoned).
    pub async fn finish(self, stop: &Shutdown) -> io::Result<()> {
        let wait = self.wait();
        tokio::pin!(wait);
        tokio::select! {
            r = &mut wait => r,
            _ = stop.stopped() => tokio::time::timeout(Duration::from_secs(1), wait)
                .await
                .unwrap_or(Ok(())),
        }
    }
}

fn ended(r: Result<io::Result<()>, oneshot::error::RecvError>) -> io::Result<()> {
    match r {
        Ok(Err(e)) if crate::error::is_broken_pipe(&e) => Ok(()),
        Ok(r) => r,
        Err(_) => Ok(()),
    }
}
