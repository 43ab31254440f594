//! Docker's multiplexed stdout/stderr framing (logs and attach of containers without a TTY):
//! each frame is an 8-byte header — stream (0 stdin, 1 stdout, 2 stderr), three zero bytes,
//! a big-endian u32 length — then that many payload bytes. Frames may arrive split anywhere.
//! Hand-written: only Docker's own client crates parse these frames, with their whole API.

use bytes::{Buf, Bytes};

pub const HEADER: usize = 8;

/// Which of our outputs a payload belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Out {
    Stdout,
    Stderr,
}

/// True if `head` starts like a frame header: what tells a multiplexed body from a raw one
/// when the server does not say (docker before API 1.42 labels both the same way).
pub fn looks_multiplexed(head: &[u8]) -> bool {
    head.len() >= HEADER && head[0] <= 2 && head[1..4] == [0, 0, 0]
}

#[derive(Default)]
pub struct Demuxer {
    head: [u8; HEADER],
    have: usize,
    /// Payload bytes still to come in the current frame, and its stream.
    left: usize,
    out: Option<Out>,
}

impl Demuxer {
    /// Splits a piece of the stream into payloads, zero-copy. A malformed header is an error
    /// naming its bytes.
    pub fn push(&mut self, mut data: Bytes) -> Result<Vec<(Out, Bytes)>, String> {
        let mut parts = Vec::new();
        while data.has_remaining() {
            if let (Some(out), true) = (self.out, self.left > 0) {
                let n = self.left.min(data.len());
                parts.push((out, data.split_to(n)));
                self.left -= n;
                continue;
            }
            let n = (HEADER - self.have).min(data.len());
            self.head[self.have..self.have + n].copy_from_slice(&data[..n]);
            data.advance(n);
            self.have += n;
            if self.have < HEADER {
                break;
            }
            self.have = 0;
            if !looks_multiplexed(&self.head) {
                return Err(format!(
                    "not a docker multiplexed stream: a frame header reads {:02x?}",
                    self.head
                ));
            }
            self.out = Some(if self.head[0] == 2 {
                Out::Stderr
            } else {
                Out::Stdout
            });
            self.left = u32::from_be_bytes(self.head[4..8].try_into().expect("4 bytes")) as usize;
        }
        Ok(parts)
    }

    /// At the end of the stream: an error if it stopped inside a frame.
    pub fn finish(&self) -> Result<(), String> {
        match (self.have, self.left) {
            (0, 0) => Ok(()),
            (h, 0) => Err(format!(
                "the stream ended inside a frame header ({h} of 8 bytes)"
            )),
            (_, l) => Err(format!(
                "the stream ended with {l} bytes of a frame missing"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(stream: u8, payload: &[u8]) -> Vec<u8> {
        let mut f = vec![stream, 0, 0, 0];
        f.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        f.extend_from_slice(payload);
        f
    }

    #[test]
    fn frames_split_anywhere() {
        let mut all = frame(1, b"out\n");
        all.extend(frame(2, b"err\n"));
        all.extend(frame(1, b""));
        all.extend(frame(0, b"in"));
        for cut in 0..all.len() {
            let mut d = Demuxer::default();
            let mut got: Vec<(Out, Vec<u8>)> = Vec::new();
            for piece in [&all[..cut], &all[cut..]] {
                for (o, b) in d.push(Bytes::copy_from_slice(piece)).unwrap() {
                    match got.last_mut() {
                        Some((lo, lb)) if *lo == o => lb.extend_from_slice(&b),
                        _ => got.push((o, b.to_vec())),
                    }
                }
            }
            d.finish().unwrap();
            assert_eq!(
                got,
                vec![
                    (Out::Stdout, b"out\n".to_vec()),
                    (Out::Stderr, b"err\n".to_vec()),
                    (Out::Stdout, b"in".to_vec())
                ],
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn garbage_and_truncation() {
        assert!(
            Demuxer::default()
                .push(Bytes::from_static(b"HTTP/1.1"))
                .is_err()
        );
        let mut d = Demuxer::default();
        d.push(Bytes::from(frame(1, b"abc")[..9].to_vec())).unwrap();
        assert!(d.finish().unwrap_err().contains("2 bytes"));
        assert!(looks_multiplexed(&frame(2, b"x")));
        assert!(!looks_multiplexed(b"{\"a\":1}\n"));
    }
}
