//! What the kernel tells about sockets and processes, read synchronously (no runtime): the
//! unix socket table (sock_diag, or /proc/net/unix without it), which process holds which
//! socket (the fd scan), a process's command and ids, and user and group names.

pub mod container;
pub mod diag;
pub mod fdscan;
pub mod mounts;
pub mod netns;
pub mod process;
pub mod users;
