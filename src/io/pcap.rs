//! `--pcap FILE`: the traffic of unix (or TCP) sockets written as a pcapng capture that
//! Wireshark and tshark open without plugins. Each stream connection becomes a synthetic
//! TCP/IPv4 flow (a SYN handshake when it opens, real sequence and acknowledgement numbers,
//! a FIN for each direction that ends cleanly, an RST for a reset, the real time of every
//! chunk); each datagram becomes a UDP/IPv4 packet. Fake addresses are stable per
//! connection ([`Endpoint::client`], [`Endpoint::server`]); what they stand for (the
//! connection id, the peer's pid and command, the real socket address) is in the pcapng
//! comment of the flow's first packet (`frame.comment` in tshark).
//!
//! Nothing is kept: each chunk is written as one or more packets (a segment carries at
//! most [`MAX_SEGMENT`] bytes, what an IPv4 packet can hold) as it passes, so a reader at
//! the other end of a pipe (`--pcap -`) sees it at once. Bytes in hand (a buffered copy,
//! `listen`/`connect`, a relay's small chunks) go in one writev(2) per chunk, the
//! payloads written from where they are. The relay's spliced bytes never come into our
//! memory ([`Flow::data_in_pipe`]): tee(2) duplicates them into a pipe of the capture's,
//! and each segment is a write(2) of its headers then a splice(2) of its payload from
//! that pipe into the file (free for /dev/null, one copy in the kernel for a file), the
//! capture's lock held across both so that the packets of several connections never
//! interleave.
//!
//! TCP checksums: a segment whose bytes were in hand has its real checksum; a spliced one
//! has 0, "not computed" (summing would mean reading every byte, the cost the splice
//! avoids), as a capture of checksum-offloaded traffic shows. Wireshark and tshark do not
//! check TCP checksums unless asked (`tcp.check_checksum`, off by default). IPv4 header
//! checksums are always right, UDP checksums too (datagrams are always in hand).
//!
//! The format is small enough to write by hand: pcapng as in the IETF draft
//! "PCAP Next Generation (pcapng) Capture File Format"
//! (<https://datatracker.ietf.org/doc/draft-ietf-opsawg-pcapng/>: Section Header Block
//! 4.1, Interface Description Block 4.2, Enhanced Packet Block 4.3, `opt_comment` 3.5),
//! link type LINKTYPE_RAW (101, a bare IPv4 packet; <https://www.tcpdump.org/linktypes.html>),
//! and the IPv4 (RFC 791), TCP (RFC 9293) and UDP (RFC 768) headers with their checksums
//! (RFC 1071).

use std::fs::File;
use std::io::{self, Write};
use std::os::fd::BorrowedFd;
use std::path::Path;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

/// Most payload bytes in one packet: an IPv4 packet is at most 65,535 bytes, and its
/// IPv4 and TCP headers take 40.
pub const MAX_SEGMENT: usize = 65_535 - 40;

/// Most payload bytes of a UDP packet (IPv4 and UDP headers take 28); a longer datagram (a
/// unix datagram can be 212 KiB) is captured cut to this, its real length in the comment.
pub const MAX_DATAGRAM: usize = 65_535 - 28;

const LINKTYPE_RAW: u16 = 101;
const TCP_FIN: u8 = 0x01;
const TCP_SYN: u8 = 0x02;
const TCP_RST: u8 = 0x04;
const TCP_PSH: u8 = 0x08;
const TCP_ACK: u8 = 0x10;

/// A fake IPv4 address and port standing for one end of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoint {
    pub ip: [u8; 4],
    pub port: u16,
}

impl Endpoint {
    /// The client end of connection `id`: 10.1.0.0/16 and ports 10000 to 59999, a
    /// different address and port for each of the first 3 billion connections.
    pub fn client(id: u64) -> Endpoint {
        let host = (id / 50_000) as u16;
        Endpoint {
            ip: [10, 1, (host >> 8) as u8, host as u8],
            port: 10_000 + (id % 50_000) as u16,
        }
    }

    /// The server end of every connection: 10.0.0.1 on `port` (80 lets Wireshark take
    /// the flows for HTTP without a "Decode As").
    pub fn server(port: u16) -> Endpoint {
        Endpoint {
            ip: [10, 0, 0, 1],
            port,
        }
    }
}

/// The port of the receiving end of datagrams (9, discard: no dissector claims it, so
/// Wireshark shows the bytes as data; "Decode As" picks a protocol).
pub const DATAGRAM_PORT: u16 = 9;

impl Endpoint {
    /// A datagram sender named `addr` (its socket address's bytes; empty when it has
    /// none): the same fake client for the same address, 64-bit FNV-1a spread over the
    /// client range.
    pub fn sender(addr: &[u8]) -> Endpoint {
        if addr.is_empty() {
            return Endpoint::client(0);
        }
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for &b in addr {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        Endpoint::client(1 + h % (65_536 * 50_000 - 1))
    }

    /// The receiving end of datagrams: 10.0.0.1 on [`DATAGRAM_PORT`].
    pub fn receiver() -> Endpoint {
        Endpoint::server(DATAGRAM_PORT)
    }
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let [a, b, c, d] = self.ip;
        write!(f, "{a}.{b}.{c}.{d}:{}", self.port)
    }
}

/// Who hears of a failed write.
type Told = Box<dyn Fn(&io::Error) + Send + Sync>;

/// The capture file (or stdout); packets from every connection go through one lock, one
/// write each, so they never interleave.
pub struct Pcap {
    out: Mutex<Out>,
    /// Told once, of the write that failed (the capture stops there).
    on_failure: Option<Told>,
}

struct Out {
    file: Sink,
    /// splice(2) from a pipe into `file` works (not a file opened for appending, nor a
    /// device without splice): cleared at the first refusal, the bytes then read and
    /// written instead.
    splice: bool,
    /// One packet's block, reused: at most [`MAX_SEGMENT`] bytes and headers.
    block: Vec<u8>,
    ip_id: u16,
    /// Set by the first failed write: a capture that cannot be written is dropped, never
    /// the traffic it watches.
    broken: bool,
}

impl Pcap {
    /// A capture to `path` (created or truncated), or to stdout when `path` is `-`; its
    /// section and interface headers are written at once.
    pub fn open(path: &Path, tool: &str) -> io::Result<Pcap> {
        let file = if path == Path::new("-") {
            File::from(rustix::io::dup(std::io::stdout())?)
        } else {
            File::create(path)?
        };
        Pcap::to(file, tool)
    }

    fn to(file: File, tool: &str) -> io::Result<Pcap> {
        let mut file = Sink::new(file);
        let mut head = Vec::new();
        section_header(&mut head, tool);
        interface(&mut head);
        file.write_all(&head)?;
        Ok(Pcap {
            out: Mutex::new(Out {
                file,
                splice: true,
                block: Vec::with_capacity(MAX_SEGMENT + 256),
                ip_id: 0,
                broken: false,
            }),
            on_failure: None,
        })
    }

    /// `told` hears of the first write that fails, after which nothing more is written.
    pub fn on_failure(mut self, told: impl Fn(&io::Error) + Send + Sync + 'static) -> Pcap {
        self.on_failure = Some(Box::new(told));
        self
    }

    /// Opens the flow of connection `id` from `client` to `server`: SYN, SYN-ACK, ACK, the
    /// SYN carrying `comment`.
    pub fn flow(&self, id: u64, client: Endpoint, server: Endpoint, comment: &str) -> Flow<'_> {
        // Initial sequence numbers: any, but different per connection, as real ones are.
        let isn = [
            (id as u32).wrapping_mul(0x9E37_79B9) ^ 0x1000_0000,
            (id as u32).wrapping_mul(0x85EB_CA6B) ^ 0x2000_0000,
        ];
        let flow = Flow {
            pcap: self,
            ends: [client, server],
            state: Mutex::new(FlowState {
                seq: isn,
                fin: [false; 2],
                rst: false,
                closed: false,
            }),
        };
        flow.segment(Sender::Client, TCP_SYN, &[], Some(comment), false);
        flow.segment(Sender::Server, TCP_SYN | TCP_ACK, &[], None, false);
        flow.segment(Sender::Client, TCP_ACK, &[], None, false);
        flow
    }

    /// One datagram from `from` to `to`, with an optional comment; cut to
    /// [`MAX_DATAGRAM`] bytes (the comment then says so).
    pub fn datagram(&self, from: Endpoint, to: Endpoint, data: &[u8], comment: Option<&str>) {
        let cut = data.len() > MAX_DATAGRAM;
        let shown = &data[..data.len().min(MAX_DATAGRAM)];
        let note;
        let comment = if cut {
            note = format!(
                "{}datagram of {} bytes, the first {MAX_DATAGRAM} captured",
                comment.map(|c| format!("{c}; ")).unwrap_or_default(),
                data.len()
            );
            Some(note.as_str())
        } else {
            comment
        };
        let mut udp = [0u8; 8];
        udp[0..2].copy_from_slice(&from.port.to_be_bytes());
        udp[2..4].copy_from_slice(&to.port.to_be_bytes());
        udp[4..6].copy_from_slice(&((8 + shown.len()) as u16).to_be_bytes());
        let sum = transport_checksum(from.ip, to.ip, 17, &udp, shown);
        udp[6..8].copy_from_slice(&(if sum == 0 { 0xffff } else { sum }).to_be_bytes());
        self.packet(from.ip, to.ip, 17, &udp, shown, comment);
    }

    /// Writes TCP segments as Enhanced Packet Blocks stamped now, in one writev(2) (the
    /// first one with `comment`): each block's head (with the IPv4 and TCP headers) and
    /// tail are built here, the payloads written from where they are.
    fn packets(&self, segs: &[Segment<'_>], comment: Option<&str>) {
        let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        if out.broken {
            return;
        }
        let micros = now_micros();
        let mut block = std::mem::take(&mut out.block);
        block.clear();
        // Where each segment's head and tail are in `block`.
        let mut spans = [(0, 0, 0); SEGMENTS_AT_ONCE];
        for (i, seg) in segs.iter().enumerate() {
            out.ip_id = out.ip_id.wrapping_add(1);
            let ip = ipv4_header(seg.src, seg.dst, 6, out.ip_id, 20 + seg.data.len());
            let len = 40 + seg.data.len();
            let comment = if i == 0 { comment } else { None };
            let start = block.len();
            epb_head(&mut block, micros, len, comment);
            block.extend_from_slice(&ip);
            block.extend_from_slice(&seg.tcp);
            let mid = block.len();
            epb_tail(&mut block, start, len, comment);
            spans[i] = (start, mid, block.len());
        }
        let mut slices: [io::IoSlice<'_>; 3 * SEGMENTS_AT_ONCE] =
            std::array::from_fn(|_| io::IoSlice::new(&[]));
        for (i, (seg, &(start, mid, end))) in segs.iter().zip(&spans).enumerate() {
            slices[3 * i] = io::IoSlice::new(&block[start..mid]);
            slices[3 * i + 1] = io::IoSlice::new(seg.data);
            slices[3 * i + 2] = io::IoSlice::new(&block[mid..end]);
        }
        let r = write_all_vectored(&mut out.file, &mut slices[..3 * segs.len()]);
        if let Err(e) = r {
            out.broken = true;
            if let Some(told) = &self.on_failure {
                told(&e);
            }
        }
        out.block = block;
    }

    /// [`Flow::data_in_pipe`]: the blocks of `n` bytes waiting in `pipe`, one segment
    /// after another, one write(2) for the tail of a block and the head of the next.
    fn spliced(&self, flow: &Flow<'_>, from: Sender, pipe: BorrowedFd<'_>, n: usize) {
        let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        let mut left = n;
        if !out.broken {
            let micros = now_micros();
            let mut block = std::mem::take(&mut out.block);
            block.clear();
            let r = (|| {
                while left > 0 {
                    let part = left.min(MAX_SEGMENT);
                    let Some(tcp) = flow.header_of(from, TCP_PSH | TCP_ACK, part, None, false)
                    else {
                        break;
                    };
                    let seg = Segment::new(flow.ends, from, tcp, &[]);
                    out.ip_id = out.ip_id.wrapping_add(1);
                    let ip = ipv4_header(seg.src, seg.dst, 6, out.ip_id, 20 + part);
                    epb_head(&mut block, micros, 40 + part, None);
                    block.extend_from_slice(&ip);
                    block.extend_from_slice(&tcp);
                    out.file.write_all(&block)?;
                    block.clear();
                    // `left` counts what is still in the pipe, also when this fails
                    // partway: that much, no more, is drained below.
                    let mut rest = part;
                    let moved = out.payload_from(pipe, &mut rest);
                    left -= part - rest;
                    moved?;
                    // The tail, written with the next block's head (or alone, last).
                    block.extend_from_slice(&[0; 3][..part.next_multiple_of(4) - part]);
                    let total = 28 + (40 + part).next_multiple_of(4) + 4;
                    block.extend_from_slice(&(total as u32).to_le_bytes());
                }
                if !block.is_empty() {
                    out.file.write_all(&block)?;
                }
                Ok::<(), io::Error>(())
            })();
            if let Err(e) = r {
                out.broken = true;
                if let Some(told) = &self.on_failure {
                    told(&e);
                }
            }
            block.clear();
            out.block = block;
        }
        if left > 0 {
            drain(pipe, left, &mut out.block);
        }
    }

    /// Writes one IPv4 packet (`proto`'s header `l4`, then `payload`) as an Enhanced Packet
    /// Block stamped now.
    fn packet(
        &self,
        src: [u8; 4],
        dst: [u8; 4],
        proto: u8,
        l4: &[u8],
        payload: &[u8],
        comment: Option<&str>,
    ) {
        let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        if out.broken {
            return;
        }
        out.ip_id = out.ip_id.wrapping_add(1);
        let ip = ipv4_header(src, dst, proto, out.ip_id, l4.len() + payload.len());
        let mut block = std::mem::take(&mut out.block);
        block.clear();
        enhanced_packet(&mut block, now_micros(), &[&ip, l4, payload], comment);
        if let Err(e) = out.file.write_all(&block) {
            out.broken = true;
            if let Some(told) = &self.on_failure {
                told(&e);
            }
        }
        out.block = block;
    }
}

impl Out {
    /// Moves `*left` bytes from `pipe` into the capture: spliced, or (where the file
    /// refuses splice) read into a buffer and written. `*left` counts down as they leave
    /// the pipe, so after an error (a full disk) it says how many are still in it.
    fn payload_from(&mut self, pipe: BorrowedFd<'_>, left: &mut usize) -> io::Result<()> {
        use rustix::io::Errno;
        use rustix::pipe::splice;
        let len = *left;
        while *left > 0 && self.splice {
            match splice(
                pipe,
                None,
                &self.file.file,
                None,
                *left,
                self.file.splice_flags(),
            ) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(m) => *left -= m,
                Err(Errno::INTR) => {}
                Err(Errno::AGAIN) => self.file.wait()?,
                // Refused before anything moved: O_APPEND, or a file without splice.
                Err(Errno::INVAL) if *left == len => self.splice = false,
                Err(e) => return Err(e.into()),
            }
        }
        if *left == 0 {
            return Ok(());
        }
        // Only where splice is refused: a buffer (zeroed, so not on the way of every call).
        let mut buf = vec![0u8; 16 * 1024];
        while *left > 0 {
            let want = (*left).min(buf.len());
            match rustix::io::read(pipe, &mut buf[..want]) {
                Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Ok(m) => {
                    // Out of the pipe whether or not the write takes them.
                    *left -= m;
                    self.file.write_all(&buf[..m])?;
                }
                Err(Errno::INTR) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }
}

/// How long a reader at the other end of a pipe (`--pcap -` into tshark, a paused
/// Wireshark) may read nothing while a packet waits, before the capture stops: its writes
/// hold up every connection of the thread.
const READER_STALL: std::time::Duration = std::time::Duration::from_secs(1);

/// Where the capture goes. A pipe, FIFO or character device is opened anew (through
/// /proc/self/fd: a description of our own, not shared with the shell or the stdout the
/// reader got it from) without blocking, and a write that finds no room waits at most
/// [`READER_STALL`] for some; a regular file (or what cannot be opened anew: a socket) is
/// written as it is.
struct Sink {
    file: File,
    nonblocking: bool,
}

impl Sink {
    fn new(file: File) -> Sink {
        use rustix::fs::{FileType, Mode, OFlags};
        let kind = rustix::fs::fstat(&file).map(|st| FileType::from_raw_mode(st.st_mode));
        if !matches!(kind, Ok(FileType::Fifo | FileType::CharacterDevice)) {
            return Sink {
                file,
                nonblocking: false,
            };
        }
        let own = rustix::fs::open(
            format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&file)),
            OFlags::WRONLY | OFlags::NONBLOCK | OFlags::CLOEXEC,
            Mode::empty(),
        );
        match own {
            Ok(fd) => Sink {
                file: File::from(fd),
                nonblocking: true,
            },
            Err(_) => Sink {
                file,
                nonblocking: false,
            },
        }
    }

    fn splice_flags(&self) -> rustix::pipe::SpliceFlags {
        use rustix::pipe::SpliceFlags;
        if self.nonblocking {
            SpliceFlags::MOVE | SpliceFlags::NONBLOCK
        } else {
            SpliceFlags::MOVE
        }
    }

    /// Waits for room, at most [`READER_STALL`].
    fn wait(&self) -> io::Result<()> {
        use rustix::event::{PollFd, PollFlags, Timespec, poll};
        let mut fds = [PollFd::new(&self.file, PollFlags::OUT)];
        let limit = Timespec {
            tv_sec: READER_STALL.as_secs() as i64,
            tv_nsec: 0,
        };
        loop {
            match poll(&mut fds, Some(&limit)) {
                Ok(0) => {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!(
                            "its reader has not read for {}",
                            crate::duration::show(READER_STALL)
                        ),
                    ));
                }
                Ok(_) => return Ok(()),
                Err(rustix::io::Errno::INTR) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        loop {
            match self.file.write(buf) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.wait()?,
                r => return r,
            }
        }
    }

    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        loop {
            match self.file.write_vectored(bufs) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.wait()?,
                r => return r,
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Takes `n` bytes out of `pipe` and drops them (bytes not captured). Never more than the
/// pipe holds: the pipe blocks, and a read of bytes that are not there would hold up
/// every connection of the thread.
fn drain(pipe: BorrowedFd<'_>, n: usize, buf: &mut Vec<u8>) {
    let held = rustix::io::ioctl_fionread(pipe).map_or(0, |h| h as usize);
    let mut n = n.min(held);
    buf.resize(16 * 1024, 0);
    while n > 0 {
        let want = n.min(buf.len());
        match rustix::io::read(pipe, &mut buf[..want]) {
            Ok(0) => break,
            Ok(m) => n -= m,
            Err(rustix::io::Errno::INTR) => {}
            Err(_) => break,
        }
    }
    buf.clear();
}

/// Which end of a flow sends a segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sender {
    Client,
    Server,
}

impl Sender {
    fn index(self) -> usize {
        match self {
            Sender::Client => 0,
            Sender::Server => 1,
        }
    }
}

/// One connection's TCP flow in a capture. Dropped before both ends sent a FIN (or one
/// an RST), it ends with an RST from the client: a connection cut short must not look
/// complete in the capture either.
pub struct Flow<'a> {
    pcap: &'a Pcap,
    ends: [Endpoint; 2],
    state: Mutex<FlowState>,
}

struct FlowState {
    /// Next sequence number of each end.
    seq: [u32; 2],
    fin: [bool; 2],
    rst: bool,
    /// Closed on purpose ([`Flow::close`]): no RST when dropped.
    closed: bool,
}

impl Flow<'_> {
    /// Bytes `from` sent, as segments of at most [`MAX_SEGMENT`] bytes, written together
    /// (one writev(2) for a whole chunk of the relay, its bytes never copied).
    pub fn data(&self, from: Sender, data: &[u8]) {
        let mut segs: [Segment<'_>; SEGMENTS_AT_ONCE] = Default::default();
        for parts in data.chunks(MAX_SEGMENT * SEGMENTS_AT_ONCE) {
            let mut n = 0;
            for part in parts.chunks(MAX_SEGMENT) {
                match self.header(from, TCP_PSH | TCP_ACK, part, false) {
                    Some(tcp) => segs[n] = Segment::new(self.ends, from, tcp, part),
                    None => return,
                }
                n += 1;
            }
            self.pcap.packets(&segs[..n], None);
        }
    }

    /// `n` bytes `from` sent that wait in `pipe` (the caller's; it holds no others), as
    /// segments of at most [`MAX_SEGMENT`] bytes: each one's block head written, its
    /// payload spliced from the pipe into the capture (never through our memory), its
    /// tail written, all under the capture's lock. The bytes are always taken from the
    /// pipe, captured or not (after `from`'s FIN, or once the capture is broken).
    ///
    /// Their TCP checksum is 0: summing them would mean reading them (see the module).
    pub fn data_in_pipe(&self, from: Sender, pipe: BorrowedFd<'_>, n: usize) {
        self.pcap.spliced(self, from, pipe, n);
    }

    /// `from` ended its direction (a write shutdown, or its close): a FIN.
    pub fn fin(&self, from: Sender) {
        self.segment(from, TCP_FIN | TCP_ACK, &[], None, false);
    }

    /// `from` reset the connection (or went away with bytes unread): an RST, with
    /// `comment` (what happened) if any. Nothing follows it.
    pub fn reset(&self, from: Sender, comment: Option<&str>) {
        self.segment(from, TCP_RST | TCP_ACK, &[], comment, true);
    }

    /// `from` closed its socket: its FIN if it sent none yet; the other end may not have
    /// closed (a client that quits before the server's end), which is no reset.
    pub fn close(&self, from: Sender) {
        self.fin(from);
        self.state.lock().unwrap_or_else(|e| e.into_inner()).closed = true;
    }

    fn segment(&self, from: Sender, flags: u8, data: &[u8], comment: Option<&str>, rst: bool) {
        if let Some(tcp) = self.header(from, flags, data, rst) {
            self.pcap
                .packets(&[Segment::new(self.ends, from, tcp, data)], comment);
        }
    }

    /// The TCP header of `from`'s next segment (`data`, `flags`), its sequence numbers
    /// taken; None once nothing more may be sent (after an RST, or `from`'s FIN).
    fn header(&self, from: Sender, flags: u8, data: &[u8], rst: bool) -> Option<[u8; 20]> {
        self.header_of(from, flags, data.len(), Some(data), rst)
    }

    /// The TCP header of `from`'s next segment of `len` bytes; its checksum over `data`
    /// when the bytes are in hand, else 0 ("not computed", as a capture of checksum-offloaded
    /// traffic shows it).
    fn header_of(
        &self,
        from: Sender,
        flags: u8,
        len: usize,
        data: Option<&[u8]>,
        rst: bool,
    ) -> Option<[u8; 20]> {
        let (seq, ack) = {
            let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
            let i = from.index();
            if st.rst || (st.fin[i] && flags & TCP_RST == 0) {
                return None;
            }
            let seq = st.seq[i];
            let ack = st.seq[1 - i];
            let used = len as u32 + u32::from(flags & (TCP_SYN | TCP_FIN) != 0);
            st.seq[i] = seq.wrapping_add(used);
            if flags & TCP_FIN != 0 {
                st.fin[i] = true;
            }
            st.rst |= rst;
            (seq, ack)
        };
        let (src, dst) = (self.ends[from.index()], self.ends[1 - from.index()]);
        let mut tcp = [0u8; 20];
        tcp[0..2].copy_from_slice(&src.port.to_be_bytes());
        tcp[2..4].copy_from_slice(&dst.port.to_be_bytes());
        tcp[4..8].copy_from_slice(&seq.to_be_bytes());
        let ack = if flags & TCP_ACK != 0 { ack } else { 0 };
        tcp[8..12].copy_from_slice(&ack.to_be_bytes());
        tcp[12] = 5 << 4;
        tcp[13] = flags;
        tcp[14..16].copy_from_slice(&u16::MAX.to_be_bytes());
        if let Some(data) = data {
            let sum = transport_checksum(src.ip, dst.ip, 6, &tcp, data);
            tcp[16..18].copy_from_slice(&sum.to_be_bytes());
        }
        Some(tcp)
    }
}

/// Most segments written by one writev(2): 4 of [`MAX_SEGMENT`] bytes are the relay's
/// largest chunk (256 KiB), 12 slices.
const SEGMENTS_AT_ONCE: usize = 4;

/// A TCP segment on its way into the capture: its ends, TCP header and payload.
#[derive(Default, Clone, Copy)]
struct Segment<'d> {
    src: [u8; 4],
    dst: [u8; 4],
    tcp: [u8; 20],
    data: &'d [u8],
}

impl<'d> Segment<'d> {
    fn new(ends: [Endpoint; 2], from: Sender, tcp: [u8; 20], data: &'d [u8]) -> Segment<'d> {
        Segment {
            src: ends[from.index()].ip,
            dst: ends[1 - from.index()].ip,
            tcp,
            data,
        }
    }
}

impl Drop for Flow<'_> {
    fn drop(&mut self) {
        let st = self.state.get_mut().unwrap_or_else(|e| e.into_inner());
        if !(st.rst || st.closed || st.fin[0] && st.fin[1]) {
            self.reset(
                Sender::Client,
                Some("connection cut before both ends closed"),
            );
        }
    }
}

fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// The longest option value written: its length is 16 bits. A longer comment (30 passed
/// descriptors of long paths) is cut there, with [`CUT_MARK`] at its end.
const OPTION_MAX: usize = 65_532;
const CUT_MARK: &str = " [cut]";

/// Appends `opt`'s option (code, length, value padded to 32 bits); a value past
/// [`OPTION_MAX`] is cut (at a character, for a comment's UTF-8) and marked.
fn option(b: &mut Vec<u8>, code: u16, value: &[u8]) {
    let (value, marked) = match value.len() > OPTION_MAX {
        false => (value, false),
        true => {
            let mut end = OPTION_MAX - CUT_MARK.len();
            while end > 0 && (value[end] & 0xC0) == 0x80 {
                end -= 1;
            }
            (&value[..end], true)
        }
    };
    let len = value.len() + if marked { CUT_MARK.len() } else { 0 };
    b.extend_from_slice(&code.to_le_bytes());
    b.extend_from_slice(&(len as u16).to_le_bytes());
    b.extend_from_slice(value);
    if marked {
        b.extend_from_slice(CUT_MARK.as_bytes());
    }
    pad(b);
}

fn pad(b: &mut Vec<u8>) {
    while !b.len().is_multiple_of(4) {
        b.push(0);
    }
}

/// Wraps the body appended by `body` into a block of `kind`: type, total length, body,
/// total length again.
fn block(b: &mut Vec<u8>, kind: u32, body: impl FnOnce(&mut Vec<u8>)) {
    let start = b.len();
    b.extend_from_slice(&kind.to_le_bytes());
    b.extend_from_slice(&[0; 4]);
    body(b);
    pad(b);
    let len = (b.len() - start + 4) as u32;
    b.extend_from_slice(&len.to_le_bytes());
    b[start + 4..start + 8].copy_from_slice(&len.to_le_bytes());
}

/// Section Header Block (draft 4.1), with `shb_userappl`.
fn section_header(b: &mut Vec<u8>, tool: &str) {
    block(b, 0x0A0D_0D0A, |b| {
        b.extend_from_slice(&0x1A2B_3C4Du32.to_le_bytes());
        b.extend_from_slice(&1u16.to_le_bytes());
        b.extend_from_slice(&0u16.to_le_bytes());
        b.extend_from_slice(&(-1i64).to_le_bytes());
        option(b, 4, tool.as_bytes());
        option(b, 0, &[]);
    });
}

/// Interface Description Block (draft 4.2): raw IPv4, no snap length, microseconds.
fn interface(b: &mut Vec<u8>) {
    block(b, 1, |b| {
        b.extend_from_slice(&LINKTYPE_RAW.to_le_bytes());
        b.extend_from_slice(&0u16.to_le_bytes());
        b.extend_from_slice(&0u32.to_le_bytes());
        option(b, 2, b"udskit");
        option(b, 0, &[]);
    });
}

/// Enhanced Packet Block (draft 4.3) of the packet made of `parts`, with `opt_comment`.
fn enhanced_packet(b: &mut Vec<u8>, micros: u64, parts: &[&[u8]], comment: Option<&str>) {
    let len: usize = parts.iter().map(|p| p.len()).sum();
    let start = b.len();
    epb_head(b, micros, len, comment);
    for p in parts {
        b.extend_from_slice(p);
    }
    epb_tail(b, start, len, comment);
}

/// The options of an Enhanced Packet Block: `opt_comment` and the end of options, if any.
fn epb_options(b: &mut Vec<u8>, comment: Option<&str>) {
    if let Some(c) = comment {
        option(b, 1, c.as_bytes());
        option(b, 0, &[]);
    }
}

/// The bytes of an Enhanced Packet Block before its packet of `len` bytes: block type and
/// total length, interface, timestamp, captured and original lengths.
fn epb_head(b: &mut Vec<u8>, micros: u64, len: usize, comment: Option<&str>) {
    let mut opts = Vec::new();
    epb_options(&mut opts, comment);
    let total = 28 + len.next_multiple_of(4) + opts.len() + 4;
    b.extend_from_slice(&6u32.to_le_bytes());
    b.extend_from_slice(&(total as u32).to_le_bytes());
    b.extend_from_slice(&0u32.to_le_bytes());
    b.extend_from_slice(&((micros >> 32) as u32).to_le_bytes());
    b.extend_from_slice(&(micros as u32).to_le_bytes());
    b.extend_from_slice(&(len as u32).to_le_bytes());
    b.extend_from_slice(&(len as u32).to_le_bytes());
}

/// The bytes of the block begun at `start` after its packet of `len` bytes: padding to
/// 32 bits, the options, the total length again.
fn epb_tail(b: &mut Vec<u8>, start: usize, len: usize, comment: Option<&str>) {
    b.extend_from_slice(&[0; 3][..len.next_multiple_of(4) - len]);
    epb_options(b, comment);
    let total = &b[start + 4..start + 8];
    let total: [u8; 4] = total.try_into().unwrap_or_default();
    b.extend_from_slice(&total);
}

/// write_all for slices: writev(2) until every byte is written.
fn write_all_vectored(file: &mut Sink, mut slices: &mut [io::IoSlice<'_>]) -> io::Result<()> {
    io::IoSlice::advance_slices(&mut slices, 0);
    while !slices.is_empty() {
        match file.write_vectored(slices) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => io::IoSlice::advance_slices(&mut slices, n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn ipv4_header(src: [u8; 4], dst: [u8; 4], proto: u8, id: u16, l4_len: usize) -> [u8; 20] {
    let mut h = [0u8; 20];
    h[0] = 0x45;
    h[2..4].copy_from_slice(&((20 + l4_len) as u16).to_be_bytes());
    h[4..6].copy_from_slice(&id.to_be_bytes());
    h[6] = 0x40; // don't fragment
    h[8] = 64;
    h[9] = proto;
    h[12..16].copy_from_slice(&src);
    h[16..20].copy_from_slice(&dst);
    let sum = fold(sum_be(&h, 0));
    h[10..12].copy_from_slice(&sum.to_be_bytes());
    h
}

/// The TCP or UDP checksum: over the IPv4 pseudo-header, the header (its checksum field
/// zero) and the payload.
fn transport_checksum(src: [u8; 4], dst: [u8; 4], proto: u8, l4: &[u8], payload: &[u8]) -> u16 {
    let len = (l4.len() + payload.len()) as u64;
    let mut s = sum_be(&src, 0);
    s = sum_be(&dst, s);
    s += u64::from(proto) + len;
    s = sum_be(l4, s);
    // l4 headers have an even length, so the payload's words line up.
    fold(sum_be(payload, s))
}

/// Adds `data` as big-endian 16-bit words (the last byte padded with a zero) to `s`.
///
/// The bulk is summed as native 64-bit words with the carries added back (four sums at
/// once, so that no add waits for the one before): a ones' complement sum is the same in
/// either byte order once folded and swapped (RFC 1071, 2(B)), and folding a sum of wider
/// words gives that of their 16-bit parts. This is the capture's one pass over the bytes.
fn sum_be(data: &[u8], mut s: u64) -> u64 {
    let (blocks, _) = data.as_chunks::<32>();
    let mut acc = [0u64; 4];
    for b in blocks {
        let (words, _) = b.as_chunks::<8>();
        for (a, w) in acc.iter_mut().zip(words) {
            let (sum, carry) = a.overflowing_add(u64::from_ne_bytes(*w));
            *a = sum + u64::from(carry);
        }
    }
    let mut native: u64 = 0;
    for a in acc {
        let (sum, carry) = native.overflowing_add(a);
        native = sum + u64::from(carry);
    }
    // Folded to 16 bits in native order, then taken as big-endian.
    let mut n =
        (native & 0xffff) + ((native >> 16) & 0xffff) + ((native >> 32) & 0xffff) + (native >> 48);
    while n > 0xffff {
        n = (n & 0xffff) + (n >> 16);
    }
    s += u64::from(if cfg!(target_endian = "little") {
        (n as u16).swap_bytes()
    } else {
        n as u16
    });
    let data = &data[blocks.len() * 32..];
    let mut words = data.chunks_exact(8);
    for w in &mut words {
        let v = u64::from_be_bytes(w.try_into().unwrap_or_default());
        s += (v >> 48) + ((v >> 32) & 0xffff) + ((v >> 16) & 0xffff) + (v & 0xffff);
    }
    let mut rest = words.remainder().chunks(2);
    for w in &mut rest {
        let hi = u64::from(w[0]) << 8;
        s += hi + w.get(1).map_or(0, |&lo| u64::from(lo));
    }
    s
}

fn fold(mut s: u64) -> u16 {
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    !(s as u16)
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_comment_longer_than_an_option_holds_is_cut_and_marked() {
        let long = "é".repeat(40_000);
        let mut b = Vec::new();
        option(&mut b, 1, long.as_bytes());
        let len = u16::from_le_bytes([b[2], b[3]]) as usize;
        let value = std::str::from_utf8(&b[4..4 + len]).expect("cut at a character");
        assert!(value.ends_with(" [cut]") && len <= OPTION_MAX, "{len}");
        assert_eq!(b.len(), (4 + len).next_multiple_of(4));
        let mut short = Vec::new();
        option(&mut short, 1, b"ok");
        assert_eq!(short, [1, 0, 2, 0, b'o', b'k', 0, 0]);
    }

    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn ipv4_checksum_of_a_known_header() {
        // The worked example of RFC 1071's successors (Wikipedia's IPv4 header checksum):
        // 4500 0073 0000 4000 4011 [b861] c0a8 0001 c0a8 00c7.
        let h = [
            0x45, 0, 0, 0x73, 0, 0, 0x40, 0, 0x40, 0x11, 0, 0, 192, 168, 0, 1, 192, 168, 0, 199,
        ];
        assert_eq!(fold(sum_be(&h, 0)), 0xb861);
    }

    #[test]
    fn the_fast_sum_is_the_sum_of_16_bit_words() {
        // The definition: big-endian 16-bit words, the last byte padded with a zero.
        fn slow(data: &[u8]) -> u16 {
            let mut s: u64 = 0;
            for w in data.chunks(2) {
                s += (u64::from(w[0]) << 8) + w.get(1).map_or(0, |&b| u64::from(b));
            }
            fold(s)
        }
        let mut x: u32 = 12345;
        let data: Vec<u8> = (0..70_000)
            .map(|_| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                (x >> 16) as u8
            })
            .collect();
        for len in [0, 1, 63, 64, 65, 127, 1000, 65_495, 70_000] {
            assert_eq!(fold(sum_be(&data[..len], 0)), slow(&data[..len]), "{len}");
        }
        let ones = vec![0xffu8; 65_495];
        assert_eq!(fold(sum_be(&ones, 0)), slow(&ones));
    }

    #[test]
    fn odd_lengths_pad_with_zero() {
        assert_eq!(sum_be(&[1, 2, 3], 0), 0x0102 + 0x0300);
        assert_eq!(
            sum_be(&[1, 2, 3, 4, 5, 6, 7, 8, 9], 0),
            0x0102 + 0x0304 + 0x0506 + 0x0708 + 0x0900
        );
    }

    #[test]
    fn blocks_are_padded_and_framed() {
        let mut b = Vec::new();
        enhanced_packet(&mut b, 1 << 32 | 7, &[b"abc"], Some("hi"));
        let len = u32::from_le_bytes(b[4..8].try_into().unwrap()) as usize;
        assert_eq!(len, b.len());
        assert_eq!(len % 4, 0);
        assert_eq!(&b[len - 4..], &b[4..8]);
        assert_eq!(&b[28..31], b"abc");
        // ts high, ts low
        assert_eq!(&b[12..20], &[1, 0, 0, 0, 7, 0, 0, 0]);
    }

    #[test]
    fn sequence_numbers_count_bytes_syn_and_fin() {
        let file = tempfile::tempfile().unwrap();
        let pcap = Pcap::to(file, "test").unwrap();
        let flow = pcap.flow(1, Endpoint::client(1), Endpoint::server(80), "c");
        let isn = flow.state.lock().unwrap().seq;
        flow.data(Sender::Client, &[0; 100_000]);
        flow.fin(Sender::Client);
        flow.data(Sender::Client, b"after fin: dropped");
        let st = flow.state.lock().unwrap().seq;
        assert_eq!(st[0], isn[0].wrapping_add(100_001));
        drop(flow);
    }

    #[test]
    fn a_failed_write_is_told_once_and_stops_the_capture() {
        let (r, w) = rustix::pipe::pipe().unwrap();
        let pcap = Pcap::to(File::from(w), "test").unwrap();
        drop(r);
        let told = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let t = told.clone();
        let pcap = pcap.on_failure(move |_| {
            t.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        });
        for _ in 0..3 {
            pcap.datagram(Endpoint::sender(b""), Endpoint::receiver(), b"x", None);
        }
        assert_eq!(told.load(std::sync::atomic::Ordering::Relaxed), 1);
    }

    /// The Enhanced Packet Blocks after the section and interface headers of a capture:
    /// (TCP checksum, payload) of each.
    fn tcp_payloads(cap: &[u8]) -> Vec<(u16, Vec<u8>)> {
        let word = |at: usize| u32::from_le_bytes(cap[at..at + 4].try_into().unwrap()) as usize;
        let mut at = 0;
        let mut out = Vec::new();
        while at < cap.len() {
            let (kind, total) = (word(at), word(at + 4));
            assert_eq!(word(at + total - 4), total, "block at {at} framed");
            if kind == 6 {
                let len = word(at + 20);
                let packet = &cap[at + 28..at + 28 + len];
                let sum = u16::from_be_bytes([packet[36], packet[37]]);
                out.push((sum, packet[40..].to_vec()));
            }
            at += total;
        }
        out
    }

    /// Bytes handed over in a pipe come out whole, cut at MAX_SEGMENT, their checksum 0,
    /// whether the file takes splice or (opened for appending) refuses it.
    #[test]
    fn bytes_in_a_pipe_are_captured_whole() {
        for append in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("c.pcapng");
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(append)
                .write(true)
                .read(true)
                .open(&path)
                .unwrap();
            let pcap = Pcap::to(file, "test").unwrap();
            let flow = pcap.flow(1, Endpoint::client(1), Endpoint::server(80), "c");
            let data: Vec<u8> = (0..150_000u32).map(|i| (i * 7 + i / 251) as u8).collect();
            let (r, w) = rustix::pipe::pipe().unwrap();
            let _ = rustix::pipe::fcntl_setpipe_size(&w, 1 << 20);
            // A writer thread: the pipe may hold less than the whole.
            let sent = data.clone();
            let writer = std::thread::spawn(move || {
                let mut w = File::from(w);
                w.write_all(&sent).unwrap();
            });
            flow.data_in_pipe(Sender::Client, r.as_fd(), data.len());
            writer.join().unwrap();
            flow.data(Sender::Server, b"in hand");
            drop(flow);
            drop(pcap);
            let cap = std::fs::read(&path).unwrap();
            let segs = tcp_payloads(&cap);
            let spliced: Vec<&(u16, Vec<u8>)> = segs
                .iter()
                .filter(|(s, p)| *s == 0 && !p.is_empty())
                .collect();
            assert_eq!(spliced.len(), 3, "append {append}");
            assert_eq!(spliced[0].1.len(), MAX_SEGMENT);
            let whole: Vec<u8> = spliced.iter().flat_map(|(_, p)| p.clone()).collect();
            assert!(whole == data, "append {append}: bytes differ");
            assert!(segs.iter().any(|(s, p)| *s != 0 && p == b"in hand"));
        }
    }

    #[test]
    fn client_endpoints_differ() {
        assert_ne!(Endpoint::client(1), Endpoint::client(2));
        assert_ne!(Endpoint::client(1), Endpoint::client(50_001));
        assert_eq!(Endpoint::client(1).to_string(), "10.1.0.0:10001");
        assert_eq!(Endpoint::sender(b"/a"), Endpoint::sender(b"/a"));
        assert_ne!(Endpoint::sender(b"/a"), Endpoint::sender(b"/b"));
        assert_ne!(Endpoint::sender(b"/a"), Endpoint::sender(b""));
    }
}
