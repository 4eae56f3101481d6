// SPDX-License-Identifier: GPL-2.0

//! Shared pages: one pool page that several mergeable region pages use, as
//! a KSM page is in `mm/ksm.c`.
//!
//! Nobody ever writes a shared page: a region page that uses one is only
//! ever mapped for reading, and mapping it for writing copies it first
//! (`Slots::cow`, the copy of `do_wp_page()`). Its frame is freed when the
//! last reference goes, as a KSM page is freed with its last mapping;
//! the stable tree's own `Arc` only keeps the (then stale) node, as a
//! `struct ksm_stable_node` outlives its page until the scanner drops it.

use core::{
    cell::UnsafeCell,
    mem::ManuallyDrop,
    ptr::NonNull,
};

use kernel::{
    prelude::*,
    sync::{
        atomic::{
            Atomic,
            Relaxed, //
        },
        Arc,
    },
};

use crate::{
    buddy::PageBlock,
    pfn::{
        Pfn,
        PAGE_SIZE, //
    },
};

/// A page several region pages use: a merged page, or the merger's zero
/// page.
///
/// # Invariants
///
/// `block` is live while `refs > 0` and freed by the one [`SharedRef`]
/// that takes `refs` from 1 to 0; `refs` never rises from 0 again
/// ([`SharedRef::pin`] only adds to a non-zero count). `addr` and `pfn`
/// are `block`'s. Nobody writes the page while `refs > 0`.
pub(crate) struct SharedPage<'a> {
    /// References that keep the frame: region pages using it, short pins
    /// of the merger, read mappings.
    refs: Atomic<usize>,
    /// Region pages using it (`pages_sharing + 1` for a stable page).
    mapped: Atomic<usize>,
    addr: NonNull<u8>,
    pfn: Pfn,
    block: UnsafeCell<ManuallyDrop<PageBlock<'a>>>,
}

// SAFETY: `block` is only touched by the one thread that drops the last
// reference; the rest is atomics and the immutable address of a page
// nobody writes.
unsafe impl Send for SharedPage<'_> {}

// SAFETY: As above.
unsafe impl Sync for SharedPage<'_> {}

impl<'a> SharedPage<'a> {
    /// Makes `block` a shared page, used by the region page that owned it
    /// (the returned reference). On failure `block` is given back.
    pub(crate) fn new(block: PageBlock<'a>) -> Result<SharedRef<'a>, PageBlock<'a>> {
        if crate::fault::inject(crate::fault::Site::Merge, size_of::<Self>()).is_err() {
            return Err(block);
        }
        let Ok(uninit) = kernel::sync::UniqueArc::<Self>::new_uninit(GFP_KERNEL) else {
            return Err(block);
        };
        let page = Self {
            refs: Atomic::new(1),
            mapped: Atomic::new(1),
            addr: NonNull::new(block.as_mut_ptr()).unwrap_or(NonNull::dangling()),
            pfn: block.pfn(),
            block: UnsafeCell::new(ManuallyDrop::new(block)),
        };
        // INVARIANT: one reference, the one returned, mapped by its region
        // page.
        Ok(SharedRef { page: uninit.write(page).into(), mapped: true })
    }

    /// Makes `block` a shared page used by no region page yet, held by the
    /// returned pin (the merger's zero page). On failure `block` is given
    /// back.
    pub(crate) fn new_pinned(block: PageBlock<'a>) -> Result<SharedRef<'a>, PageBlock<'a>> {
        let mut r = Self::new(block)?;
        r.page.mapped.store(0, Relaxed);
        r.mapped = false;
        Ok(r)
    }

    /// How many region pages use it.
    pub(crate) fn mapped(&self) -> usize {
        self.mapped.load(Relaxed)
    }

    /// Nobody references the frame any more: it is gone, only the node
    /// is left.
    pub(crate) fn is_stale(&self) -> bool {
        self.refs.load(Relaxed) == 0
    }

    /// The frame.
    pub(crate) fn pfn(&self) -> Pfn {
        self.pfn
    }
}

/// A reference to a shared page that keeps its frame: a region page's use
/// of it (`mapped`), or a short pin.
pub(crate) struct SharedRef<'a> {
    page: Arc<SharedPage<'a>>,
    mapped: bool,
}

impl<'a> SharedRef<'a> {
    /// A pin of `page`, unless its frame is already gone (stale).
    pub(crate) fn pin(page: &Arc<SharedPage<'a>>) -> Option<Self> {
        let mut n = page.refs.load(Relaxed);
        loop {
            if n == 0 {
                return None;
            }
            match page.refs.cmpxchg(n, n + 1, Relaxed) {
                Ok(_) => return Some(Self { page: page.clone(), mapped: false }),
                Err(now) => n = now,
            }
        }
    }

    /// Turns a pin into a region page's use.
    pub(crate) fn into_mapped(mut self) -> Self {
        if !self.mapped {
            self.page.mapped.add(1, Relaxed);
            self.mapped = true;
        }
        self
    }

    /// The shared page.
    pub(crate) fn page(&self) -> &Arc<SharedPage<'a>> {
        &self.page
    }

    /// The page's bytes, which nobody writes while referenced.
    pub(crate) fn content(&self) -> &[u8] {
        // SAFETY: By the invariant the frame lives while we hold a
        // reference, and nobody writes it.
        unsafe { core::slice::from_raw_parts(self.page.addr.as_ptr(), PAGE_SIZE) }
    }

    /// The page's kernel address, for reading only.
    pub(crate) fn as_ptr(&self) -> *const u8 {
        self.page.addr.as_ptr()
    }
}

impl Drop for SharedRef<'_> {
    fn drop(&mut self) {
        if self.mapped {
            self.page.mapped.fetch_sub(1, Relaxed);
        }
        // Full ordering: our reads of the page happen before whoever frees
        // it (`fetch_sub` with release; the last one acquires below).
        if self.page.refs.fetch_sub(1, kernel::sync::atomic::Full) == 1 {
            // SAFETY: We took `refs` from 1 to 0: by the invariant nobody
            // else can reach the block any more, and this runs once.
            unsafe { ManuallyDrop::drop(&mut *self.page.block.get()) };
        }
    }
}
