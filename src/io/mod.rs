//! Standard input and output as the runtime sees them, and the bridge between them and a
//! socket, with half-close.

pub mod bridge;
pub mod capture;
pub mod ending;
pub mod outfile;
pub mod pcap;
pub mod pool;
pub mod splice;
pub mod stdio;
pub mod tapped;

/// Size of one read (of a socket, or of a stdin that is not a pipe). 256 KiB: larger than a
/// socket's default send buffer (208 KiB), so one read takes all that is queued and `-k`
/// never cuts a client's single write in two; bigger buys nothing, smaller costs CPU per
/// GiB (figures in docs/performance.md).
pub const CHUNK: usize = 256 * 1024;
