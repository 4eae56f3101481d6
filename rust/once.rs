// SPDX-License-Identifier: GPL-2.0

//! Words read and written on the allocation and free hit paths:
//! `READ_ONCE()`/`WRITE_ONCE()`, `smp_load_acquire()`/`smp_store_release()`
//! and `cmpxchg_relaxed()`/`xchg_relaxed()` on one machine word.
//!
//! `kernel::sync::atomic::Atomic` implements every operation, a plain load
//! included, as a call to an out-of-line C helper (`rust_helper_atomic64_*`)
//! unless the kernel is built with `CONFIG_RUST_INLINE_HELPERS`, which
//! distribution kernels are not. The words here are touched on every
//! allocation and free (owner words, watermarks and free counts, pageblock
//! types, fault sites, the API's handle table, the grown blocks' frame
//! map), so they use the compiler's own atomics instead, restricted to
//! the operations above: a relaxed load
//! or store compiles to the same single instruction as `READ_ONCE()` or
//! `WRITE_ONCE()` on every architecture the kernel's Rust supports, and
//! acquire/release to `smp_load_acquire()`/`smp_store_release()`. Nothing
//! here relies on address or control dependencies (LKMM's extras over the
//! C11 model). Everything else in zonemm keeps `Atomic`.

use core::sync::atomic::{
    AtomicU32,
    AtomicUsize,
    Ordering, //
};

/// One word shared between CPUs, accessed only through the operations
/// named in the module's documentation.
#[repr(transparent)]
pub(crate) struct OnceWord(AtomicUsize);

impl OnceWord {
    /// A word holding `v`.
    pub(crate) const fn new(v: usize) -> Self {
        Self(AtomicUsize::new(v))
    }

    /// `READ_ONCE()`.
    #[inline(always)]
    pub(crate) fn read(&self) -> usize {
        self.0.load(Ordering::Relaxed)
    }

    /// `WRITE_ONCE()`.
    #[inline(always)]
    pub(crate) fn write(&self, v: usize) {
        self.0.store(v, Ordering::Relaxed)
    }

    /// `smp_load_acquire()`.
    #[inline(always)]
    pub(crate) fn load_acquire(&self) -> usize {
        self.0.load(Ordering::Acquire)
    }

    /// `smp_store_release()`.
    #[inline(always)]
    pub(crate) fn store_release(&self, v: usize) {
        self.0.store(v, Ordering::Release)
    }

    /// `cmpxchg_relaxed()`: `new` if the word held `old`; `Err` with what
    /// it held otherwise.
    #[inline(always)]
    pub(crate) fn cmpxchg(&self, old: usize, new: usize) -> Result<usize, usize> {
        self.0.compare_exchange(old, new, Ordering::Relaxed, Ordering::Relaxed)
    }

    /// `xchg_relaxed()`: `v` in, the old value out.
    #[inline(always)]
    pub(crate) fn xchg(&self, v: usize) -> usize {
        self.0.swap(v, Ordering::Relaxed)
    }
}

/// A 32-bit [`OnceWord`] for tables where a word per entry would double
/// the size (the grown blocks' frame map); only its publication is needed.
#[repr(transparent)]
pub(crate) struct OnceU32(AtomicU32);

impl OnceU32 {
    /// A word holding `v`.
    pub(crate) const fn new(v: u32) -> Self {
        Self(AtomicU32::new(v))
    }

    /// `smp_load_acquire()`.
    #[inline(always)]
    pub(crate) fn load_acquire(&self) -> u32 {
        self.0.load(Ordering::Acquire)
    }

    /// `smp_store_release()`.
    #[inline(always)]
    pub(crate) fn store_release(&self, v: u32) {
        self.0.store(v, Ordering::Release)
    }
}
