//! Standard input and output as the runtime sees them, and the bridge between them and a
//! socket, with half-close.

pub mod bridge;
pub mod stdio;

/// Size of one read. Measured with bench/stream's setup (1 GiB dd | connect -> listen >
/// /dev/null, 2 cores, load 8-9 from other jobs; medians of 5, MiB/s and CPU seconds of both
/// processes per GiB): 64K 817 MiB/s 0.96 s; 128K 863 MiB/s 0.72 s; 256K 1064 MiB/s 0.69 s;
/// 1M 996 MiB/s 0.72 s. 256 KiB is the cheapest; bigger buys nothing (a pipe read returns at
/// most the 1 MiB pipe, a socket read what the peer's send buffer held). Being larger than
/// that send buffer (net.core.wmem_default, 208 KiB) also means one read takes everything
/// queued, so `-k` never cuts a client's single write of up to 208 KiB into two chunks.
/// (Measured before stdin pipes were spliced: CHUNK now sizes socket reads and the reads of
/// a stdin that is not a pipe.)
pub const CHUNK: usize = 256 * 1024;
