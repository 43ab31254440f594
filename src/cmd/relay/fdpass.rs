//! `relay --pass-fds`: one direction of a unix-to-unix connection through a buffer with
//! recvmsg/sendmsg instead of splice, so that descriptors arriving with bytes (SCM_RIGHTS)
//! go on to the other side with those bytes; each is closed here as soon as the kernel holds
//! it for the other side, so none stays open in the relay.

use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::atomic::Ordering::Relaxed;

use rustix::net::{RecvFlags, SendFlags};

use super::side::Side;
use crate::net::fds;

/// Where a direction failed: reading its source or writing its destination.
pub enum Failed {
    Read(io::Error),
    Write(io::Error),
}

/// Sees every chunk of a direction before it is sent on.
pub type ChunkTap<'a> = &'a (dyn Fn(&[u8]) + Sync);

/// What one direction does besides moving bytes, given by the copy that runs it.
pub struct Around<'a> {
    /// The buffer's first and largest size (grown 4x whenever a read fills it).
    pub buf: (usize, usize),
    /// Counts bytes sent on.
    pub moved: &'a (dyn Fn(usize) + Sync),
    /// Sees every chunk before it is sent on (`--dump`).
    pub tap: Option<ChunkTap<'a>>,
    /// Told of every message whose control data the kernel had to cut (MSG_CTRUNC:
    /// descriptors lost at the relay's open-file limit), never passed over silently.
    pub cut: &'a (dyn Fn(String) + Sync),
}

/// Copies `from` to `to` until EOF, descriptors included.
pub async fn one_way(from: &Side, to: &Side, around: Around<'_>) -> Result<(), Failed> {
    let (start, max) = around.buf;
    from.readable().await.map_err(Failed::Read)?;
    let mut buf = vec![0u8; start];
    let mut space = fds::control_space();
    loop {
        let len = buf.len();
        let mut passed = fds::Passed::default();
        // One recvmsg stops after the first message that carries descriptors, so they are
        // sent on with (at most) the bytes read with them; such a short read, unlike
        // others, does not prove the socket empty.
        let with_fds = std::sync::atomic::AtomicBool::new(false);
        let n = from
            .read(
                |n| n < len && !with_fds.load(Relaxed),
                |fd| {
                    let (msg, p) = fds::recv(fd, &mut buf[..], &mut space, RecvFlags::DONTWAIT)?;
                    with_fds.store(!p.fds.is_empty() || p.cut, Relaxed);
                    passed = p;
                    Ok(msg.bytes)
                },
            )
            .await
            .map_err(Failed::Read)?;
        if passed.cut {
            (around.cut)(passed.cut_message("a message"));
        }
        if n == 0 {
            return Ok(());
        }
        if let Some(tap) = around.tap {
            tap(&buf[..n]);
        }
        let held: Vec<BorrowedFd<'_>> = passed.fds.iter().map(|f| f.as_fd()).collect();
        let mut with = &held[..];
        let mut sent = 0;
        while sent < n {
            let m = to
                .write(n - sent, |fd| {
                    Ok(fds::send(
                        fd,
                        &buf[sent..n],
                        with,
                        None,
                        SendFlags::NOSIGNAL | SendFlags::DONTWAIT,
                    )?)
                })
                .await
                .map_err(Failed::Write)?;
            sent += m;
            with = &[];
            (around.moved)(m);
        }
        // Sent on: the other side's copies are in the kernel; ours close here.
        drop(held);
        drop(passed);
        if n == buf.len() && buf.len() < max {
            buf = vec![0u8; (buf.len() * 4).min(max)];
        }
    }
}
