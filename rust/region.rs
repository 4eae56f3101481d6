// SPDX-License-Identifier: GPL-2.0

//! The region layer: virtually contiguous regions built from scattered
//! buddy-pool pages, as `vmalloc()` builds them from scattered pages.
//!
//! Mirrors `mm/vmalloc.c`: `__vmalloc_node_range()` takes the pages
//! (`vm_area_alloc_pages()`: large blocks first, split to single pages),
//! maps them (`vmap()`, the mapping call 7.3 exports to modules), and
//! records the area (`struct vm_struct`: start, size with its guard page,
//! pages, flags, caller) in an address-ordered tree (the core's
//! `vmap::RegionTree`, as `vmap_area_root`). `vfree()` is lazy: freed
//! regions wait, still mapped, and are unmapped and their pages returned
//! in one purge once enough are pending (`lazy_max_pages()`,
//! `purge_vmap_area_lazy()`), or when `purge` is asked for.
//!
//! A region is mapped with `vmap()`, which always puts a guard page after
//! it (it refuses `VM_NO_GUARD`); a `no_guard` region is mapped with
//! `vm_map_ram()` instead, which packs small mappings into per-CPU blocks
//! with no guard between them.
//!
//! Huge regions take pageblock-order (2 MiB) blocks when the pool has
//! them, but are still mapped with 4 KiB entries: the interfaces that map
//! huge pages (`vmap_pages_range()`, `vmap_range()`) are not exported to
//! modules in 7.3. The merger will change a region's pages; `remap()`
//! rebuilds the mapping from the page array (a new `vmap()`), since no
//! exported call edits one kernel page-table entry.
//!
//! Regions flagged `mergeable` must be read and written through
//! [`Regions::read`] and [`Regions::write`] only: the merger may share
//! their pages and must see every write to break the sharing first.
//!
//! Locking: one mutex over the tree and the lazy list; `vmap()` and
//! `vunmap()` sleep, so nothing here runs in atomic context.

use core::{
    panic::Location,
    ptr::NonNull,
};

use kernel::{
    bindings,
    fmt,
    new_mutex,
    prelude::*,
    sync::Mutex,
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
        area_size,
        max_order,
        next_order,
        nr_pages,
        Node,
        RegionTree,
        TreeError, //
    },
};

/// A region's options (`VM_*` and `__GFP_ZERO`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct RegionFlags {
    /// Zeroed pages.
    pub(crate) zero: bool,
    /// The merger may share its pages (`MADV_MERGEABLE`).
    pub(crate) mergeable: bool,
    /// 2 MiB blocks where the pool has them (`VM_ALLOW_HUGE_VMAP`).
    pub(crate) huge: bool,
    /// No guard page after it (`VM_NO_GUARD`).
    pub(crate) no_guard: bool,
}

/// What a region holds for a run of its pages.
enum RegionPage<'a> {
    /// Its own block (a single page, or a 2 MiB block of a huge region).
    Own(PageBlock<'a>),
    /// A shared page (mergeable regions only).
    Shared(SharedRef<'a>),
}

mod access;
mod shared;

pub(crate) use shared::{
    MergeAccess,
    SharedPage, //
};
use shared::SharedRef;

/// One region (`struct vm_struct`).
///
/// # Invariants
///
/// `addr` maps `pages` (one entry per page, in order) for `nr_pages`
/// pages, through a mapping this region owns; `blocks` owns or shares
/// those pages, one entry per page unless the region is huge.
pub(crate) struct Region<'a> {
    id: u64,
    addr: NonNull<u8>,
    nr_pages: usize,
    flags: RegionFlags,
    caller: &'static Location<'static>,
    blocks: KVec<RegionPage<'a>>,
    pages: KVec<*mut bindings::page>,
    /// `pages` changed since the mapping was made.
    dirty: bool,
}

// SAFETY: The raw pointers are the region's own mapping and pages.
unsafe impl Send for Region<'_> {}

// SAFETY: As above; shared access only reads them.
unsafe impl Sync for Region<'_> {}

impl Region<'_> {
    /// Bytes of address space, guard page included.
    fn area(&self) -> usize {
        area_size(self.nr_pages, self.flags.no_guard)
    }

    /// The frame of page `i`.
    fn pfn(&self, i: usize) -> Pfn {
        // SAFETY: `pages[i]` is one of our pages.
        Pfn(unsafe { zonemm_page_to_pfn(self.pages[i]) } as usize)
    }

    /// The direct-map address of byte `off`.
    fn byte(&self, off: usize) -> *mut u8 {
        // SAFETY: Our page's frame is in the direct map.
        let page = unsafe { zonemm_pfn_to_virt(self.pfn(off / PAGE_SIZE).0 as c_ulong) };
        // SAFETY: The offset is within the page.
        unsafe { page.cast::<u8>().add(off % PAGE_SIZE) }
    }
}

impl<'a> Region<'a> {
    /// Copies shared page `i` to a page of its own (the copy of
    /// copy-on-write), to be mapped at the next remap.
    fn cow(&mut self, i: usize, pool: &'a Pool) -> Result {
        let RegionPage::Shared(shared) = &self.blocks[i] else {
            return Ok(());
        };
        let block = pool.alloc_pages(Order::ZERO, Flags::KERNEL)?;
        // SAFETY: Both are whole pages: the shared one ours to read, the
        // new one ours alone.
        unsafe { core::ptr::copy_nonoverlapping(shared.0.content().as_ptr(), block.as_mut_ptr(), PAGE_SIZE) };
        // SAFETY: The new block's frame.
        self.pages[i] = unsafe { zonemm_pfn_to_page(block.pfn().0 as c_ulong) };
        // Drops this page's share of the shared page.
        self.blocks[i] = RegionPage::Own(block);
        self.dirty = true;
        Ok(())
    }

    /// Undoes the mapping at `at`, made by [`map`] with our flags.
    fn unmap_at(&self, at: NonNull<u8>) {
        let addr = at.as_ptr().cast();
        if self.flags.no_guard {
            // CAST: the count fitted a `c_uint` when it was mapped.
            // SAFETY: By the type invariant we own this `vm_map_ram()`.
            unsafe { zonemm_vm_unmap_ram(addr, self.nr_pages as c_uint) };
        } else {
            // SAFETY: By the type invariant we own this `vmap()`.
            unsafe { zonemm_vunmap(addr) };
        }
    }
}

impl Drop for Region<'_> {
    fn drop(&mut self) {
        self.unmap_at(self.addr);
        // Then `blocks` gives the pages back.
    }
}

/// Maps `pages` virtually contiguous: `vmap()` with its guard page, or
/// `vm_map_ram()` without one. Sleeps.
fn map(pages: &mut KVec<*mut bindings::page>, no_guard: bool) -> Result<NonNull<u8>> {
    let count = c_uint::try_from(pages.len()).map_err(|_| EINVAL)?;
    let addr = if no_guard {
        // SAFETY: `pages` holds `count` pages the caller owns.
        unsafe { zonemm_vm_map_ram(pages.as_mut_ptr(), count) }
    } else {
        // SAFETY: As above.
        unsafe { zonemm_vmap(pages.as_mut_ptr(), count) }
    };
    NonNull::new(addr.cast::<u8>()).ok_or(ENOMEM)
}

/// Counts for `region/stats`.
#[derive(Clone, Copy, Default)]
pub(crate) struct RegionStats {
    /// Regions allocated.
    pub(crate) allocations: u64,
    /// Regions freed (lazily or not).
    pub(crate) frees: u64,
    /// Pages in live regions.
    pub(crate) pages_mapped: usize,
    /// Pages of freed regions waiting for a purge.
    pub(crate) lazily_pending: usize,
    /// Purges done.
    pub(crate) purges: u64,
}

struct Inner<'a> {
    next_id: u64,
    tree: RegionTree<KVec<Node>>,
    slots: KVec<Option<KBox<Region<'a>>>>,
    lazy: KVec<KBox<Region<'a>>>,
    stats: RegionStats,
}

impl<'a> Inner<'a> {
    /// Maps region `slot`'s page array anew and moves its tree entry. On
    /// failure the region keeps its old mapping and tree entry.
    fn remap_slot(&mut self, slot: usize) -> Result<NonNull<u8>> {
        let region = self.slots.get_mut(slot).and_then(Option::as_mut).ok_or(EINVAL)?;
        let no_guard = region.flags.no_guard;
        let new = map(&mut region.pages, no_guard)?;
        let area = region.area();
        let old = region.addr.as_ptr() as usize;
        self.tree.remove(old);
        // The new range is free: the kernel just handed it out.
        let start = new.as_ptr() as usize;
        let new_slot = match self.tree.insert(start, start + area) {
            Ok(s) => s as usize,
            Err(_) => {
                // Undo: the old range goes back into the node it just left
                // (free again, as is the range, so this cannot fail), and
                // the new mapping goes.
                let _ = self.tree.insert(old, old + area);
                region.unmap_at(new);
                return Err(EINVAL);
            }
        };
        let old = core::mem::replace(&mut region.addr, new);
        region.unmap_at(old);
        region.dirty = false;
        if new_slot != slot {
            self.slots.swap(slot, new_slot);
        }
        Ok(new)
    }

    /// The slot of the region with identity `id`.
    fn slot_of(&self, id: u64) -> Option<usize> {
        self.slots.iter().position(|r| r.as_ref().is_some_and(|r| r.id == id))
    }
}

/// All regions over one pool.
pub(crate) struct Regions<'a> {
    pool: &'a Pool,
    lazy_max: usize,
    inner: Pin<KBox<Mutex<Inner<'a>>>>,
}

impl<'a> Regions<'a> {
    /// No regions yet, over `pool`. Freed regions are purged once a
    /// quarter of the pool's pages wait (the kernel waits for 32 MiB per
    /// CPU-count bit, more than a small pool holds).
    pub(crate) fn new(pool: &'a Pool) -> Result<Self> {
        let inner = Inner {
            next_id: 1,
            tree: RegionTree::new(KVec::new()),
            slots: KVec::new(),
            lazy: KVec::new(),
            stats: RegionStats::default(),
        };
        Ok(Self {
            pool,
            lazy_max: (pool.managed() / 4).max(1),
            inner: KBox::pin_init(new_mutex!(inner, "Regions::inner"), GFP_KERNEL)?,
        })
    }

    /// Takes `nr` pages, largest blocks first, split to single pages unless
    /// `huge`.
    fn alloc_pages(&self, nr: usize, flags: RegionFlags) -> Result<KVec<RegionPage<'a>>> {
        let mut blocks = KVec::new();
        let mut left = nr;
        let gfp = if flags.zero { Flags::KERNEL.zeroed() } else { Flags::KERNEL };
        // The merger works page by page: mergeable regions are never huge.
        let huge = flags.huge && !flags.mergeable;
        while left > 0 {
            let mut order = next_order(left, max_order(huge));
            let block = loop {
                match self.pool.alloc_pages(order, gfp) {
                    Ok(b) => break b,
                    Err(e) => order = order.prev().ok_or(e)?,
                }
            };
            left -= order.nr_pages();
            // Mid-way: the blocks taken so far must go back.
            crate::fault::inject(crate::fault::Site::Region, block.size())?;
            if huge && order.get() >= 9 {
                blocks.push(RegionPage::Own(block), GFP_KERNEL)?;
            } else {
                for page in block.split()?.drain_all() {
                    blocks.push(RegionPage::Own(page), GFP_KERNEL)?;
                }
            }
        }
        Ok(blocks)
    }

    /// `vmalloc()`: a region of `size` bytes (rounded up to pages). Sleeps.
    #[track_caller]
    pub(crate) fn alloc(&self, size: usize, flags: RegionFlags) -> Result<NonNull<u8>> {
        self.alloc_at(size, flags, Location::caller()).map(|(_, addr)| addr)
    }

    /// [`Regions::alloc`], returning the region's identity too (a
    /// mergeable region's address may change before the caller looks).
    #[track_caller]
    pub(crate) fn alloc_id(&self, size: usize, flags: RegionFlags) -> Result<u64> {
        self.alloc_at(size, flags, Location::caller()).map(|(id, _)| id)
    }

    fn alloc_at(&self, size: usize, flags: RegionFlags, caller: &'static Location<'static>) -> Result<(u64, NonNull<u8>)> {
        let nr = nr_pages(size).filter(|&n| n <= self.pool.managed()).ok_or(EINVAL)?;
        if crate::fault::should_fail(crate::fault::Site::Region, size) {
            return Err(ENOMEM);
        }
        let blocks = match self.alloc_pages(nr, flags) {
            Ok(b) => b,
            Err(_) => {
                // Like alloc_vmap_area(): purge what waits, then retry once.
                self.purge();
                self.alloc_pages(nr, flags)?
            }
        };
        crate::fault::inject(crate::fault::Site::Region, nr * size_of::<usize>())?;
        let mut pages = KVec::with_capacity(nr, GFP_KERNEL)?;
        for b in blocks.iter() {
            let RegionPage::Own(b) = b else { continue };
            for p in 0..b.order().nr_pages() {
                // SAFETY: A frame of a block we own.
                let page = unsafe { zonemm_pfn_to_page((b.pfn().0 + p) as c_ulong) };
                pages.push(page, GFP_KERNEL)?;
            }
        }
        crate::fault::inject(crate::fault::Site::Region, nr * PAGE_SIZE)?;
        let addr = map(&mut pages, flags.no_guard)?;
        // INVARIANT: `addr` maps `pages`, owned by `blocks`.
        let region = Region { id: 0, addr, nr_pages: nr, flags, caller, blocks, pages, dirty: false };
        // A failure with the region mapped: the mapping must go too.
        crate::fault::inject(crate::fault::Site::Region, size_of::<Region<'_>>())?;
        let region = KBox::new(region, GFP_KERNEL)?;
        Ok((self.insert(region)?, addr))
    }

    fn insert(&self, mut region: KBox<Region<'a>>) -> Result<u64> {
        let start = region.addr.as_ptr() as usize;
        let end = start + region.area();
        crate::fault::inject(crate::fault::Site::Region, size_of::<Node>())?;
        let mut inner = self.inner.lock();
        if inner.tree.is_full() {
            let bigger = KVec::from_elem(Node::FREE, inner.tree.capacity() * 2 + 8, GFP_KERNEL)?;
            if let Ok(old) = inner.tree.grow(bigger) {
                drop(old);
            }
        }
        let slot = match inner.tree.insert(start, end) {
            Ok(slot) => slot as usize,
            Err(TreeError::Full | TreeError::Overlap) => return Err(EINVAL),
        };
        while inner.slots.len() <= slot {
            if let Err(e) = inner.slots.push(None, GFP_KERNEL) {
                // No slot for the tree node: take it out again. The region
                // is unmapped and freed as it drops.
                inner.tree.remove(start);
                return Err(e.into());
            }
        }
        let id = inner.next_id;
        region.id = id;
        inner.next_id += 1;
        inner.stats.allocations += 1;
        inner.stats.pages_mapped += region.nr_pages;
        inner.slots[slot] = Some(region);
        Ok(id)
    }

    /// `vfree()`: the region starting at `addr` goes on the lazy list; a
    /// purge follows once enough waits. `EINVAL` if no region starts there.
    pub(crate) fn free(&self, addr: NonNull<u8>) -> Result {
        let id = self.id_of(addr.as_ptr() as usize).ok_or(EINVAL)?;
        self.free_id(id)
    }

    /// [`Regions::free`] by identity, which a remap does not change.
    pub(crate) fn free_id(&self, id: u64) -> Result {
        let mut inner = self.inner.lock();
        let slot = inner.slot_of(id).ok_or(EINVAL)?;
        let start = inner.slots[slot].as_ref().map(|r| r.addr.as_ptr() as usize).ok_or(EINVAL)?;
        let (slot, _, _) = inner.tree.remove(start).ok_or(EINVAL)?;
        let region = inner.slots[slot as usize].take().ok_or(EINVAL)?;
        inner.stats.frees += 1;
        inner.stats.pages_mapped -= region.nr_pages;
        // No room on the lazy list: unmap and free it now. Like vfree(), a
        // free never fails once the region is found.
        let room = crate::fault::inject(crate::fault::Site::Region, size_of::<usize>())
            .and_then(|()| Ok(inner.lazy.reserve(1, GFP_KERNEL)?));
        if room.is_err() {
            drop(inner);
            drop(region);
            return Ok(());
        }
        let nr_pages = region.nr_pages;
        if let Err(unpushed) = inner.lazy.push_within_capacity(region) {
            // Cannot happen (room was reserved above); free it now.
            drop(inner);
            drop(unpushed);
            return Ok(());
        }
        inner.stats.lazily_pending += nr_pages;
        let purge = inner.stats.lazily_pending >= self.lazy_max;
        drop(inner);
        if purge {
            self.purge();
        }
        Ok(())
    }

    /// Rebuilds the mapping of the region at `addr` from its page array,
    /// after the array changed: a new mapping, then the old one goes.
    /// Returns the new address (the region's identity moves with it).
    /// Sleeps.
    pub(crate) fn remap(&self, addr: NonNull<u8>) -> Result<NonNull<u8>> {
        let mut inner = self.inner.lock();
        let start = addr.as_ptr() as usize;
        let (slot, s, _) = inner.tree.find(start).ok_or(EINVAL)?;
        if s != start {
            return Err(EINVAL);
        }
        inner.remap_slot(slot as usize)
    }

    /// Frees every live region (lazily).
    pub(crate) fn free_all(&self) {
        loop {
            let mut first = None;
            self.inner.lock().tree.for_each(|_, s, _| {
                first.get_or_insert(s);
            });
            let Some(start) = first.and_then(|s| NonNull::new(s as *mut u8)) else { break };
            if self.free(start).is_err() {
                break;
            }
        }
    }

    /// `purge_vmap_area_lazy()`: unmaps every freed region and gives its
    /// pages back.
    pub(crate) fn purge(&self) {
        let mut inner = self.inner.lock();
        let lazy = core::mem::take(&mut inner.lazy);
        inner.stats.lazily_pending = 0;
        inner.stats.purges += 1;
        drop(inner);
        // vunmap() sleeps: done with the lock released.
        drop(lazy);
    }

    /// Runs `f` on the region holding `addr`, with the offset of `addr`.
    fn with<R>(&self, addr: usize, f: impl FnOnce(&Region<'a>, usize) -> R) -> Option<R> {
        let inner = self.inner.lock();
        let (slot, start, _) = inner.tree.find(addr)?;
        let region = inner.slots.get(slot as usize)?.as_ref()?;
        let off = addr - start;
        (off < region.nr_pages * PAGE_SIZE).then(|| f(region, off))
    }

    /// `vmalloc_to_page()`: the frame mapped at `addr`, if in a region.
    pub(crate) fn to_pfn(&self, addr: usize) -> Option<Pfn> {
        self.with(addr, |r, off| r.pfn(off / PAGE_SIZE))
    }

    /// The region holding `addr`: its start and size in bytes (no guard).
    pub(crate) fn find(&self, addr: usize) -> Option<(usize, usize)> {
        self.with(addr, |r, _| (r.addr.as_ptr() as usize, r.nr_pages * PAGE_SIZE))
    }

    /// The counters.
    pub(crate) fn stats(&self) -> RegionStats {
        self.inner.lock().stats
    }

    /// `/proc/vmallocinfo`: one line per live region, by address.
    pub(crate) fn show_vmallocinfo(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = self.inner.lock();
        let mut result = Ok(());
        inner.tree.for_each(|slot, start, end| {
            let Some(Some(r)) = inner.slots.get(slot as usize) else { return };
            if result.is_ok() {
                result = show_line(f, r, start, end);
            }
        });
        result
    }
}

/// One `/proc/vmallocinfo` line (`vmalloc_info_show()`), with the node
/// counts of `show_numa_info()` and zonemm's flags at the end.
fn show_line(f: &mut fmt::Formatter<'_>, r: &Region<'_>, start: usize, end: usize) -> fmt::Result {
    write!(f, "0x{start:016x}-0x{end:016x} {:7}", end - start)?;
    write!(f, " {}:{}", r.caller.file(), r.caller.line())?;
    write!(f, " pages={} vmalloc", r.nr_pages)?;
    let mut per_node = [0usize; 8];
    for b in r.blocks.iter() {
        let block = match b {
            RegionPage::Own(b) => b,
            RegionPage::Shared(s) => &s.0.block,
        };
        let nid = block.zone().nid().min(per_node.len() - 1);
        per_node[nid] += block.order().nr_pages();
    }
    for (nid, n) in per_node.iter().enumerate().filter(|(_, &n)| n > 0) {
        write!(f, " N{nid}={n}")?;
    }
    for (on, name) in [
        (r.flags.zero, "zero"),
        (r.flags.mergeable, "mergeable"),
        (r.flags.huge, "huge"),
        (r.flags.no_guard, "no_guard"),
    ] {
        if on {
            write!(f, " {name}")?;
        }
    }
    writeln!(f)
}

impl Drop for Regions<'_> {
    fn drop(&mut self) {
        self.free_all();
        self.purge();
    }
}

#[kunit_tests(zonemm_region)]
mod tests {
    use super::*;
    use crate::{
        helpers::zonemm_run_on_each_cpu,
        pfn::Order,
        source::{
            Params,
            Source, //
        },
    };

    fn pool() -> Result<Pool> {
        let pool = Pool::new(Source::new(Params::new(8, 8)?)?, 0)?;
        pool.set_min_free_kbytes(0)?;
        Ok(pool)
    }

    fn mapped_pfn(addr: usize) -> Option<Pfn> {
        // SAFETY: Any address may be looked up.
        let pfn = unsafe { zonemm_vmalloc_to_pfn(addr as *const c_void) };
        (pfn != c_ulong::MAX).then_some(Pfn(pfn as usize))
    }

    #[test]
    fn every_byte_reads_back_across_page_boundaries() -> Result {
        let pool = pool()?;
        let regions = Regions::new(&pool)?;
        let size = 3 * PAGE_SIZE + 1;
        let addr = regions.alloc(size, RegionFlags { zero: true, ..RegionFlags::default() })?;
        // SAFETY: The region is ours: `size` bytes, rounded up to 4 pages.
        let bytes = unsafe { core::slice::from_raw_parts_mut(addr.as_ptr(), 4 * PAGE_SIZE) };
        assert!(bytes.iter().all(|&b| b == 0));
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = (i % 251) as u8;
        }
        let mut buf = [0u8; 64];
        let a = addr.as_ptr() as usize;
        // Through the region calls, straddling the first page boundary.
        regions.read(a, PAGE_SIZE - 32, &mut buf)?;
        assert!(buf.iter().enumerate().all(|(i, &b)| b == ((PAGE_SIZE - 32 + i) % 251) as u8));
        regions.write(a, 2 * PAGE_SIZE - 10, &[0xee; 20])?;
        assert!(bytes[2 * PAGE_SIZE - 10..2 * PAGE_SIZE + 10].iter().all(|&b| b == 0xee));
        assert_eq!(regions.read(a, 4 * PAGE_SIZE - 8, &mut buf), Err(EINVAL));
        regions.free(addr)?;
        Ok(())
    }

    #[test]
    fn scattered_pages_are_mapped_right() -> Result {
        let pool = pool()?;
        // Fragment the pool: take every block there is, largest first (so
        // that no large block is left for the region to take whole, however
        // the per-CPU lists batch), split them all, and give back every
        // other page: no two free pages are buddies.
        let mut singles = KVec::new();
        let mut order = Some(Order::MAX);
        while let Some(o) = order {
            while let Ok(block) = pool.alloc_pages(o, Flags::ATOMIC) {
                for page in block.split()?.drain_all() {
                    singles.push(page, GFP_KERNEL)?;
                }
            }
            order = o.prev();
        }
        let mut keep = KVec::new();
        for (i, p) in singles.drain_all().enumerate() {
            if i % 2 == 0 {
                keep.push(p, GFP_KERNEL)?;
            }
        }
        pool.drain();
        let regions = Regions::new(&pool)?;
        let addr = regions.alloc(16 * PAGE_SIZE, RegionFlags::default())?.as_ptr() as usize;
        let mut scattered = false;
        for i in 0..16 {
            let pfn = regions.to_pfn(addr + i * PAGE_SIZE).ok_or(EINVAL)?;
            assert_eq!(mapped_pfn(addr + i * PAGE_SIZE), Some(pfn));
            if i > 0 && regions.to_pfn(addr + (i - 1) * PAGE_SIZE) != Some(Pfn(pfn.0 - 1)) {
                scattered = true;
            }
        }
        assert!(scattered);
        drop(regions);
        drop(keep);
        Ok(())
    }

    #[test]
    fn guard_gaps_follow_regions_unless_asked_not_to() -> Result {
        let pool = pool()?;
        let regions = Regions::new(&pool)?;
        let a = regions.alloc(2 * PAGE_SIZE, RegionFlags::default())?.as_ptr() as usize;
        let b = regions.alloc(2 * PAGE_SIZE, RegionFlags { no_guard: true, ..RegionFlags::default() })?;
        assert!(mapped_pfn(a + PAGE_SIZE).is_some());
        // The guard page is in the record but never mapped.
        assert_eq!(mapped_pfn(a + 2 * PAGE_SIZE), None);
        assert_eq!(regions.find(a + 2 * PAGE_SIZE), None);
        let mut lines = 0;
        regions.inner.lock().tree.for_each(|_, s, e| {
            lines += 1;
            let want = if s == a { 3 } else { 2 };
            assert_eq!(e - s, want * PAGE_SIZE);
        });
        assert_eq!(lines, 2);
        regions.free(b)?;
        Ok(())
    }

    #[test]
    fn huge_regions_take_2mib_blocks() -> Result {
        let pool = pool()?;
        let regions = Regions::new(&pool)?;
        let addr = regions.alloc(1024 * PAGE_SIZE, RegionFlags { huge: true, ..RegionFlags::default() })?;
        let a = addr.as_ptr() as usize;
        for run in 0..2 {
            let first = regions.to_pfn(a + run * 512 * PAGE_SIZE).ok_or(EINVAL)?;
            assert!(first.is_aligned(Order::new(9).ok_or(EINVAL)?));
            for i in 1..512 {
                assert_eq!(regions.to_pfn(a + (run * 512 + i) * PAGE_SIZE), Some(Pfn(first.0 + i)));
            }
        }
        regions.free(addr)?;
        Ok(())
    }

    #[test]
    fn lazy_frees_wait_for_the_purge() -> Result {
        let pool = pool()?;
        let before = pool.nr_free_pages();
        let regions = Regions::new(&pool)?;
        let mut addrs = KVec::new();
        for i in 1..=8 {
            addrs.push(regions.alloc(i * PAGE_SIZE, RegionFlags::default())?, GFP_KERNEL)?;
        }
        for a in addrs.drain_all() {
            regions.free(a)?;
        }
        assert_eq!(regions.free(NonNull::dangling()), Err(EINVAL));
        let s = regions.stats();
        assert_eq!((s.frees, s.lazily_pending, s.pages_mapped), (8, 36, 0));
        assert!(pool.nr_free_pages() < before);
        regions.purge();
        assert_eq!(regions.stats().lazily_pending, 0);
        assert_eq!(pool.nr_free_pages(), before);
        Ok(())
    }

    #[test]
    fn a_remapped_region_keeps_its_contents() -> Result {
        let pool = pool()?;
        let regions = Regions::new(&pool)?;
        for no_guard in [false, true] {
            let flags = RegionFlags { no_guard, ..RegionFlags::default() };
            let old = regions.alloc(3 * PAGE_SIZE, flags)?;
            regions.fill(old.as_ptr() as usize, 0x3c)?;
            let pfns: KVec<_> = {
                let mut v = KVec::new();
                for i in 0..3 {
                    v.push(regions.to_pfn(old.as_ptr() as usize + i * PAGE_SIZE), GFP_KERNEL)?;
                }
                v
            };
            let new = regions.remap(old)?;
            let n = new.as_ptr() as usize;
            assert_eq!(regions.check(n, 0x3c)?, None);
            for i in 0..3 {
                assert_eq!(mapped_pfn(n + i * PAGE_SIZE), pfns[i]);
            }
            // SAFETY: The new mapping is ours, three pages long.
            assert_eq!(unsafe { new.as_ptr().add(PAGE_SIZE + 5).read() }, 0x3c);
            regions.free(new)?;
        }
        Ok(())
    }

    unsafe extern "C" fn stress(arg: *mut c_void, cpu: c_uint) -> c_int {
        // SAFETY: `arg` is the test's `&Regions`, alive until every CPU
        // returns.
        let regions = unsafe { &*arg.cast::<Regions<'_>>() };
        for i in 0..200usize {
            let pages = 1 + (i * 7 + cpu as usize) % 13;
            // Freed at once, 13 pages at most: any failure is a bug.
            let Ok(addr) = regions.alloc(pages * PAGE_SIZE, RegionFlags::default()) else {
                return ENOMEM.to_errno();
            };
            let a = addr.as_ptr() as usize;
            let tag = (i as u8) ^ (cpu as u8 * 0x80);
            if regions.fill(a, tag).is_err() || regions.check(a, tag) != Ok(None) {
                return EINVAL.to_errno();
            }
            if regions.free(addr).is_err() {
                return EINVAL.to_errno();
            }
        }
        0
    }

    #[test]
    fn every_cpu_fills_checks_and_frees_at_once() -> Result {
        let pool = pool()?;
        let before = pool.nr_free_pages();
        let regions = Regions::new(&pool)?;
        let arg = (&regions as *const Regions<'_>).cast_mut().cast();
        // SAFETY: `stress` only uses `regions` through `arg`, which lives
        // until the call returns; the call waits for every CPU.
        assert_eq!(unsafe { zonemm_run_on_each_cpu(stress, arg) }, 0);
        regions.purge();
        pool.drain();
        assert_eq!(pool.nr_free_pages(), before);
        Ok(())
    }
}
