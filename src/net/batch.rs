//! Datagrams received in batches: one `recvmmsg(2)` fills a slot per datagram (its bytes,
//! its sender's address, its control data), so a wakeup that finds a queue of datagrams
//! takes them all in one system call. rustix has no recvmmsg, so this is the one small
//! unsafe wrapper around libc's; everything it hands out is owned and checked: descriptors
//! passed with a datagram (SCM_RIGHTS) become `OwnedFd`s as soon as the call returns, so
//! none leaks whatever the caller does with the batch.

use std::mem::{size_of, zeroed};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use rustix::io::Errno;
use rustix::net::SocketAddrAny;

use crate::net::cred::Cred;
use crate::net::fds::{self, Passed};

/// One datagram of a batch: its real size (MSG_TRUNC), the flags the kernel returned and
/// how much of its address and control space it filled.
#[derive(Clone, Copy, Default)]
struct Meta {
    size: usize,
    flags: i32,
    name_len: u32,
}

/// Room for `slots` datagrams of up to `slot` bytes each, received by [`RecvBatch::recv`].
///
/// The slots are one zeroed allocation, which the allocator maps lazily: a slot costs
/// memory only for the pages a datagram really filled, so every slot can hold the largest
/// datagram the kernel carries (a datagram larger than its slot would be cut, and the rest
/// of it lost) while a batch of small ones touches one page each.
pub struct RecvBatch {
    data: Vec<u8>,
    slot: usize,
    slots: usize,
    /// Control space per slot, in u64 so that every slot's cmsghdr is aligned.
    control: Vec<u64>,
    control_words: usize,
    names: Vec<libc::sockaddr_storage>,
    meta: Vec<Meta>,
    passed: Vec<Passed>,
    filled: usize,
    /// Bytes of the slots the last batch filled beyond its first page, summed: once it is
    /// large, the slots are allocated afresh so that one burst of huge datagrams does not
    /// keep its memory for the rest of the run.
    touched: usize,
}

/// Past this many bytes filled in big datagrams, the slots' memory is given back.
const GIVE_BACK: usize = 16 << 20;

impl RecvBatch {
    /// `slots` slots of `slot` bytes; with `control`, each offers room for
    /// [`fds::MAX_FDS`] descriptors and one set of credentials, as every single receive
    /// does (descriptors sent to a socket that offers no room are closed by the kernel).
    pub fn new(slots: usize, slot: usize, control: bool) -> RecvBatch {
        let slots = slots.max(1);
        let words = if control {
            fds::control_space().len().div_ceil(8)
        } else {
            0
        };
        RecvBatch {
            data: vec![0u8; slots * slot],
            slot,
            slots,
            control: vec![0u64; slots * words],
            control_words: words,
            // SAFETY: sockaddr_storage is plain old data; all zeroes is a valid value.
            names: vec![unsafe { zeroed::<libc::sockaddr_storage>() }; slots],
            meta: vec![Meta::default(); slots],
            passed: (0..slots).map(|_| Passed::default()).collect(),
            filled: 0,
            touched: 0,
        }
    }

    /// How many datagrams one call can take.
    pub fn capacity(&self) -> usize {
        self.slots
    }

    /// The largest datagram a slot holds whole.
    pub fn slot_size(&self) -> usize {
        self.slot
    }

    /// Makes every slot hold `size` bytes (after a datagram larger than a slot came).
    pub fn grow(&mut self, size: usize) {
        if size > self.slot {
            self.slot = size;
            self.data = vec![0u8; self.slots * size];
        }
    }

    /// Receives up to `max` datagrams (at most [`capacity`](Self::capacity)) without
    /// waiting, with MSG_TRUNC so that each one's real size is known; `flags` are added to
    /// MSG_DONTWAIT | MSG_TRUNC | MSG_CMSG_CLOEXEC. Returns how many came (at least one),
    /// or EAGAIN when there was none.
    pub fn recv(
        &mut self,
        fd: BorrowedFd<'_>,
        max: usize,
        flags: i32,
    ) -> rustix::io::Result<usize> {
        self.release();
        let n = max.clamp(1, self.slots);
        let slot = self.slot;
        let words = self.control_words;
        let mut iovs: Vec<libc::iovec> = self
            .data
            .chunks_mut(slot)
            .take(n)
            .map(|s| libc::iovec {
                iov_base: s.as_mut_ptr().cast(),
                iov_len: s.len(),
            })
            .collect();
        let mut control = self.control.chunks_mut(words.max(1));
        let mut hdrs: Vec<libc::mmsghdr> = iovs
            .iter_mut()
            .zip(self.names.iter_mut())
            .map(|(iov, name)| {
                // SAFETY: msghdr is plain old data; all zeroes is a valid, empty one.
                let mut h: libc::msghdr = unsafe { zeroed() };
                h.msg_name = (name as *mut libc::sockaddr_storage).cast();
                h.msg_namelen = size_of::<libc::sockaddr_storage>() as u32;
                h.msg_iov = iov;
                h.msg_iovlen = 1;
                if words > 0
                    && let Some(c) = control.next()
                {
                    h.msg_control = c.as_mut_ptr().cast();
                    h.msg_controllen = c.len() * 8;
                }
                libc::mmsghdr {
                    msg_hdr: h,
                    msg_len: 0,
                }
            })
            .collect();
        let flags = flags | libc::MSG_DONTWAIT | libc::MSG_TRUNC | libc::MSG_CMSG_CLOEXEC;
        // SAFETY: every header points into buffers owned by self (slots, names, control)
        // or by `iovs`, all alive and unmoved until the call returns, each with the length
        // given; the kernel writes at most that much into each and n headers exist.
        let got = unsafe {
            libc::recvmmsg(
                fd.as_raw_fd(),
                hdrs.as_mut_ptr(),
                n as u32,
                flags,
                std::ptr::null_mut(),
            )
        };
        if got < 0 {
            return Err(Errno::from_io_error(&std::io::Error::last_os_error()).unwrap_or(Errno::IO));
        }
        let got = got as usize;
        for (i, h) in hdrs.iter().take(got).enumerate() {
            self.meta[i] = Meta {
                size: h.msg_len as usize,
                flags: h.msg_hdr.msg_flags,
                name_len: h.msg_hdr.msg_namelen,
            };
            let size = (h.msg_len as usize).min(slot);
            if size > 4096 {
                self.touched += size;
            }
            if words > 0 {
                // SAFETY: the kernel filled msg_controllen bytes of this slot's control
                // space with complete cmsgs (it cuts, and says MSG_CTRUNC, rather than
                // write a partial one).
                self.passed[i] = unsafe { take_control(&h.msg_hdr) };
                self.passed[i].cut = h.msg_hdr.msg_flags & libc::MSG_CTRUNC != 0;
            }
        }
        self.filled = got;
        Ok(got)
    }

    /// Drops what the last batch left (descriptors not taken are closed), and gives the
    /// slots' memory back after a batch of huge datagrams.
    fn release(&mut self) {
        for p in &mut self.passed[..self.filled] {
            *p = Passed::default();
        }
        self.filled = 0;
        if self.touched > GIVE_BACK {
            self.data = Vec::new();
            self.data = vec![0u8; self.slots * self.slot];
            self.touched = 0;
        }
    }

    /// Datagram `i`'s real size (more than [`data`](Self::data) holds when truncated).
    pub fn size(&self, i: usize) -> usize {
        self.meta[i].size
    }

    /// Whether datagram `i` was larger than its slot (MSG_TRUNC).
    pub fn truncated(&self, i: usize) -> bool {
        self.meta[i].flags & libc::MSG_TRUNC != 0
    }

    /// The bytes of datagram `i` that were stored.
    pub fn data(&self, i: usize) -> &[u8] {
        let start = i * self.slot;
        &self.data[start..start + self.meta[i].size.min(self.slot)]
    }

    /// Datagram `i`'s sender, None when the kernel gave no address.
    pub fn from(&self, i: usize) -> Option<SocketAddrAny> {
        let len = self.meta[i].name_len as usize;
        if len < size_of::<libc::sa_family_t>() || len > size_of::<libc::sockaddr_storage>() {
            return None;
        }
        // SAFETY: the kernel wrote a socket address of msg_namelen bytes into this slot's
        // storage (checked above to be within it and to hold at least the family).
        Some(unsafe { SocketAddrAny::read((&raw const self.names[i]).cast(), len as u32) })
    }

    /// What came beside datagram `i`'s bytes (its descriptors, now the caller's, and its
    /// credentials), taken: a second call gives an empty one.
    pub fn take_passed(&mut self, i: usize) -> Passed {
        std::mem::take(&mut self.passed[i])
    }
}

/// The descriptors and credentials in a received message's control data.
///
/// # Safety
/// `h.msg_control` must point at `h.msg_controllen` bytes of complete cmsgs the kernel
/// wrote (or be empty), and each SCM_RIGHTS descriptor in it must be ours to own.
unsafe fn take_control(h: &libc::msghdr) -> Passed {
    let mut passed = Passed::default();
    if h.msg_control.is_null() || h.msg_controllen == 0 {
        return passed;
    }
    // SAFETY: the CMSG macros walk within msg_control..+msg_controllen, as the caller
    // guarantees holds complete cmsgs; the data of each is read unaligned.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(h);
        while !c.is_null() {
            let data = libc::CMSG_DATA(c);
            let len = (*c).cmsg_len as usize - libc::CMSG_LEN(0) as usize;
            match ((*c).cmsg_level, (*c).cmsg_type) {
                (libc::SOL_SOCKET, libc::SCM_RIGHTS) => {
                    for k in 0..len / size_of::<i32>() {
                        let fd = std::ptr::read_unaligned(data.cast::<i32>().add(k));
                        // The kernel installed it in our table for us: ours to close.
                        passed.fds.push(OwnedFd::from_raw_fd(fd));
                    }
                }
                (libc::SOL_SOCKET, libc::SCM_CREDENTIALS) if len >= size_of::<libc::ucred>() => {
                    let u = std::ptr::read_unaligned(data.cast::<libc::ucred>());
                    passed.cred = Some(Cred {
                        pid: u.pid as u32,
                        uid: u.uid,
                        gid: u.gid,
                    });
                }
                _ => {}
            }
            c = libc::CMSG_NXTHDR(h, c);
        }
    }
    passed
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    fn pair() -> (OwnedFd, OwnedFd) {
        use rustix::net::{AddressFamily, SocketFlags, SocketType, socketpair};
        socketpair(
            AddressFamily::UNIX,
            SocketType::DGRAM,
            SocketFlags::CLOEXEC,
            None,
        )
        .unwrap()
    }

    #[test]
    fn a_batch_takes_every_queued_datagram_in_order_and_whole() {
        let (a, b) = pair();
        for i in 0..5u8 {
            rustix::net::send(
                &a,
                &vec![i; 100 + i as usize],
                rustix::net::SendFlags::empty(),
            )
            .unwrap();
        }
        let mut batch = RecvBatch::new(8, 4096, true);
        assert_eq!(batch.recv(b.as_fd(), 8, 0), Ok(5));
        for i in 0..5 {
            assert_eq!(batch.data(i), vec![i as u8; 100 + i].as_slice());
            assert!(!batch.truncated(i));
        }
        assert_eq!(batch.recv(b.as_fd(), 8, 0), Err(Errno::AGAIN));
    }

    #[test]
    fn max_limits_the_batch_and_a_larger_datagram_says_so() {
        let (a, b) = pair();
        for _ in 0..3 {
            rustix::net::send(&a, &[7u8; 300], rustix::net::SendFlags::empty()).unwrap();
        }
        let mut batch = RecvBatch::new(8, 256, false);
        assert_eq!(batch.recv(b.as_fd(), 2, 0), Ok(2));
        assert!(batch.truncated(0));
        assert_eq!(batch.size(0), 300);
        assert_eq!(batch.data(0).len(), 256);
        batch.grow(300);
        assert_eq!(batch.recv(b.as_fd(), 8, 0), Ok(1));
        assert_eq!(batch.data(0), &[7u8; 300][..]);
    }

    #[test]
    fn descriptors_and_credentials_come_with_their_datagram() {
        let (a, b) = pair();
        rustix::net::sockopt::set_socket_passcred(&b, true).unwrap();
        rustix::net::send(&a, b"plain", rustix::net::SendFlags::empty()).unwrap();
        let file = std::fs::File::open("/proc/self/exe").unwrap();
        fds::send(
            a.as_fd(),
            b"with fd",
            &[file.as_fd()],
            None,
            rustix::net::SendFlags::empty(),
        )
        .unwrap();
        let mut batch = RecvBatch::new(4, 1024, true);
        assert_eq!(batch.recv(b.as_fd(), 4, 0), Ok(2));
        let first = batch.take_passed(0);
        let second = batch.take_passed(1);
        assert!(first.fds.is_empty());
        assert_eq!(second.fds.len(), 1);
        let me = std::process::id();
        assert_eq!(first.cred.map(|c| c.pid), Some(me));
        assert_eq!(second.cred.map(|c| c.pid), Some(me));
        assert_eq!(batch.data(1), b"with fd");
        assert_eq!(fds::describe(second.fds[0].as_fd()).kind, "regular file");
    }
}
