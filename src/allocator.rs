//! The global allocator: the system's, except that with the `page-aligned-alloc` feature
//! large blocks (I/O buffers such as hyper's read buffer of io::CHUNK) start on a page
//! boundary; and [`tune`], glibc's thresholds, either way.
//!
//! Off by default: it costs every subcommand memory (realloc never grows such a block in
//! place, alloc_zeroed loses calloc's fresh zero pages: an idle recvfrom holds nearly twice
//! the RSS), and on Intel CPUs the http body case it was made for measures the same without.
//!
//! Why: on AMD Zen the kernel's copy to user memory (`rep movsb`) runs about 3x slower
//! when the destination sits 1 to 31 bytes past the source modulo 4 KiB, and glibc puts a
//! large block at a page start + 16. A body sent from the page cache (nginx's sendfile,
//! splice) arrives page-aligned, so every read of it hit the slow case or missed it by the
//! luck of the heap layout. Page-aligned, it never does, for up to a page more per large
//! block (figures in docs/performance.md).

#[cfg(feature = "page-aligned-alloc")]
use std::alloc::{GlobalAlloc, Layout, System};

/// From this size on a block is page-aligned; smaller ones keep malloc's packing. Anything
/// a read(2) of real size lands in is larger; the up to 4 KiB more it may take is < 7%.
#[cfg(feature = "page-aligned-alloc")]
const LARGE: usize = 64 * 1024;
#[cfg(feature = "page-aligned-alloc")]
const PAGE: usize = 4096;

#[cfg(feature = "page-aligned-alloc")]
pub struct PageAligned;

#[cfg(feature = "page-aligned-alloc")]
fn adjust(layout: Layout) -> Layout {
    if layout.size() >= LARGE && layout.align() < PAGE {
        // A size of at least LARGE with a power-of-two alignment of PAGE is always valid.
        Layout::from_size_align(layout.size(), PAGE).unwrap_or(layout)
    } else {
        layout
    }
}

// SAFETY: every block is allocated and freed by System with the same adjusted layout.
#[cfg(feature = "page-aligned-alloc")]
unsafe impl GlobalAlloc for PageAligned {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: adjust keeps the caller's non-zero size and only raises the alignment.
        unsafe { System.alloc(adjust(layout)) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as in alloc.
        unsafe { System.alloc_zeroed(adjust(layout)) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: ptr came from alloc with this layout, so System allocated it with adjust(layout).
        unsafe { System.dealloc(ptr, adjust(layout)) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let old = adjust(layout);
        // SAFETY: the caller guarantees new_size is valid for this align (realloc's contract).
        let new = adjust(unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) });
        if old.align() == new.align() {
            // SAFETY: System allocated ptr with `old`; new_size is valid at old's alignment,
            // since adjust checked it (or left the caller's alignment, for which it is valid).
            return unsafe { System.realloc(ptr, old, new_size) };
        }
        // Crossing LARGE changes the alignment: a new block, the contents moved over.
        // SAFETY: new has the caller's non-zero size (realloc's contract).
        let moved = unsafe { System.alloc(new) };
        if !moved.is_null() {
            // SAFETY: two distinct live blocks, each at least as long as the bytes copied;
            // ptr, allocated by System with `old`, is not used after the dealloc.
            unsafe {
                std::ptr::copy_nonoverlapping(ptr, moved, layout.size().min(new_size));
                System.dealloc(ptr, old);
            }
        }
        moved
    }
}

/// Keeps blocks under 4 MiB on the heap, where freed ones are reused: glibc otherwise maps
/// 256 KiB blocks afresh (with page-aligned-alloc each one, an mmap and a munmap per chunk
/// of a body; with the system's alone fewer), for more CPU; the price is up to 8 MiB of
/// freed heap kept. Called first
/// thing in main; with another libc (musl's mallopt does nothing) it is compiled out.
pub fn tune() {
    #[cfg(target_env = "gnu")]
    // SAFETY: mallopt takes plain integers and only sets the allocator's thresholds.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 4 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 8 << 20);
    }
}
