//! Bytes moved between stdio (or a file) and a socket inside the kernel, never through our
//! memory: a regular file on stdin goes into the socket by sendfile(2), a stdin pipe by
//! splice(2); a socket's bytes go to an output pipe by one splice(2), or into a regular file
//! or /dev/null through a pipe of ours (splice needs a pipe on one side). Every mover
//! blocks (the socket's O_NONBLOCK is waited out with poll), so it runs on a thread of its
//! own, and falls back to a read/write copy where the kernel refuses before anything moved.
//! The socket must stay non-blocking: a splice from a blocking socket into a pipe waits for
//! the socket's next bytes holding the pipe's lock, so the pipe's reader cannot take the
//! bytes an earlier splice put there, and a peer waiting for them to be read never sends
//! more (the hang of issue 18); poll(2) holds no lock while it waits.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use rustix::event::PollFlags;
use rustix::fs::FileType;
use rustix::io::Errno;
use rustix::pipe::SpliceFlags;

use crate::io::CHUNK;
use crate::io::stdio::{PIPE_SIZE, wait_for, write_all};

/// Largest single splice(2) or sendfile(2): the 1 MiB a grown pipe holds. A socket takes
/// less per call anyway (its send buffer), so more buys nothing; less costs calls per GiB.
const MOVE_MAX: usize = PIPE_SIZE;

/// What stdin is, for the way into a socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// A pipe: splice(2) from it.
    Pipe,
    /// A regular file: sendfile(2) from its current offset on, advancing it as read(2) does.
    File,
}

/// How `fd` can feed a socket in the kernel, if it can.
pub fn source_of(fd: impl AsFd) -> Option<Source> {
    let st = rustix::fs::fstat(&fd).ok()?;
    match FileType::from_raw_mode(st.st_mode) {
        FileType::Fifo => Some(Source::Pipe),
        FileType::RegularFile => Some(Source::File),
        _ => None,
    }
}

/// How an output takes a socket's bytes in the kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sink {
    /// A pipe: spliced straight from the socket.
    Pipe,
    /// A regular file or /dev/null: through a pipe of ours, two splices per piece.
    ViaPipe,
}

/// How `fd` can take a socket's bytes in the kernel, if it can: a pipe, a regular file not
/// opened for appending (splice refuses O_APPEND), or /dev/null. A terminal or another
/// device is written from user space as before: speed does not matter there.
pub fn sink_of(fd: impl AsFd) -> Option<Sink> {
    let st = rustix::fs::fstat(&fd).ok()?;
    match FileType::from_raw_mode(st.st_mode) {
        FileType::Fifo => Some(Sink::Pipe),
        FileType::RegularFile => {
            let append = rustix::fs::fcntl_getfl(&fd).ok()?;
            (!append.contains(rustix::fs::OFlags::APPEND)).then_some(Sink::ViaPipe)
        }
        FileType::CharacterDevice
            if rustix::fs::major(st.st_rdev) == 1 && rustix::fs::minor(st.st_rdev) == 3 =>
        {
            Some(Sink::ViaPipe)
        }
        _ => None,
    }
}

/// Moves stdin (a `from`) into `sock` until EOF, then shuts down the socket's write side;
/// counts what went out into `sent` as it goes and returns the total. Blocking.
pub fn stdin_into(sock: &OwnedFd, from: Source, sent: &dyn Fn(usize)) -> io::Result<u64> {
    let stdin = rustix::stdio::stdin();
    let mut total = 0u64;
    loop {
        let moved = match from {
            Source::Pipe => {
                rustix::pipe::splice(stdin, None, sock, None, MOVE_MAX, SpliceFlags::MOVE)
            }
            Source::File => rustix::fs::sendfile(sock, stdin, None, MOVE_MAX),
        };
        match moved {
            Ok(0) => break,
            Ok(n) => {
                total += n as u64;
                sent(n);
            }
            Err(Errno::INTR) => {}
            // The socket is non-blocking (it is the runtime's), which makes splice
            // non-blocking on the pipe side too: EAGAIN means "pipe empty" or "socket
            // full". Wait for stdin first; if it has data, the socket was full. A regular
            // file is always readable.
            Err(Errno::AGAIN) => match from {
                Source::Pipe if !ready(stdin, PollFlags::IN) => wait_for(stdin, PollFlags::IN),
                _ => wait_for_room(sock),
            },
            // A kernel, file system or socket that cannot (nothing moved yet): copy instead.
            Err(Errno::INVAL | Errno::NOSYS | Errno::OPNOTSUPP) if total == 0 => {
                return copy_stdin_into(sock, sent);
            }
            Err(e) => return Err(io::Error::from(e)),
        }
    }
    rustix::net::shutdown(sock, rustix::net::Shutdown::Write)?;
    Ok(total)
}

/// Waits until the socket, full, takes more: polled for a moment first, while a CPU is
/// free ([`crate::net::busypoll::poll_briefly`]), as the reader usually frees room within
/// microseconds and a sleep costs the wakeup of an idle CPU (a regular file into the C
/// sink of bench/stream: 1.9x the throughput, docs/performance.md).
fn wait_for_room(sock: &OwnedFd) {
    let mut fds = [rustix::event::PollFd::new(sock, PollFlags::OUT)];
    if !crate::net::busypoll::poll_briefly(&mut fds) {
        room_or_look(sock);
    }
}

/// How long a send waits for room in a socket before it tries again. A unix peer that shuts
/// down its reading side (shutdown(SHUT_RD)) with our bytes filling its queue frees no room
/// and raises no poll event (POLLOUT, POLLHUP and POLLERR all stay clear), while a send
/// then fails with EPIPE: trying again now and then turns a wait forever into that error.
const ROOM_LOOK: rustix::event::Timespec = rustix::event::Timespec {
    tv_sec: 0,
    tv_nsec: 250_000_000,
};

/// Waits until `sock` has room, or [`ROOM_LOOK`] has passed.
fn room_or_look(sock: impl AsFd) {
    let mut fds = [rustix::event::PollFd::new(&sock, PollFlags::OUT)];
    let _ = rustix::event::poll(&mut fds, Some(&ROOM_LOOK));
}

/// Whether `fd` is ready for `flags` right now.
fn ready(fd: impl AsFd, flags: PollFlags) -> bool {
    let mut fds = [rustix::event::PollFd::new(&fd, flags)];
    let zero = rustix::event::Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    matches!(rustix::event::poll(&mut fds, Some(&zero)), Ok(n) if n > 0)
}

/// The fallback of [`stdin_into`]: read and write through a buffer.
fn copy_stdin_into(sock: &OwnedFd, sent: &dyn Fn(usize)) -> io::Result<u64> {
    let stdin = rustix::stdio::stdin();
    let mut buf = vec![0u8; CHUNK];
    let mut total = 0u64;
    loop {
        let n = match rustix::io::read(stdin, &mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(Errno::INTR) => continue,
            Err(Errno::AGAIN) => {
                wait_for(stdin, PollFlags::IN);
                continue;
            }
            Err(e) => {
                return Err(io::Error::new(
                    io::Error::from(e).kind(),
                    format!("reading stdin: {e}"),
                ));
            }
        };
        send_all(sock, &buf[..n], sent)?;
        total += n as u64;
    }
    rustix::net::shutdown(sock, rustix::net::Shutdown::Write)?;
    Ok(total)
}

/// Sends all of `data` into `sock` (non-blocking: EAGAIN is waited out with poll), counting
/// each piece into `sent`; a peer gone is EPIPE, never SIGPIPE.
pub fn send_all(sock: impl AsFd, mut data: &[u8], sent: &dyn Fn(usize)) -> io::Result<()> {
    while !data.is_empty() {
        match rustix::net::send(&sock, data, rustix::net::SendFlags::NOSIGNAL) {
            Ok(k) => {
                data = &data[k..];
                sent(k);
            }
            Err(Errno::INTR) => {}
            Err(Errno::AGAIN) => room_or_look(&sock),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Why [`socket_into`] stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// The socket's EOF.
    Eof,
    /// The limit was reached.
    Limit,
    /// The output's reader went away (EPIPE): not an error, udskit exits 0 then.
    OutGone,
}

/// A failure of [`socket_into`], by side.
#[derive(Debug)]
pub enum Failed {
    Reading(io::Error),
    Writing(io::Error),
}

/// Moves the socket's bytes into `out` (a [`Sink`]) until EOF, or until `limit` bytes
/// when one is given; counts each piece into `received` as it comes off the socket and
/// returns the total with the reason it stopped. Blocking.
pub fn socket_into(
    sock: BorrowedFd<'_>,
    out: BorrowedFd<'_>,
    sink: Sink,
    limit: Option<u64>,
    received: &dyn Fn(usize),
) -> Result<(u64, Stop), Failed> {
    let mut mover = Mover {
        sock,
        out,
        limit,
        total: 0,
        received,
    };
    match sink {
        Sink::Pipe => mover.direct(),
        Sink::ViaPipe => {
            let (r, w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
                .map_err(|e| Failed::Reading(e.into()))?;
            let _ = rustix::pipe::fcntl_setpipe_size(&w, PIPE_SIZE);
            mover.via(&r, &w)
        }
    }
}

struct Mover<'a> {
    sock: BorrowedFd<'a>,
    out: BorrowedFd<'a>,
    limit: Option<u64>,
    total: u64,
    received: &'a dyn Fn(usize),
}

impl Mover<'_> {
    /// How much the next call may take, or None once the limit is reached.
    fn want(&self) -> Option<usize> {
        match self.limit {
            None => Some(MOVE_MAX),
            Some(l) if self.total >= l => None,
            Some(l) => Some(MOVE_MAX.min((l - self.total) as usize)),
        }
    }

    fn got(&mut self, n: usize) {
        self.total += n as u64;
        (self.received)(n);
    }

    /// Socket to an output pipe, one splice per piece.
    fn direct(&mut self) -> Result<(u64, Stop), Failed> {
        // Whether the last wait was for the socket and it answered readable.
        let mut sock_was_ready = false;
        loop {
            let Some(want) = self.want() else {
                return Ok((self.total, Stop::Limit));
            };
            match rustix::pipe::splice(self.sock, None, self.out, None, want, SpliceFlags::MOVE) {
                Ok(0) => return Ok((self.total, Stop::Eof)),
                Ok(n) => {
                    self.got(n);
                    sock_was_ready = false;
                }
                Err(Errno::INTR) => {}
                Err(Errno::PIPE) => return Ok((self.total, Stop::OutGone)),
                // "Socket empty", or "pipe full" (an output pipe someone left O_NONBLOCK; a
                // blocking one is waited for inside splice, the pipe's lock let go). The
                // socket is waited for first, one poll; the pipe only once the socket had
                // bytes and still nothing moved. Neither wait can outlast its cause: the
                // socket's poll also ends on EOF, a reset or an error (POLLRDHUP, POLLHUP,
                // POLLERR), the pipe's when its reader goes (POLLERR).
                Err(Errno::AGAIN) => {
                    if sock_was_ready {
                        wait_for(self.out, PollFlags::OUT);
                        sock_was_ready = false;
                    } else {
                        wait_for(self.sock, PollFlags::IN | PollFlags::RDHUP);
                        sock_was_ready = true;
                    }
                }
                Err(Errno::INVAL | Errno::NOSYS | Errno::OPNOTSUPP) if self.total == 0 => {
                    return self.copy();
                }
                Err(e) => return Err(Failed::Reading(e.into())),
            }
        }
    }

    /// Socket into our pipe, our pipe into the output; our pipe is emptied before the
    /// socket is read again, so that reading it never waits for the output.
    fn via(&mut self, r: &OwnedFd, w: &OwnedFd) -> Result<(u64, Stop), Failed> {
        let mut written = 0u64;
        loop {
            let Some(want) = self.want() else {
                return Ok((self.total, Stop::Limit));
            };
            match rustix::pipe::splice(self.sock, None, w, None, want, SpliceFlags::MOVE) {
                Ok(0) => return Ok((self.total, Stop::Eof)),
                Ok(n) => {
                    self.got(n);
                    if let Some(stop) = self.drain(r, n, written == 0)? {
                        return Ok((self.total, stop));
                    }
                    written += n as u64;
                }
                Err(Errno::INTR) => {}
                Err(Errno::AGAIN) => wait_for(self.sock, PollFlags::IN),
                Err(Errno::INVAL | Errno::NOSYS | Errno::OPNOTSUPP) if self.total == 0 => {
                    return self.copy();
                }
                Err(e) => return Err(Failed::Reading(e.into())),
            }
        }
    }

    /// Moves `n` bytes from our pipe into the output; on the first piece an output that
    /// cannot take a splice gets them by read and write, and the rest by [`Mover::copy`].
    fn drain(&mut self, r: &OwnedFd, mut n: usize, first: bool) -> Result<Option<Stop>, Failed> {
        let mut fresh = first;
        while n > 0 {
            match rustix::pipe::splice(r, None, self.out, None, n, SpliceFlags::MOVE) {
                Ok(k) => {
                    n -= k;
                    fresh = false;
                }
                Err(Errno::INTR) => {}
                Err(Errno::AGAIN) => wait_for(self.out, PollFlags::OUT),
                Err(Errno::PIPE) => return Ok(Some(Stop::OutGone)),
                Err(Errno::INVAL | Errno::NOSYS | Errno::OPNOTSUPP) if fresh => {
                    let mut buf = vec![0u8; n];
                    let mut at = 0;
                    while at < n {
                        match rustix::io::read(r, &mut buf[at..]) {
                            Ok(k) => at += k,
                            Err(Errno::INTR) => {}
                            Err(e) => return Err(Failed::Reading(e.into())),
                        }
                    }
                    if let Some(stop) = self.put(&buf)? {
                        return Ok(Some(stop));
                    }
                    let (_, stop) = self.copy()?;
                    return Ok(Some(stop));
                }
                Err(e) => return Err(Failed::Writing(e.into())),
            }
        }
        Ok(None)
    }

    /// Writes `data` to the output; Some(OutGone) when its reader went away.
    fn put(&self, data: &[u8]) -> Result<Option<Stop>, Failed> {
        match write_all(self.out, data) {
            Ok(()) => Ok(None),
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(Some(Stop::OutGone)),
            Err(e) => Err(Failed::Writing(e)),
        }
    }

    /// The fallback: read and write through a buffer.
    fn copy(&mut self) -> Result<(u64, Stop), Failed> {
        let mut buf = vec![0u8; CHUNK];
        loop {
            let Some(want) = self.want() else {
                return Ok((self.total, Stop::Limit));
            };
            let want = want.min(buf.len());
            match rustix::io::read(self.sock, &mut buf[..want]) {
                Ok(0) => return Ok((self.total, Stop::Eof)),
                Ok(n) => {
                    self.got(n);
                    if let Some(stop) = self.put(&buf[..n])? {
                        return Ok((self.total, stop));
                    }
                }
                Err(Errno::INTR) => {}
                Err(Errno::AGAIN) => wait_for(self.sock, PollFlags::IN),
                Err(e) => return Err(Failed::Reading(e.into())),
            }
        }
    }
}
