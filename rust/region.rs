// SPDX-License-Identifier: GPL-2.0

//! The region layer: virtually contiguous regions built from scattered
//! buddy-pool pages, as `vmalloc()` builds them, and mergeable regions,
//! which have no address at all, as `zsmalloc` objects have none.
//!
//! A region is one record ([`Region`]) kept by identity in an rbtree (the
//! registry); its identity is its handle, never reused, so a stale handle
//! finds nothing. Two kinds:
//!
//! - **Mapped** (`mm/vmalloc.c`): `__vmalloc_node_range()` takes the pages
//!   (`vm_area_alloc_pages()`: large blocks first, kept whole: nothing here
//!   ever replaces one page of a mapped region) and maps them with
//!   `vmap()`, the mapping call 7.3 exports to modules, with its guard page
//!   after. The address is fixed for the region's whole life: nothing ever
//!   remaps it. `vfree()` gives the pages back at once; `vunmap()` leaves
//!   only the address and the TLB flush lazy, as `vfree()` does. Mappings
//!   of up to 1 MiB are instead kept for the next region of their size
//!   class ([`cache`]), which is what a dedicated pool allows that
//!   `vmalloc()` cannot.
//! - **Mergeable** ([`merged`]): pages reached only through
//!   [`Regions::map`] (a short-lived [`PageMap`]) or
//!   [`Regions::read`]/[`Regions::write`], so that the merger can share
//!   them and no writable mapping of a shared page ever exists.
//!
//! Huge regions take pageblock-order (2 MiB) blocks when the pool has
//! them, but are mapped with 4 KiB entries: `vmap_pages_range()` is not
//! exported to modules. There is no `VM_NO_GUARD`: `vmap()` always puts a
//! guard page after an area, and `vm_map_ram()` (the exported call without
//! one) packs several users' mappings into one block, where an overrun
//! reaches another user's memory.
//!
//! Locking: the registry is a spinlock held only to look up, insert or
//! remove one record (a region is used through its own `Arc`); a mergeable
//! region's pages have their own mutex ([`merged`]); the cache has a
//! spinlock. None is held while another is taken.

use core::{
    panic::Location,
    ptr::NonNull,
};

use kernel::{
    fmt,
    new_mutex,
    new_spinlock,
    prelude::*,
    rbtree::{
        RBTree,
        RBTreeNode,
        RBTreeNodeReservation, //
    },
    sync::{
        atomic::{
            Atomic,
            Relaxed, //
        },
        Arc,
        SpinLock,
        UniqueArc,
    },
};

use crate::{
    buddy::{
        Flags,
        PageBlock,
        Pool, //
    },
    helpers::*,
    pfn::{
        Order,
        Pfn,
        PAGE_SIZE, //
    },
    vmap::{
        max_order,
        next_order,
        nr_pages,
        size_class, //
    },
};

mod access;
mod cache;
mod merged;
mod migrate;
mod shared;
mod user;

pub(crate) use cache::CacheStats;
pub(crate) use merged::PageMap;
pub(crate) use shared::{
    SharedPage,
    SharedRef, //
};
use merged::{
    Slot,
    Slots, //
};
pub(crate) use user::{
    UserCounts,
    UserPages,
    UserPte, //
};

/// A region's options (`VM_*` and `__GFP_ZERO`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct RegionFlags {
    /// Zeroed pages.
    pub(crate) zero: bool,
    /// The merger may share its pages (`MADV_MERGEABLE`); no address.
    pub(crate) mergeable: bool,
    /// 2 MiB blocks where the pool has them (`VM_ALLOW_HUGE_VMAP`).
    pub(crate) huge: bool,
}

/// Pages mapped virtually contiguous with `vmap()`, and the blocks that
/// own them.
///
/// # Invariants
///
/// `base` is a live `vmap()` of `pages` pages owned by `blocks`, in order.
pub(crate) struct Mapping<'a> {
    base: NonNull<u8>,
    pages: usize,
    blocks: KVec<PageBlock<'a>>,
}

// SAFETY: `base` is a kernel mapping valid on every CPU; the blocks are
// `Send`.
unsafe impl Send for Mapping<'_> {}

// SAFETY: As above; shared access only reads the fields.
unsafe impl Sync for Mapping<'_> {}

impl<'a> Mapping<'a> {
    /// Takes `pages` pages, largest blocks first (2 MiB at most if `huge`),
    /// and maps them. Process context; sleeps.
    ///
    /// Only single pages may reclaim: larger blocks are tried without
    /// reclaim and without waking kswapd, as `vm_area_alloc_pages()` tries
    /// them, so that a fragmented pool gets smaller blocks rather than
    /// losing every kept mapping to a block that may never form.
    fn new(pool: &'a Pool, pages: usize, huge: bool, zero: bool) -> Result<Self> {
        let gfp = if zero { Flags::KERNEL.zeroed() } else { Flags::KERNEL };
        let large = gfp.no_reclaim();
        let mut blocks = KVec::new();
        let mut left = pages;
        while left > 0 {
            let mut order = next_order(left, max_order(huge));
            let block = loop {
                let flags = if order == Order::ZERO { gfp } else { large };
                match pool.alloc_pages(order, flags) {
                    Ok(b) => break b,
                    Err(e) => order = order.prev().ok_or(e)?,
                }
            };
            left -= order.nr_pages();
            blocks.push(block, GFP_KERNEL)?;
            // Mid-way: the blocks taken so far must go back.
            crate::fault::inject(crate::fault::Site::Region, left * PAGE_SIZE)?;
        }
        let count = c_uint::try_from(pages).map_err(|_| EINVAL)?;
        let mut array = KVec::with_capacity(pages, GFP_KERNEL)?;
        for b in blocks.iter() {
            for p in 0..b.order().nr_pages() {
                // SAFETY: A frame of a block we own.
                let page = unsafe { zonemm_pfn_to_page((b.pfn().0 + p) as c_ulong) };
                array.push(page, GFP_KERNEL)?;
            }
        }
        crate::fault::inject(crate::fault::Site::Region, pages * PAGE_SIZE)?;
        // SAFETY: `array` holds `count` pages we own.
        let base = unsafe { zonemm_vmap(array.as_mut_ptr(), count) };
        let base = NonNull::new(base.cast::<u8>()).ok_or(ENOMEM)?;
        // INVARIANT: `base` maps the pages of `blocks`, in order.
        Ok(Self { base, pages, blocks })
    }

    /// Pages mapped.
    pub(crate) fn pages(&self) -> usize {
        self.pages
    }

    /// Where a region of `nr` pages starts in it: at the end, so that the
    /// guard page after the mapping is the guard page after the region.
    fn start_for(&self, nr: usize) -> NonNull<u8> {
        // SAFETY: `nr <= pages`, so the offset is within the mapping.
        unsafe { self.base.add((self.pages - nr) * PAGE_SIZE) }
    }
}

impl Drop for Mapping<'_> {
    fn drop(&mut self) {
        // SAFETY: By the type invariant we own this `vmap()`. Then the
        // blocks go back to the pool; only the address and the TLB flush
        // are left lazy, as after `vfree()`.
        unsafe { zonemm_vunmap(self.base.as_ptr().cast()) };
    }
}

/// One region (`struct vm_struct`, or a zsmalloc object).
///
/// # Invariants
///
/// Exactly one of `mapping` (a mapped region, `nr_pages` of it at
/// [`Region::addr`]) and `slots` (a mergeable one, `nr_pages` slots) is
/// `Some`, except that a mapped region being recycled into the cache has
/// neither and is never reached again.
pub(crate) struct Region<'a> {
    id: u64,
    nr_pages: usize,
    flags: RegionFlags,
    caller: &'static Location<'static>,
    mapping: Option<Mapping<'a>>,
    slots: Option<Pin<KBox<Slots<'a>>>>,
    /// A user region's mappings ([`user`]): its pages are reached only
    /// through them.
    user: Option<UserPages>,
    /// Pages the merger has seen (its rmap items).
    rmap_items: Atomic<usize>,
    /// A user region's pages marked mergeable: the merger skips a user
    /// region with none, as KSM walks only `VM_MERGEABLE` VMAs.
    marked: Atomic<usize>,
    /// Freed: out of the registry, kept only by those still holding it.
    freed: Atomic<u32>,
}

impl<'a> Region<'a> {
    /// Its identity (the handle).
    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    /// Its pages.
    pub(crate) fn nr_pages(&self) -> usize {
        self.nr_pages
    }

    /// Whether the merger may share its pages.
    pub(crate) fn is_mergeable(&self) -> bool {
        self.slots.is_some()
    }

    /// Whether the merger has pages to look at: a mergeable region's, and
    /// for a user region only once some are marked.
    fn scannable(&self) -> bool {
        self.is_mergeable() && (self.user.is_none() || self.marked.load(Relaxed) > 0)
    }

    /// A mapped region's address.
    pub(crate) fn addr(&self) -> Option<NonNull<u8>> {
        self.mapping.as_ref().map(|m| m.start_for(self.nr_pages))
    }

    /// The address of page `index` of a mapped region.
    fn page_addr(&self, index: usize) -> Option<NonNull<u8>> {
        let start = self.addr()?;
        // SAFETY: `index < nr_pages`: within the region.
        (index < self.nr_pages).then(|| unsafe { start.add(index * PAGE_SIZE) })
    }

    /// The frame of page `index`.
    pub(crate) fn pfn(&self, index: usize) -> Option<Pfn> {
        if let Some(slots) = &self.slots {
            return slots.lock().get(index).and_then(Slot::pfn);
        }
        let addr = self.page_addr(index)?;
        // SAFETY: An address of our own live mapping.
        let pfn = unsafe { zonemm_vmalloc_to_pfn(addr.as_ptr().cast()) };
        Some(Pfn(pfn as usize))
    }

    /// Whether it was freed (the merger, still holding it, skips it).
    pub(crate) fn is_freed(&self) -> bool {
        self.freed.load(Relaxed) != 0
    }

    /// Adds one to the merger's count of pages it has seen.
    pub(crate) fn note_rmap_item(&self) {
        self.rmap_items.add(1, Relaxed);
    }
}

/// A freed mapped region kept whole for reuse: its record (with its
/// mapping and pages) and its registry node's allocation.
pub(crate) struct Kept<'a> {
    region: UniqueArc<Region<'a>>,
    node: RBTreeNodeReservation<u64, Arc<Region<'a>>>,
}

impl Kept<'_> {
    /// Pages its mapping holds.
    pub(crate) fn pages(&self) -> usize {
        self.region.mapping.as_ref().map_or(0, Mapping::pages)
    }
}

/// Counts for `region/stats`.
#[derive(Clone, Copy, Default)]
pub(crate) struct RegionStats {
    /// Regions allocated and freed.
    pub(crate) allocations: u64,
    pub(crate) frees: u64,
    /// Pages in live regions.
    pub(crate) pages: usize,
    /// The cache of mappings.
    pub(crate) cache: CacheStats,
}

type Registry<'a> = RBTree<u64, Arc<Region<'a>>>;

/// All regions over one pool.
pub(crate) struct Regions<'a> {
    pool: &'a Pool,
    next_id: Atomic<u64>,
    registry: Pin<KBox<SpinLock<Registry<'a>>>>,
    cache: cache::MapCache<'a>,
    allocations: Atomic<u64>,
    frees: Atomic<u64>,
    pages: Atomic<usize>,
}

impl<'a> Regions<'a> {
    /// No regions yet, over `pool`; freed mappings are kept for reuse up to
    /// an eighth of the pool if `cache`.
    pub(crate) fn new(pool: &'a Pool, cache: bool) -> Result<Self> {
        let max = if cache { pool.managed() / 8 } else { 0 };
        Ok(Self {
            pool,
            next_id: Atomic::new(1),
            registry: KBox::pin_init(new_spinlock!(RBTree::new(), "Regions::registry"), GFP_KERNEL)?,
            cache: cache::MapCache::new(pool, max)?,
            allocations: Atomic::new(0),
            frees: Atomic::new(0),
            pages: Atomic::new(0),
        })
    }

    /// The size class whose cache a mapped region of `nr` pages uses.
    fn class(nr: usize, flags: RegionFlags) -> Option<(usize, usize)> {
        if flags.huge || flags.mergeable {
            None
        } else {
            size_class(nr)
        }
    }

    /// A mapped region's pages, mapped: as many as its size class has.
    fn mapping(&self, nr: usize, flags: RegionFlags) -> Result<Mapping<'a>> {
        match Self::class(nr, flags) {
            Some((_, pages)) => Mapping::new(self.pool, pages, false, flags.zero),
            None => Mapping::new(self.pool, nr, flags.huge, flags.zero),
        }
    }

    /// Registers a kept region as a new one: nothing to allocate.
    fn reuse(&self, kept: Kept<'a>, nr: usize, flags: RegionFlags, caller: &'static Location<'static>) -> u64 {
        let Kept { mut region, node } = kept;
        let id = self.next_id.fetch_add(1, Relaxed);
        region.id = id;
        region.nr_pages = nr;
        region.flags = flags;
        region.caller = caller;
        *region.freed.get_mut() = 0;
        if flags.zero {
            if let Some(start) = region.addr() {
                // SAFETY: The region's part of a mapping it owns.
                unsafe { core::ptr::write_bytes(start.as_ptr(), 0, nr * PAGE_SIZE) };
            }
        }
        self.registry.lock().insert(node.into_node(id, region.into()));
        self.allocations.add(1, Relaxed);
        self.pages.add(nr, Relaxed);
        id
    }

    /// A mergeable region's pages: single pages, each its own slot, movable
    /// (`__GFP_MOVABLE`, as zsmalloc's), their owner words naming region
    /// `id`'s slots.
    fn slots(&self, nr: usize, flags: RegionFlags, id: u64) -> Result<Pin<KBox<Slots<'a>>>> {
        let gfp = merged::slot_flags(flags.zero);
        let mut v = KVVec::with_capacity(nr, GFP_KERNEL)?;
        while v.len() < nr {
            let want = nr - v.len();
            let got = self.pool.alloc_pages_bulk(Order::ZERO, gfp, want, |b| {
                // Cannot fail: room for `nr` was reserved.
                let _ = v.push_within_capacity(Slot::new(b));
            });
            if got == 0 {
                // The bulk call keeps the low watermark; one at a time may
                // go below it, and the slow path reclaims.
                let b = self.pool.alloc_pages(Order::ZERO, gfp)?;
                let _ = v.push_within_capacity(Slot::new(b));
            }
        }
        crate::fault::inject(crate::fault::Site::Region, nr * size_of::<Slot<'_>>())?;
        for (index, slot) in v.iter().enumerate() {
            slot.set_owner(self.pool, migrate::owner_word(id, index));
        }
        KBox::pin_init(new_mutex!(v, "Region::slots"), GFP_KERNEL)
    }

    /// `vmalloc()`, or a mergeable region: `size` bytes (rounded up to
    /// pages). Returns the region's identity. Process context; sleeps.
    #[track_caller]
    pub(crate) fn alloc_id(&self, size: usize, flags: RegionFlags) -> Result<u64> {
        let caller = Location::caller();
        let nr = nr_pages(size).filter(|&n| n <= self.pool.managed()).ok_or(EINVAL)?;
        if crate::fault::should_fail(crate::fault::Site::Region, size) {
            return Err(ENOMEM);
        }
        if let Some((class, _)) = Self::class(nr, flags) {
            if let Some(kept) = self.cache.get(class) {
                return Ok(self.reuse(kept, nr, flags, caller));
            }
        }
        let id = self.next_id.fetch_add(1, Relaxed);
        let build = || -> Result<(Option<Mapping<'a>>, Option<Pin<KBox<Slots<'a>>>>)> {
            if flags.mergeable {
                Ok((None, Some(self.slots(nr, flags, id)?)))
            } else {
                Ok((Some(self.mapping(nr, flags)?), None))
            }
        };
        let (mapping, slots) = match build() {
            Ok(b) => b,
            Err(_) => {
                // As alloc_vmap_area() purges before it gives up: the kept
                // mappings go back, then one more try.
                self.purge();
                build()?
            }
        };
        Ok(self.insert(id, nr, flags, caller, mapping, slots, None)?.id)
    }

    /// Registers a new region `id` of `nr` pages (a mapped one, or a
    /// mergeable one with its slots and, for a user region, its user
    /// mappings). Process context; sleeps.
    #[allow(clippy::too_many_arguments)]
    fn insert(
        &self,
        id: u64,
        nr: usize,
        flags: RegionFlags,
        caller: &'static Location<'static>,
        mapping: Option<Mapping<'a>>,
        slots: Option<Pin<KBox<Slots<'a>>>>,
        user: Option<UserPages>,
    ) -> Result<Arc<Region<'a>>> {
        let region =
            Region {
                id,
                nr_pages: nr,
                flags,
                caller,
                mapping,
                slots,
                user,
                rmap_items: Atomic::new(0),
                marked: Atomic::new(0),
                freed: Atomic::new(0),
            };
        crate::fault::inject(crate::fault::Site::Region, size_of::<Region<'_>>())?;
        let region = Arc::new(region, GFP_KERNEL)?;
        let node = RBTreeNode::new(id, region.clone(), GFP_KERNEL)?;
        self.registry.lock().insert(node);
        self.allocations.add(1, Relaxed);
        self.pages.add(nr, Relaxed);
        Ok(region)
    }

    /// Registers a new user region (see [`user`]). Process context;
    /// sleeps.
    #[track_caller]
    fn register(
        &self,
        nr: usize,
        flags: RegionFlags,
        mapping: Option<Mapping<'a>>,
        slots: Option<Pin<KBox<Slots<'a>>>>,
        user: Option<UserPages>,
    ) -> Result<Arc<Region<'a>>> {
        let id = self.next_id.fetch_add(1, Relaxed);
        self.insert(id, nr, flags, Location::caller(), mapping, slots, user)
    }

    /// The region with identity `id`, held.
    pub(crate) fn get(&self, id: u64) -> Option<Arc<Region<'a>>> {
        self.registry.lock().get(&id).cloned()
    }

    /// A mapped region's address, for its whole life; `None` for a
    /// mergeable region or no region.
    pub(crate) fn addr_of(&self, id: u64) -> Option<usize> {
        self.registry.lock().get(&id)?.addr().map(|a| a.as_ptr() as usize)
    }

    /// The identity of the mapped region starting at `addr` (a walk of
    /// every region: for debugfs, not for the API).
    pub(crate) fn id_at(&self, addr: usize) -> Option<u64> {
        let registry = self.registry.lock();
        let found = registry.values().find(|r| r.addr().is_some_and(|a| a.as_ptr() as usize == addr));
        found.map(|r| r.id)
    }

    /// `vfree()`: the region goes; its pages go back to the pool, or its
    /// mapping with them to the cache, once nothing holds it (a
    /// [`PageMap`], the merger). `EINVAL` if there is no such region.
    /// Process context; sleeps.
    pub(crate) fn free_id(&self, id: u64) -> Result {
        self.free_region(id, false)
    }

    /// Frees user region `id` (its mappings are all gone). Process
    /// context; sleeps.
    pub(crate) fn free_user(&self, id: u64) -> Result {
        self.free_region(id, true)
    }

    /// [`Regions::free_id`] of a region that is a user region exactly if
    /// `user`: a user region goes only with its last mapping, never
    /// through a handle.
    fn free_region(&self, id: u64, user: bool) -> Result {
        let (region, node) = {
            let mut registry = self.registry.lock();
            let entry = registry.find_mut(&id).ok_or(EINVAL)?;
            if entry.get().user.is_some() != user {
                return Err(EINVAL);
            }
            let region = entry.get().clone();
            (region, entry.remove_node())
        };
        region.freed.store(1, Relaxed);
        // The node's allocation is kept; the registry's reference goes.
        let node = node.into_reservation();
        self.frees.add(1, Relaxed);
        self.pages.fetch_sub(region.nr_pages, Relaxed);
        let Some(unique) = Arc::into_unique_or_drop(region) else {
            // Mapped by someone: it goes with the last mapping.
            return Ok(());
        };
        let region = Pin::into_inner(unique);
        let Some((class, pages)) = Self::class(region.nr_pages, region.flags) else {
            return Ok(());
        };
        if region.mapping.as_ref().is_some_and(|m| m.pages == pages) && !self.pool.pressure() {
            // Not kept (no room): unmapped and freed here.
            drop(self.cache.put(class, Kept { region, node }));
        }
        Ok(())
    }

    /// Frees every region but the user regions (which go with their last
    /// mapping).
    pub(crate) fn free_all(&self) {
        let mut from = 0;
        loop {
            let Some(id) = self.next_from(from, |r| r.user.is_none()).map(|r| r.id) else { break };
            // EINVAL only if another thread freed it first: go on.
            let _ = self.free_id(id);
            from = id + 1;
        }
    }

    /// Gives every kept mapping back (`purge_vmap_area_lazy()` of the
    /// cache). Process context; sleeps.
    pub(crate) fn purge(&self) {
        self.cache.take_all(drop);
    }

    /// Maps page `index` of region `id` (see [`PageMap`]). Process
    /// context; may sleep.
    pub(crate) fn map(&self, id: u64, index: usize, write: bool) -> Result<PageMap<'a>> {
        let region = self.get(id).ok_or(EINVAL)?;
        match Region::map_page(region.clone(), index, write, self.pool) {
            // The copy of a shared page found no page: the kept mappings
            // go back first, as an allocation of the regions' own does.
            Err(e) if e == ENOMEM => {
                self.purge();
                Region::map_page(region, index, write, self.pool)
            }
            r => r,
        }
    }

    /// The mergeable region after identity `after` (or the first one), in
    /// identity order, held.
    pub(crate) fn next_mergeable(&self, after: Option<u64>) -> Option<Arc<Region<'a>>> {
        let from = after.map_or(0, |a| a.saturating_add(1));
        self.next_from(from, Region::scannable)
    }

    /// The first region, in identity order from `from` on, that passes
    /// `f`, held.
    fn next_from(&self, from: u64, f: impl Fn(&Region<'a>) -> bool) -> Option<Arc<Region<'a>>> {
        let mut registry = self.registry.lock();
        let mut cursor = registry.cursor_lower_bound_mut(&from)?;
        loop {
            let (_, r) = cursor.current();
            if f(r) {
                return Some(r.clone());
            }
            cursor = cursor.move_next()?;
        }
    }

    /// Pages of mergeable regions the merger has seen (`ksm_rmap_items`).
    pub(crate) fn rmap_items(&self) -> usize {
        self.registry.lock().values().map(|r| r.rmap_items.load(Relaxed)).sum()
    }

    /// The pool under the regions.
    pub(crate) fn pool(&self) -> &'a Pool {
        self.pool
    }

    /// The counters.
    pub(crate) fn stats(&self) -> RegionStats {
        RegionStats {
            allocations: self.allocations.load(Relaxed),
            frees: self.frees.load(Relaxed),
            pages: self.pages.load(Relaxed),
            cache: self.cache.stats(),
        }
    }

    /// Every live region, held, in identity order.
    fn snapshot(&self) -> Result<KVec<Arc<Region<'a>>>> {
        loop {
            let n = self.registry.lock().values().count();
            let mut v = KVec::with_capacity(n, GFP_KERNEL)?;
            let registry = self.registry.lock();
            if registry.values().count() > n {
                continue;
            }
            for r in registry.values() {
                let _ = v.push_within_capacity(r.clone());
            }
            return Ok(v);
        }
    }

    /// `/proc/vmallocinfo`: one line per mapped region, by address.
    pub(crate) fn show_vmallocinfo(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut all = self.snapshot().map_err(|_| fmt::Error)?;
        all.retain(|r| r.addr().is_some());
        all.sort_unstable_by_key(|r| r.addr().map_or(0, |a| a.as_ptr() as usize));
        for r in all.iter() {
            show_line(f, r)?;
        }
        Ok(())
    }

    /// `region/list`: every region by identity: `id pages flags address`
    /// (`-` for a mergeable region, which has none).
    pub(crate) fn show_list(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for r in self.snapshot().map_err(|_| fmt::Error)?.iter() {
            write!(f, "{} {}", r.id, r.nr_pages)?;
            show_flags(f, r.flags)?;
            if r.user.is_some() {
                write!(f, " user")?;
            }
            match r.addr() {
                Some(a) => writeln!(f, " 0x{:016x}", a.as_ptr() as usize)?,
                None => writeln!(f, " -")?,
            }
        }
        Ok(())
    }
}

fn show_flags(f: &mut fmt::Formatter<'_>, flags: RegionFlags) -> fmt::Result {
    for (on, name) in [(flags.zero, "zero"), (flags.mergeable, "mergeable"), (flags.huge, "huge")] {
        if on {
            write!(f, " {name}")?;
        }
    }
    Ok(())
}

/// One `/proc/vmallocinfo` line (`vmalloc_info_show()`): the range with
/// its guard page, the caller, the page count and `show_numa_info()`'s
/// node counts, then zonemm's flags and the region's identity.
fn show_line(f: &mut fmt::Formatter<'_>, r: &Region<'_>) -> fmt::Result {
    let (Some(m), Some(start)) = (r.mapping.as_ref(), r.addr()) else { return Ok(()) };
    let start = start.as_ptr() as usize;
    let end = start + (r.nr_pages + 1) * PAGE_SIZE;
    write!(f, "0x{start:016x}-0x{end:016x} {:7}", end - start)?;
    write!(f, " {}:{}", r.caller.file(), r.caller.line())?;
    write!(f, " pages={} vmalloc", r.nr_pages)?;
    let mut per_node = [0usize; 8];
    // The region's pages are the mapping's last `nr_pages`.
    let mut skip = m.pages - r.nr_pages;
    for b in m.blocks.iter() {
        let n = b.order().nr_pages();
        let used = n.saturating_sub(skip);
        skip = skip.saturating_sub(n);
        per_node[b.zone().nid().min(per_node.len() - 1)] += used;
    }
    for (nid, n) in per_node.iter().enumerate().filter(|(_, &n)| n > 0) {
        write!(f, " N{nid}={n}")?;
    }
    show_flags(f, r.flags)?;
    writeln!(f, " id={}", r.id)
}

impl Drop for Regions<'_> {
    fn drop(&mut self) {
        self.free_all();
        self.purge();
    }
}

mod tests;
