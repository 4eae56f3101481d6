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
//! its pages, and at teardown. It is also the pool's shrinker: when any
//! pool user runs short, the pool's direct reclaim and kswapd take kept
//! mappings back, largest class first, as `shrink_slab()` takes a
//! driver's cached objects.
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
use crate::{
    buddy::{
        Pool,
        Shrinker,
        ShrinkerRegistration, //
    },
    vmap::NR_SIZE_CLASSES,
};

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
    /// Pages the pool's reclaim took back.
    pub(crate) shrunk: u64,
}

/// The kept mappings and their counts.
#[pin_data]
struct Store<'a> {
    #[pin]
    lock: SpinLock<(Classes<'a>, CacheStats)>,
}

/// The cache.
pub(super) struct MapCache<'a> {
    // Dropped first: no scan of `inner` runs once it is gone.
    _shrinker: Option<ShrinkerRegistration<'a>>,
    pool: &'a Pool,
    max_pages: usize,
    inner: Pin<KBox<Store<'a>>>,
}

impl<'a> MapCache<'a> {
    /// An empty cache of `pool`'s mappings holding up to `max_pages`
    /// pages (0: off), registered as the pool's shrinker. Allocates every
    /// class's room now, so that [`MapCache::put`] never does. Sleeps.
    pub(super) fn new(pool: &'a Pool, max_pages: usize) -> Result<Self> {
        let mut classes: [KVec<Kept<'a>>; NR_SIZE_CLASSES] = core::array::from_fn(|_| KVec::new());
        if max_pages > 0 {
            for c in classes.iter_mut() {
                c.reserve(DEPTH, GFP_KERNEL)?;
            }
        }
        let lock = (Classes { classes, pages: 0 }, CacheStats::default());
        let inner = KBox::pin_init(pin_init!(Store { lock <- new_spinlock!(lock, "MapCache") }), GFP_KERNEL)?;
        let shrinker = if max_pages > 0 {
            // SAFETY: The store is pinned in its box, which the cache drops
            // only after the registration (field order).
            Some(unsafe { pool.register_shrinker(&*inner) }?)
        } else {
            None
        };
        Ok(Self { _shrinker: shrinker, pool, max_pages, inner })
    }

    /// A kept mapping of class `class`, if there is one. Any context.
    pub(super) fn get(&self, class: usize) -> Option<Kept<'a>> {
        let mut guard = self.inner.lock.lock();
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
        let mut guard = self.inner.lock.lock();
        let (classes, _) = &mut *guard;
        if classes.pages + m.pages() > self.max_pages {
            return Some(m);
        }
        let pages = m.pages();
        let Some(list) = classes.classes.get_mut(class) else { return Some(m) };
        match list.push_within_capacity(m) {
            Ok(()) => {
                classes.pages += pages;
                drop(guard);
                self.pool.note_reclaimable();
                None
            }
            Err(e) => Some(e.0),
        }
    }

    /// Takes every kept mapping out, to be unmapped and freed by the
    /// caller (process context: unmapping sleeps).
    pub(super) fn take_all(&self, mut f: impl FnMut(Kept<'a>)) {
        while let Some(m) = self.inner.take_one() {
            f(m);
        }
    }

    /// The counts. Any context.
    pub(super) fn stats(&self) -> CacheStats {
        let guard = self.inner.lock.lock();
        let (classes, stats) = &*guard;
        CacheStats {
            mappings: classes.classes.iter().map(|c| c.len()).sum(),
            pages: classes.pages,
            ..*stats
        }
    }
}

impl<'a> Store<'a> {
    /// A kept mapping of the largest class there is, taken out. Any
    /// context.
    fn take_one(&self) -> Option<Kept<'a>> {
        let mut guard = self.lock.lock();
        let (classes, _) = &mut *guard;
        let m = classes.classes.iter_mut().rev().find_map(KVec::pop)?;
        classes.pages -= m.pages();
        Some(m)
    }
}

impl Shrinker for Store<'_> {
    fn count_objects(&self) -> usize {
        self.lock.lock().0.pages
    }

    /// Unmaps and frees kept mappings, largest first, until `nr_to_scan`
    /// pages went back or none is left. Process context; sleeps.
    fn scan_objects(&self, nr_to_scan: usize) -> usize {
        let mut freed = 0;
        while freed < nr_to_scan {
            let Some(m) = self.take_one() else { break };
            let pages = m.pages();
            // Unmapped and freed outside the lock.
            drop(m);
            freed += pages;
        }
        self.lock.lock().1.shrunk += freed as u64;
        freed
    }
}
