//! Read buffers lent to connections only while their bytes are in flight: a server of many
//! mostly idle clients (`listen --echo`) holds memory for the clients that are moving bytes,
//! not one buffer for each client it has.

use std::cell::RefCell;
use std::ops::{Deref, DerefMut};

use crate::io::CHUNK;

/// Buffers kept for reuse on this thread, at most. Each one the runtime lends is back as soon
/// as its bytes are written, so a handful serve any number of clients; a burst that needs
/// more allocates them and frees what the pool cannot keep. 8 of CHUNK are 2 MiB.
const KEEP: usize = 8;

thread_local! {
    /// The runtime is current-thread: one pool per runtime, no locking.
    static FREE: RefCell<Vec<Box<[u8]>>> = const { RefCell::new(Vec::new()) };
}

/// A buffer of CHUNK bytes on loan; it goes back to the pool when dropped.
pub struct Lent(Option<Box<[u8]>>);

/// Takes a buffer from the pool (or a new one).
pub fn lend() -> Lent {
    let buf = FREE
        .with(|f| f.borrow_mut().pop())
        .unwrap_or_else(|| vec![0u8; CHUNK].into_boxed_slice());
    Lent(Some(buf))
}

impl Drop for Lent {
    fn drop(&mut self) {
        if let Some(buf) = self.0.take() {
            // During thread teardown the pool may be gone: the buffer is then just freed.
            let _ = FREE.try_with(|f| {
                let mut f = f.borrow_mut();
                if f.len() < KEEP {
                    f.push(buf);
                }
            });
        }
    }
}

impl Deref for Lent {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.0.as_deref().unwrap_or_default()
    }
}

impl DerefMut for Lent {
    fn deref_mut(&mut self) -> &mut [u8] {
        self.0.as_deref_mut().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_come_back_and_are_reused() {
        let a = lend();
        let ptr = a.as_ptr();
        assert_eq!(a.len(), CHUNK);
        drop(a);
        assert_eq!(lend().as_ptr(), ptr);
        let many: Vec<Lent> = (0..KEEP + 3).map(|_| lend()).collect();
        drop(many);
        assert_eq!(FREE.with(|f| f.borrow().len()), KEEP);
    }
}
