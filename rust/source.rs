// SPDX-License-Identifier: GPL-2.0

//! The source layer: where zonemm's pages come from.
//!
//! Every CMA area a module can reach (`dma_contiguous_get_area_by_idx()`,
//! as `kernel/dma/contiguous.c` lists them) gives `pool_mb` MiB through
//! `cma_alloc()`, the way `dma_alloc_contiguous()` takes its pages. Each
//! node with memory (`N_MEMORY`, not movable memory alone) that got no CMA
//! chunk gives `node_mb` MiB more from the page allocator, in
//! `MAX_PAGE_ORDER` blocks taken with `__GFP_THISNODE`, so that the pool
//! spans nodes and zones. Each such run of pages is a
//! [`Chunk`]; every chunk gives its pages back when dropped. With
//! `max_pool_mb` the pool may take more `MAX_PAGE_ORDER` blocks from the
//! same places while it runs, and give them back ([`grow`]).

use core::ptr::NonNull;

mod blockmap;
mod grow;

pub(crate) use blockmap::BlockMap;
pub(crate) use grow::Grown;

use kernel::{
    bindings,
    fmt,
    prelude::*,
    str::CStrExt, //
};

use crate::{
    once::OnceWord,
    helpers::*,
    pfn::{
        mib_to_pages,
        Order,
        Pfn,
        PfnRange,
        MAX_ORDER_NR_PAGES,
        PAGES_PER_MIB,
        PAGE_SHIFT, //
    },
    zone::{
        node_source,
        NodeSource,
        ZoneType, //
    },
};

/// Where a chunk's pages came from, and so where they go back to.
#[derive(Clone, Copy)]
pub(crate) enum Origin {
    /// `cma_alloc()` from this area.
    Cma(NonNull<Cma>),
    /// `alloc_pages_node()`, one block of this order.
    Pages(Order),
}

impl Origin {
    /// Gives `nr_pages` pages from `page` on back where they came from.
    ///
    /// # Safety
    ///
    /// The pages must have been allocated from `self` in one call, and the
    /// caller must own them and never touch them again.
    unsafe fn release(self, page: NonNull<bindings::page>, nr_pages: usize) {
        match self {
            Self::Cma(cma) => {
                // CAST: the count was a `c_ulong` when it was allocated.
                let count = nr_pages as c_ulong;
                // SAFETY: By the caller's guarantee the pages are from `cma`.
                if !unsafe { zonemm_cma_release(cma.as_ptr(), page.as_ptr(), count) } {
                    pr_err!("cma_release refused {nr_pages} pages\n");
                }
            }
            // SAFETY: By the caller's guarantee this is a block of `order`
            // from the page allocator.
            Self::Pages(order) => unsafe { zonemm_kernel_free_pages(page.as_ptr(), order.get()) },
        }
    }
}

/// A physically contiguous run of pages owned by zonemm, inside one zone of
/// one node.
///
/// # Invariants
///
/// `page` is the first of `range.nr_pages` pages with frame numbers
/// `range`, allocated from `origin` and owned by this chunk until it is
/// dropped. The range lies inside the single address zone `zone`.
pub(crate) struct Chunk {
    origin: Origin,
    page: NonNull<bindings::page>,
    range: PfnRange,
    nid: i32,
    zone: ZoneType,
}

// SAFETY: A chunk owns its pages outright; the CMA area it points to is a
// kernel-lifetime object whose allocator does its own locking.
unsafe impl Send for Chunk {}

// SAFETY: Shared references only read the chunk's plain fields.
unsafe impl Sync for Chunk {}

impl Chunk {
    /// Takes `nr_pages` pages, aligned to a `MAX_PAGE_ORDER` block, from
    /// `cma`. Returns `None` if the area cannot give that much.
    ///
    /// Must not be called from atomic context: `cma_alloc()` may migrate.
    fn from_cma(cma: NonNull<Cma>, nr_pages: usize) -> Option<Result<Self>> {
        let count = c_ulong::try_from(nr_pages).ok()?;
        // SAFETY: `cma` came from `zonemm_cma_area()`; CMA areas live as
        // long as the kernel.
        let page = unsafe { zonemm_cma_alloc(cma.as_ptr(), count, Order::MAX.get()) };
        let page = NonNull::new(page)?;
        // SAFETY: `page` is the first of `nr_pages` pages we now own.
        Some(unsafe { Self::from_pages(Origin::Cma(cma), page, nr_pages) })
    }

    /// Takes one `MAX_PAGE_ORDER` block from node `nid`, or `None` if the
    /// node has none free.
    ///
    /// Must not be called from atomic context.
    fn from_node(nid: i32) -> Option<Result<Self>> {
        // SAFETY: Any node id is accepted; `__GFP_THISNODE` keeps the
        // allocation on it or fails.
        let page = unsafe { zonemm_alloc_pages_node(nid, Order::MAX.get()) };
        let page = NonNull::new(page)?;
        // SAFETY: `page` is the first of a block of `MAX_PAGE_ORDER`.
        Some(unsafe { Self::from_pages(Origin::Pages(Order::MAX), page, MAX_ORDER_NR_PAGES) })
    }

    /// Wraps pages just allocated from `origin`.
    ///
    /// # Safety
    ///
    /// `page` must be the first of `nr_pages` physically contiguous pages
    /// allocated from `origin`, whose ownership passes to the chunk.
    unsafe fn from_pages(origin: Origin, page: NonNull<bindings::page>, nr_pages: usize)
        -> Result<Self>
    {
        // SAFETY: `page` is a valid page by the caller's guarantee.
        let (pfn, nid) = unsafe {
            (zonemm_page_to_pfn(page.as_ptr()), zonemm_page_to_nid(page.as_ptr()))
        };
        let range = PfnRange::new(Pfn(pfn as usize), nr_pages);
        let zone = range.as_ref().and_then(ZoneType::for_range);
        let (Some(range), Some(zone)) = (range, zone) else {
            // CMA areas and aligned blocks never straddle a zone; should
            // one ever, it goes straight back.
            pr_err!("chunk at pfn {:#x} straddles a zone boundary\n", pfn);
            // SAFETY: The caller passed us ownership of these pages.
            unsafe { origin.release(page, nr_pages) };
            return Err(EINVAL);
        };
        // INVARIANT: the caller passed us ownership of the pages in
        // `range`, which lies in the one zone `zone`.
        Ok(Self { origin, page, range, nid, zone })
    }

    /// The chunk's frames.
    pub(crate) fn range(&self) -> PfnRange {
        self.range
    }

    /// The node the chunk's pages are on.
    pub(crate) fn nid(&self) -> i32 {
        self.nid
    }

    /// The address zone the chunk lies in.
    pub(crate) fn zone(&self) -> ZoneType {
        self.zone
    }

    /// Whether the pages came from a CMA area.
    pub(crate) fn is_cma(&self) -> bool {
        matches!(self.origin, Origin::Cma(_))
    }

    /// The `struct page` of the chunk's frame `pfn`, if it is one.
    pub(crate) fn page(&self, pfn: Pfn) -> Option<NonNull<bindings::page>> {
        if !self.range.contains(pfn) {
            return None;
        }
        // SAFETY: `pfn` is one of the chunk's own frames, so it has a
        // `struct page`.
        NonNull::new(unsafe { zonemm_pfn_to_page(pfn.0 as c_ulong) })
    }

    /// The name of the origin: the CMA area's, or `alloc_pages`.
    fn origin_name(&self) -> &str {
        match self.origin {
            // SAFETY: `cma_get_name()` returns the area's NUL-terminated
            // name, which lives as long as the area.
            Origin::Cma(cma) => unsafe { CStr::from_char_ptr(zonemm_cma_name(cma.as_ptr())) }
                .to_str()
                .unwrap_or("?"),
            Origin::Pages(_) => "alloc_pages",
        }
    }
}

impl Drop for Chunk {
    fn drop(&mut self) {
        // SAFETY: By the type invariant the pages came from `origin` and
        // are ours to give back.
        unsafe { self.origin.release(self.page, self.range.nr_pages) };
    }
}

/// The source layer's parameters, checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Params {
    /// Pages to take from every CMA area.
    pool_pages: usize,
    /// `MAX_PAGE_ORDER` blocks to take on each node without a CMA chunk.
    node_blocks: usize,
    /// The most pages the pool may grow to (0: it never grows).
    max_pool_pages: usize,
}

impl Params {
    /// Checks the module parameters `pool_mb` and `node_mb`; on bad values
    /// logs one line saying why and returns `EINVAL`.
    pub(crate) fn new(pool_mb: u64, node_mb: u64) -> Result<Self> {
        let block_mb = MAX_ORDER_NR_PAGES / PAGES_PER_MIB;
        let pages = |mib: u64| usize::try_from(mib).ok().and_then(mib_to_pages);
        let Some(pool_pages) = pages(pool_mb).filter(|&n| n > 0) else {
            pr_err!("pool_mb={pool_mb}: must be between 1 and the size of a CMA area\n");
            return Err(EINVAL);
        };
        let node_blocks = match pages(node_mb) {
            Some(n) if n > 0 && n % MAX_ORDER_NR_PAGES == 0 => n / MAX_ORDER_NR_PAGES,
            _ => {
                pr_err!("node_mb={node_mb}: must be a positive multiple of {block_mb} (one MAX_PAGE_ORDER block)\n");
                return Err(EINVAL);
            }
        };
        Ok(Self { pool_pages, node_blocks, max_pool_pages: 0 })
    }

    /// With `max_pool_mb` (checked against the pool's starting size by
    /// [`Source::new`]); on a value no pool could have logs one line and
    /// returns `EINVAL`.
    pub(crate) fn max_pool_mb(self, max_pool_mb: u64) -> Result<Self> {
        let Some(max_pool_pages) = usize::try_from(max_pool_mb).ok().and_then(mib_to_pages) else {
            pr_err!("max_pool_mb={max_pool_mb}: too large\n");
            return Err(EINVAL);
        };
        Ok(Self { max_pool_pages, ..self })
    }
}

/// How a `MAX_ORDER_NR_PAGES` slot of frames relates to the chunks.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Slot {
    /// No chunk page in it.
    None,
    /// Wholly inside one chunk.
    Whole,
    /// Partly: ask the chunks.
    Partial,
}

/// All the chunks zonemm took, in the order it took them, and a map of
/// which `MAX_ORDER_NR_PAGES` slots of frames they cover, so that "is this
/// frame one of ours" is O(1) (`pfn_valid()`-style, over a sparse map).
///
/// Each of our frames also has an *owner word* for the layers above, as
/// `page->private` is the owner's in the kernel: the slab layer keeps its
/// slab's address there. Owner words start at zero.
pub(crate) struct Source {
    chunks: KVec<Chunk>,
    /// The blocks taken since (`max_pool_mb`), with their own lock-free map.
    grown: Grown,
    slot_base: usize,
    slots: KVec<Slot>,
    /// For each slot, the index of its run of owner words, or `u32::MAX`.
    dense: KVec<u32>,
    owners: KVec<OnceWord>,
    page_offset: usize,
}

/// The frames node `nid` spans, `[start, end)`: where growth on it can
/// come from.
pub(crate) fn node_span(nid: i32) -> (usize, usize) {
    let (mut start, mut end): (c_ulong, c_ulong) = (0, 0);
    // SAFETY: Callers pass the node of a chunk, which has memory (a
    // `pg_data_t`); the pointers are to locals.
    unsafe { zonemm_node_span(nid, &mut start, &mut end) };
    (start as usize, end as usize)
}

/// A fault injected at the `source` site (`fail_source=` at load) before
/// taking chunk `n` of `pages` pages (0 pages: the metadata after the
/// last), with its one log line.
fn injected_fault(n: usize, pages: usize) -> Result {
    crate::fault::inject(crate::fault::Site::Source, pages << crate::pfn::PAGE_SHIFT).inspect_err(|_| {
        pr_err!("fault injected at the source site, after {n} chunks: everything taken goes back\n");
    })
}

impl Source {
    /// Takes the pages `params` asks for. On any failure everything taken
    /// so far goes back, and the error says why in one log line.
    ///
    /// Must not be called from atomic context.
    pub(crate) fn new(params: Params) -> Result<Self> {
        let mut chunks = KVec::new();
        let mut idx = 0;
        loop {
            // SAFETY: Any index is accepted; past the last area it is null.
            let Some(cma) = NonNull::new(unsafe { zonemm_cma_area(idx) }) else {
                break;
            };
            chunks.reserve(1, GFP_KERNEL)?;
            injected_fault(chunks.len(), params.pool_pages)?;
            let Some(chunk) = Chunk::from_cma(cma, params.pool_pages) else {
                // SAFETY: `cma` is a live area; its name lives as long.
                let name = unsafe { CStr::from_char_ptr(zonemm_cma_name(cma.as_ptr())) };
                pr_err!(
                    "pool_mb={}: CMA area {} cannot give that much (it is smaller, or in use)\n",
                    params.pool_pages / PAGES_PER_MIB,
                    name.to_str().unwrap_or("?"),
                );
                return Err(EINVAL);
            };
            chunks.push(chunk?, GFP_KERNEL)?;
            idx += 1;
        }
        if chunks.is_empty() {
            pr_info!("no CMA area reachable (boot with cma=SIZE): running on page-allocator chunks alone\n");
        }

        // SAFETY: Reads a boot-time constant.
        let nr_node_ids = unsafe { zonemm_nr_node_ids() } as i32;
        for nid in 0..nr_node_ids {
            // SAFETY: Any node id is accepted.
            let (memory, normal) = unsafe { (zonemm_node_has_memory(nid), zonemm_node_has_normal_memory(nid)) };
            let cma = chunks.iter().any(|c: &Chunk| c.is_cma() && c.nid == nid);
            match node_source(memory, normal, cma) {
                NodeSource::Cma | NodeSource::Memoryless => continue,
                NodeSource::MovableOnly => {
                    pr_info!("node {nid} has only movable memory: no pages taken there\n");
                    continue;
                }
                NodeSource::Pages => {}
            }
            // SAFETY: `nid` has memory, so it has a `pg_data_t`.
            let present = unsafe { zonemm_node_present_pages(nid) } as usize;
            if params.node_blocks * MAX_ORDER_NR_PAGES > present {
                pr_err!(
                    "node_mb={}: node {} has only {} MiB\n",
                    params.node_blocks * MAX_ORDER_NR_PAGES / PAGES_PER_MIB,
                    nid,
                    present / PAGES_PER_MIB,
                );
                return Err(EINVAL);
            }
            for _ in 0..params.node_blocks {
                injected_fault(chunks.len(), MAX_ORDER_NR_PAGES)?;
                let Some(chunk) = Chunk::from_node(nid) else {
                    pr_err!(
                        "node_mb={}: node {} cannot give that much\n",
                        params.node_blocks * MAX_ORDER_NR_PAGES / PAGES_PER_MIB,
                        nid,
                    );
                    return Err(EINVAL);
                };
                chunks.push(chunk?, GFP_KERNEL)?;
            }
        }
        injected_fault(chunks.len(), 0)?;
        let slots = Self::grow_slots(&chunks, params.max_pool_pages)?;
        // Growth comes from the nodes' own frames: the slot map spans them.
        let (mut start, mut end) = (usize::MAX, 0);
        for c in chunks.iter() {
            let (s, e) = node_span(c.nid);
            start = start.min(s);
            end = end.max(e);
        }
        let grown = Grown::new(slots, start.min(end), end)?;
        let (slot_base, slots) = Self::slot_map(&chunks)?;
        let mut dense = KVec::with_capacity(slots.len(), GFP_KERNEL)?;
        let mut next = 0u32;
        for s in slots.iter() {
            let d = if *s == Slot::None { u32::MAX } else { next };
            next += u32::from(*s != Slot::None);
            dense.push(d, GFP_KERNEL)?;
        }
        let mut owners = KVec::with_capacity(next as usize * MAX_ORDER_NR_PAGES, GFP_KERNEL)?;
        for _ in 0..next as usize * MAX_ORDER_NR_PAGES {
            owners.push(OnceWord::new(0), GFP_KERNEL)?;
        }
        // SAFETY: No preconditions.
        let page_offset = unsafe { zonemm_page_offset() } as usize;
        Ok(Self { chunks, grown, slot_base, slots, dense, owners, page_offset })
    }

    /// How many `MAX_PAGE_ORDER` blocks the pool may grow by: up to
    /// `max_pool_pages` in all (0: none). Refuses (`EINVAL`, one log line)
    /// a limit below the starting size plus one block, or above the
    /// machine's memory.
    fn grow_slots(chunks: &[Chunk], max_pool_pages: usize) -> Result<usize> {
        if max_pool_pages == 0 {
            return Ok(0);
        }
        let start: usize = chunks.iter().map(|c| c.range.nr_pages).sum();
        // SAFETY: Reads a boot-time constant.
        let nr_node_ids = unsafe { zonemm_nr_node_ids() } as i32;
        // SAFETY: Any node id is accepted; a node without memory has 0.
        let ram: usize = (0..nr_node_ids)
            .filter(|&nid| unsafe { zonemm_node_has_memory(nid) })
            // SAFETY: As above: the node has memory, so a `pg_data_t`.
            .map(|nid| unsafe { zonemm_node_present_pages(nid) } as usize)
            .sum();
        let (max_mb, start_mb) = (max_pool_pages / PAGES_PER_MIB, start.div_ceil(PAGES_PER_MIB));
        if max_pool_pages < start + MAX_ORDER_NR_PAGES {
            let least = (start + MAX_ORDER_NR_PAGES).div_ceil(PAGES_PER_MIB);
            pr_err!("max_pool_mb={max_mb}: must be 0 (no growth) or at least {least} (the pool's {start_mb} MiB and one {} MiB block)\n",
                MAX_ORDER_NR_PAGES / PAGES_PER_MIB);
            return Err(EINVAL);
        }
        if max_pool_pages > ram {
            pr_err!("max_pool_mb={max_mb}: more than the machine's {} MiB\n", ram / PAGES_PER_MIB);
            return Err(EINVAL);
        }
        Ok((max_pool_pages - start) / MAX_ORDER_NR_PAGES)
    }

    /// Grown blocks a zone of type `ztype` on node `nid` needs room for:
    /// all the slots if growth on that node lands in `ztype` (the zone of
    /// the chunk [`Source::grow`] takes after), at most what the node
    /// holds, and none elsewhere (a block that lands elsewhere is given
    /// back).
    pub(crate) fn grow_room(&self, nid: usize, ztype: ZoneType) -> usize {
        let Some(like) = self.like(nid as i32) else { return 0 };
        if like.zone != ztype {
            return 0;
        }
        // SAFETY: The node has a chunk, so it has memory.
        let present = unsafe { zonemm_node_present_pages(nid as i32) } as usize;
        self.grown.capacity().min(present / MAX_ORDER_NR_PAGES)
    }

    /// The chunk growth on node `nid` takes after: its CMA chunk if it has
    /// one (growth comes from the same area), else its page-allocator
    /// chunk in the highest zone (where `alloc_pages_node()` looks first).
    fn like(&self, nid: i32) -> Option<&Chunk> {
        self.chunks.iter().filter(|c| c.nid == nid).max_by_key(|c| (c.is_cma(), c.zone))
    }

    /// The grown blocks.
    pub(crate) fn grown(&self) -> &Grown {
        &self.grown
    }

    /// Takes one more `MAX_PAGE_ORDER` block for node `nid` from where its
    /// fixed chunks came from (its CMA area first), and publishes it.
    /// Returns its first frame and address zone, or `None` if the source
    /// has none to give, or no slot is free. Must not be called from
    /// atomic context.
    pub(crate) fn grow(&self, nid: i32) -> Option<(Pfn, ZoneType)> {
        let like = self.like(nid)?;
        let chunk = Chunk::grow_like(like)?.ok()?;
        let (pfn, zone) = (chunk.range.start, chunk.zone);
        // A chunk that finds no free slot goes straight back.
        self.grown.add(chunk).ok()?;
        Some((pfn, zone))
    }

    /// Gives the grown block at `pfn` back to where it came from. The
    /// caller took it out of its zone wholly free. Sleeps.
    pub(crate) fn shrink(&self, pfn: Pfn) -> bool {
        self.grown.remove(pfn).is_some()
    }

    /// [`Source::shrink`] without waiting for a lock: `false` if it was
    /// busy, and then the block is still the caller's. For reclaim.
    pub(crate) fn try_shrink(&self, pfn: Pfn) -> Option<bool> {
        self.grown.try_remove(pfn).map(|c| c.is_some())
    }

    /// The slot map over `chunks`: first slot number, and one entry per
    /// slot from there to the last chunk's end.
    fn slot_map(chunks: &[Chunk]) -> Result<(usize, KVec<Slot>)> {
        let first = chunks.iter().map(|c| c.range.start.0 / MAX_ORDER_NR_PAGES).min().unwrap_or(0);
        let end = chunks.iter().map(|c| c.range.end().0.div_ceil(MAX_ORDER_NR_PAGES)).max().unwrap_or(0);
        let mut slots = KVec::from_elem(Slot::None, end.saturating_sub(first), GFP_KERNEL)?;
        for c in chunks {
            let (start, stop) = (c.range.start.0, c.range.end().0);
            for slot in start / MAX_ORDER_NR_PAGES..stop.div_ceil(MAX_ORDER_NR_PAGES) {
                let whole = start <= slot * MAX_ORDER_NR_PAGES && (slot + 1) * MAX_ORDER_NR_PAGES <= stop;
                let e = &mut slots[slot - first];
                *e = if whole && *e == Slot::None { Slot::Whole } else { Slot::Partial };
            }
        }
        Ok((first, slots))
    }

    /// The chunks, in the order they were taken.
    pub(crate) fn chunks(&self) -> &[Chunk] {
        &self.chunks
    }

    /// The `struct page` of frame `pfn`, if it is one of the chunks'.
    pub(crate) fn page_of(&self, pfn: Pfn) -> Option<NonNull<bindings::page>> {
        let slot = (pfn.0 / MAX_ORDER_NR_PAGES).checked_sub(self.slot_base);
        match slot.and_then(|s| self.slots.get(s)).unwrap_or(&Slot::None) {
            // SAFETY: A published grown frame has a `struct page`.
            Slot::None => self.grown.slot_of(pfn).and_then(|_| NonNull::new(unsafe { zonemm_pfn_to_page(pfn.0 as c_ulong) })),
            // SAFETY: The frame lies in one of our chunks, so it has a
            // `struct page`.
            Slot::Whole => NonNull::new(unsafe { zonemm_pfn_to_page(pfn.0 as c_ulong) }),
            Slot::Partial => self.chunks.iter().find_map(|c| c.page(pfn)),
        }
    }

    /// Whether frame `pfn` is one of the chunks'.
    #[inline]
    pub(crate) fn contains(&self, pfn: Pfn) -> bool {
        let slot = (pfn.0 / MAX_ORDER_NR_PAGES).checked_sub(self.slot_base);
        match slot.and_then(|s| self.slots.get(s)) {
            Some(Slot::Whole) => true,
            Some(Slot::Partial) => self.chunks.iter().any(|c| c.range.contains(pfn)),
            _ => self.grown.slot_of(pfn).is_some(),
        }
    }

    /// The frame of a direct-map address, if it is one of ours
    /// (`virt_to_pfn()` plus the check). Any address may be asked about.
    #[inline]
    pub(crate) fn pfn_of(&self, addr: *const u8) -> Option<Pfn> {
        let pfn = Pfn((addr as usize).checked_sub(self.page_offset)? >> PAGE_SHIFT);
        self.contains(pfn).then_some(pfn)
    }

    /// Bytes of bookkeeping: the owner words, and the slot maps with the
    /// chunk list.
    pub(crate) fn metadata_bytes(&self) -> (usize, usize) {
        let (grown_owners, grown_maps) = self.grown.metadata_bytes();
        let owners = self.owners.capacity() * core::mem::size_of::<OnceWord>() + grown_owners;
        let maps = grown_maps + self.slots.capacity() * core::mem::size_of::<Slot>()
            + self.dense.capacity() * core::mem::size_of::<u32>()
            + self.chunks.capacity() * core::mem::size_of::<Chunk>();
        (owners, maps)
    }

    /// The owner word of the frame at direct-map address `addr`, if it lies
    /// in a slot the chunks touch, with no chunk search: the frames of a
    /// partly used slot that are not ours have words too, which nothing
    /// ever writes, so they read zero ("no owner"), as a foreign pointer's
    /// must. For the free paths.
    #[inline]
    pub(crate) fn owner_of_addr(&self, addr: *const u8) -> Option<&OnceWord> {
        // Wrapping: an address below the direct map or a frame below the
        // first slot wraps to a huge slot number, which the one bounds
        // check below refuses as it refuses one past the last.
        let pfn = (addr as usize).wrapping_sub(self.page_offset) >> PAGE_SHIFT;
        let slot = (pfn / MAX_ORDER_NR_PAGES).wrapping_sub(self.slot_base);
        // `u32::MAX` (no run) gives an index past the end: `None`, and
        // then the grown blocks are asked.
        match self.dense.get(slot).and_then(|&d| self.owners.get(d as usize * MAX_ORDER_NR_PAGES + pfn % MAX_ORDER_NR_PAGES)) {
            Some(w) => Some(w),
            None => self.grown.owner(Pfn(pfn)),
        }
    }

    /// The owner word of our frame `pfn`.
    #[inline]
    pub(crate) fn owner(&self, pfn: Pfn) -> Option<&OnceWord> {
        let slot = (pfn.0 / MAX_ORDER_NR_PAGES).checked_sub(self.slot_base);
        match slot.and_then(|s| self.slots.get(s)) {
            Some(Slot::Whole) => {}
            Some(Slot::Partial) if self.chunks.iter().any(|c| c.range.contains(pfn)) => {}
            Some(Slot::Partial) => return None,
            _ => return self.grown.owner(pfn),
        }
        let d = *self.dense.get(pfn.0 / MAX_ORDER_NR_PAGES - self.slot_base)? as usize;
        self.owners.get(d * MAX_ORDER_NR_PAGES + pfn.0 % MAX_ORDER_NR_PAGES)
    }

    /// Shows `source/areas`: a header, then one line per chunk.
    pub(crate) fn show_areas(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "# origin name node zone base_pfn pages")?;
        for chunk in self.chunks.iter() {
            writeln!(
                f,
                "{} {} {} {} {:#x} {}",
                if chunk.is_cma() { "cma" } else { "pages" },
                chunk.origin_name(),
                chunk.nid,
                chunk.zone.name(),
                chunk.range.start.0,
                chunk.range.nr_pages,
            )?;
        }
        self.grown.show(f)
    }
}

#[kunit_tests(zonemm_source)]
mod tests {
    use super::*;

    #[test]
    fn page_of_knows_every_chunk_frame_and_no_other() -> Result {
        let source = Source::new(Params::new(2, 4)?)?;
        for c in source.chunks() {
            let r = c.range();
            for pfn in [r.start, Pfn(r.end().0 - 1), Pfn(r.start.0 + r.nr_pages / 2)] {
                assert_eq!(source.page_of(pfn), c.page(pfn));
                assert!(source.page_of(pfn).is_some());
            }
            // Just past a chunk (a partial CMA slot's tail) is not ours.
            let after = r.end();
            assert_eq!(source.page_of(after).is_some(), source.chunks().iter().any(|o| o.range().contains(after)));
        }
        assert!(source.page_of(Pfn(0)).is_none());
        Ok(())
    }

    #[test]
    fn params_reject_zero_overflow_and_partial_blocks() {
        assert_eq!(Params::new(0, 4), Err(EINVAL));
        assert_eq!(Params::new(4, 0), Err(EINVAL));
        assert_eq!(Params::new(4, 3), Err(EINVAL));
        assert_eq!(Params::new(u64::MAX, 4), Err(EINVAL));
        assert_eq!(Params::new(4, u64::MAX), Err(EINVAL));
        assert_eq!(Params::new(2, 8), Ok(Params { pool_pages: 512, node_blocks: 2, max_pool_pages: 0 }));
    }

    #[test]
    fn chunks_agree_with_the_kernel() -> Result {
        let source = Source::new(Params::new(4, 4)?)?;
        assert!(!source.chunks().is_empty());
        for chunk in source.chunks() {
            let range = chunk.range();
            assert!(range.start.is_aligned(Order::MAX));
            assert_eq!(range.nr_pages % MAX_ORDER_NR_PAGES, 0);
            for pfn in [range.start, Pfn(range.end().0 - 1)] {
                let page = chunk.page(pfn).ok_or(EINVAL)?;
                // SAFETY: `page` is one of the chunk's live pages.
                let (nid, zone, back) = unsafe {
                    (
                        zonemm_page_to_nid(page.as_ptr()),
                        CStr::from_char_ptr(zonemm_page_zone_name(page.as_ptr())),
                        zonemm_page_to_pfn(page.as_ptr()),
                    )
                };
                assert_eq!(nid, chunk.nid());
                assert_eq!(zone.to_str(), Ok(chunk.zone().name()));
                assert_eq!(back as usize, pfn.0);
            }
            assert!(chunk.page(range.end()).is_none());
        }
        // No two chunks share a frame.
        for (i, a) in source.chunks().iter().enumerate() {
            for b in &source.chunks()[i + 1..] {
                assert!(!a.range().overlaps(&b.range()));
            }
        }
        Ok(())
    }

    /// Where `source`'s first CMA chunk starts, if it has one.
    fn cma_base(source: &Source) -> Option<Pfn> {
        source.chunks().iter().find(|c| c.is_cma()).map(|c| c.range().start)
    }

    #[test]
    fn drops_and_failures_give_everything_back() -> Result {
        let params = Params::new(4, 4)?;
        let base = cma_base(&Source::new(params)?);
        // More than any test guest's CMA area or node holds.
        assert_eq!(Source::new(Params::new(1 << 20, 4)?).err(), Some(EINVAL));
        assert_eq!(Source::new(Params::new(4, 1 << 20)?).err(), Some(EINVAL));
        // The area hands out its lowest free aligned run: the same request
        // gets the same run back only if the dropped source and the failed
        // attempts released everything they took.
        assert_eq!(cma_base(&Source::new(params)?), base);
        Ok(())
    }
}
