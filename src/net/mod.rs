//! Sockets by address: the one address grammar, socket kinds and peer credentials, safe
//! bind (or a socket inherited from systemd or a parent) and what is at a socket path, connecting (and `--wait`), the words for why a socket could not be reached, and
//! the stream, listener and datagram types the subcommands move bytes through.

pub mod activate;
pub mod addr;
pub mod batch;
pub mod bind;
pub mod busypoll;
pub mod connect;
pub mod cred;
pub mod dgram;
pub mod explain;
pub mod fds;
pub mod kind;
pub mod listener;
pub mod occupant;
pub mod stream;
pub mod tls;
pub mod unix;
