//! Work on a second thread beside this one, where a listing is long enough to pay for it
//! (ls's table dump beside its fd scan, plain columns cell by cell); rayon's pool would
//! start a thread per core for the one join this needs.

/// Runs `a` on a second thread while `b` runs on this one, and returns both results. When
/// no thread can be had (a limit on tasks), `a` runs here after `b`; a panic in `a` goes
/// on in the caller.
pub fn beside<A: Send, B>(a: impl Fn() -> A + Sync, b: impl FnOnce() -> B) -> (A, B) {
    std::thread::scope(|s| {
        let other = std::thread::Builder::new().spawn_scoped(s, &a).ok();
        let b = b();
        let a = match other {
            Some(t) => t.join().unwrap_or_else(|p| std::panic::resume_unwind(p)),
            None => a(),
        };
        (a, b)
    })
}
