// SPDX-License-Identifier: GPL-2.0

//! Ready-made mappings kept for reuse, by size class.
//!
//! `vfree()` gives a region's pages back and unmaps it; the next
//! `vmalloc()` of the same size takes pages one by one and maps them all
//! again. A dedicated pool can do better, as a slab does for objects: a
//! freed region's mapping is kept with its pages, and the next region of
//! the same size class ([`crate::vmap::size_class`]) is that mapping,
//! placed so that it ends where the mapping ends (the guard page after it
//! stays the guard page after the region). The cache holds at most an
//! eighth of the pool, takes nothing while the pool is short of free
//! pages, and gives everything back on `purge`, when a region cannot get
//! its pages, and at teardown.
//!
//! The price is the slab's: a stale pointer into a freed region reaches
//! the next region of its class rather than faulting. `region_cache=0`
//! turns the cache off.

use kernel::{
    new_spinlock,
    prelude::*,
    sync::SpinLock,
};

use super::Kept;
use crate::vmap::NR_SIZE_CLASSES;

/// Mappings kept per class at most.
const DEPTH: usize = 4;

/// The cached mappings of every class.
///
/// # Invariants
///
/// `pages` is the number of pages mapped by every mapping in `classes`;
/// the mappings of `classes[c]` have size class `c`.
struct Classes<'a> {
    classes: [KVec<Kept<'a>>; NR_SIZE_CLASSES],
    pages: usize,
}

/// Counts for `region/stats`.
#[derive(Clone, Copy, Default)]
pub(crate) struct CacheStats {
    /// Mappings and pages kept now.
    pub(crate) mappings: usize,
    pub(crate) pages: usize,
    /// Regions that got a kept mapping, and regions that had to be mapped.
    pub(crate) hits: u64,
    pub(crate) misses: u64,
}

/// The cache.
pub(super) struct MapCache<'a> {
    max_pages: usize,
    inner: Pin<KBox<SpinLock<(Classes<'a>, CacheStats)>>>,
}

impl<'a> MapCache<'a> {
    /// An empty cache holding up to `max_pages` pages (0: off). Allocates
    /// every class's room now, so that [`MapCache::put`] never does.
    pub(super) fn new(max_pages: usize) -> Result<Self> {
        let mut classes: [KVec<Kept<'a>>; NR_SIZE_CLASSES] = core::array::from_fn(|_| KVec::new());
        if max_pages > 0 {
            for c in classes.iter_mut() {
                c.reserve(DEPTH, GFP_KERNEL)?;
            }
        }
        let inner = (Classes { classes, pages: 0 }, CacheStats::default());
        Ok(Self { max_pages, inner: KBox::pin_init(new_spinlock!(inner, "MapCache"), GFP_KERNEL)? })
    }

    /// A kept mapping of class `class`, if there is one. Any context.
    pub(super) fn get(&self, class: usize) -> Option<Kept<'a>> {
        let mut guard = self.inner.lock();
        let (classes, stats) = &mut *guard;
        let Some(m) = classes.classes.get_mut(class).and_then(KVec::pop) else {
            stats.misses += 1;
            return None;
        };
        classes.pages -= m.pages();
        stats.hits += 1;
        Some(m)
    }

    /// Keeps `m` (of class `class`) if there is room; else gives it back
    /// to be unmapped and freed. Any context.
    pub(super) fn put(&self, class: usize, m: Kept<'a>) -> Option<Kept<'a>> {
        let mut guard = self.inner.lock();
        let (classes, _) = &mut *guard;
        if classes.pages + m.pages() > self.max_pages {
            return Some(m);
        }
        let pages = m.pages();
        let Some(list) = classes.classes.get_mut(class) else { return Some(m) };
        match list.push_within_capacity(m) {
            Ok(()) => {
                classes.pages += pages;
                None
            }
            Err(e) => Some(e.0),
        }
    }

    /// Takes every kept mapping out, to be unmapped and freed by the
    /// caller (process context: unmapping sleeps).
    pub(super) fn take_all(&self, mut f: impl FnMut(Kept<'a>)) {
        loop {
            let m = {
                let mut guard = self.inner.lock();
                let (classes, _) = &mut *guard;
                let m = classes.classes.iter_mut().find_map(KVec::pop);
                if let Some(m) = &m {
                    classes.pages -= m.pages();
                }
                m
            };
            match m {
                Some(m) => f(m),
                None => break,
            }
        }
    }

    /// The counts.
    pub(super) fn stats(&self) -> CacheStats {
        let guard = self.inner.lock();
        let (classes, stats) = &*guard;
        CacheStats {
            mappings: classes.classes.iter().map(|c| c.len()).sum(),
            pages: classes.pages,
            ..*stats
        }
    }
}
