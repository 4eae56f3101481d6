// SPDX-License-Identifier: GPL-2.0

//! The buddy layer: zonemm's page allocator, nodes -> zones ->
//! `free_area[order][migratetype]`, over the source layer's chunks.
//!
//! Mirrors `mm/page_alloc.c` at large: `get_page_from_freelist()` walks the
//! zonelist checking watermarks (low on the fast path; min in the slow
//! path, where atomic allocations may dip further, and a drain of every
//! CPU's lists before failing), `rmqueue()` serves small orders from
//! per-CPU lists, and `__free_pages()` gives blocks back. The algorithms
//! are the core's (`page_alloc`, `pcp`, `watermark`, `zonelist`); this
//! file builds the zones and hands out [`PageBlock`]s; `gfp` holds the
//! flags, `tuning` the knobs, `zone` one zone's locks.
//!
//! Allocation and free run in any context but NMI: they take this CPU's
//! lists with a local trylock and the zone lock with interrupts off, and
//! never sleep, except that an allocation whose flags may sleep drains
//! every CPU's lists before it fails. Building a [`Pool`] sleeps.

use kernel::{
    prelude::*,
    sync::{
        atomic::{
            Atomic,
            Relaxed, //
        },
        Mutex,
    },
    new_mutex,
};

use crate::{
    helpers::zonemm_nr_node_ids,
    page_alloc::MigrateType,
    pfn::{
        mib_to_pages,
        Order,
        Pfn,
        PfnRange,
        MAX_ORDER_NR_PAGES,
        NR_PAGE_ORDERS,
        PAGE_SHIFT, //
    },
    source::Source,
    helpers::zonemm_in_task_context,
    watermark::{
        default_min_free_kbytes,
        Mark,
        Reserves,
        Watermarks, //
    },
    zone::{
        ZoneType,
        MAX_NR_ZONES, //
    },
    zonelist::zonelist,
};

mod gfp;
mod tuning;
pub(crate) mod zone;

pub(crate) use gfp::Flags;
use zone::Zone;

/// A block of `2^order` physically contiguous pool pages, freed on drop.
///
/// # Invariants
///
/// `idx` heads a block of `order` that `zone` gave out as `mt` and that
/// nothing else owns.
pub(crate) struct PageBlock<'a> {
    zone: &'a Zone,
    idx: u32,
    order: Order,
    mt: MigrateType,
}

impl<'a> PageBlock<'a> {
    /// The first frame.
    pub(crate) fn pfn(&self) -> Pfn {
        self.zone.pfn(self.idx)
    }

    /// The order.
    pub(crate) fn order(&self) -> Order {
        self.order
    }

    /// The migrate type it was allocated as.
    pub(crate) fn mt(&self) -> MigrateType {
        self.mt
    }

    /// The zone it came from.
    pub(crate) fn zone(&self) -> &Zone {
        self.zone
    }

    /// Bytes in the block.
    pub(crate) fn size(&self) -> usize {
        self.order.nr_pages() << PAGE_SHIFT
    }

    /// The block's kernel address: [`PageBlock::size`] bytes, ours to read
    /// and write while the block lives.
    pub(crate) fn as_mut_ptr(&self) -> *mut u8 {
        self.zone.virt(self.idx)
    }

    /// Frees the block now (the same as dropping it).
    pub(crate) fn free(self) {}

    /// `split_page()`: the block as `2^order` single pages, each freed on
    /// its own. Allocates the array first (`GFP_KERNEL`): process context
    /// only.
    pub(crate) fn split(self) -> Result<KVec<PageBlock<'a>>> {
        let n = self.order.nr_pages();
        crate::fault::inject(crate::fault::Site::Buddy, n * size_of::<Self>())?;
        let mut pages = KVec::with_capacity(n, GFP_KERNEL)?;
        if self.order == Order::ZERO {
            pages.push(self, GFP_KERNEL)?;
            return Ok(pages);
        }
        let this = core::mem::ManuallyDrop::new(self);
        if !this.zone.split(this.idx, this.order) {
            // Cannot happen for a block we own; free it as it was.
            drop(core::mem::ManuallyDrop::into_inner(this));
            return Err(EINVAL);
        }
        for i in 0..n as u32 {
            // INVARIANT: the zone now has `idx + i` as an allocated single
            // page, ours.
            let page = PageBlock { zone: this.zone, idx: this.idx + i, order: Order::ZERO, mt: this.mt };
            if let Err(e) = pages.push_within_capacity(page) {
                drop(e);
            }
        }
        Ok(pages)
    }
}

impl Drop for PageBlock<'_> {
    fn drop(&mut self) {
        self.zone.free(self.idx, self.order);
    }
}

/// Insertion sort: a pool has a few dozen spans at most, and `core`'s
/// slice sorts leave objtool unhappy in kernel builds.
fn sort_by_key<T: Copy>(v: &mut [T], key: impl Fn(&T) -> (usize, usize, usize)) {
    for i in 1..v.len() {
        let mut j = i;
        while j > 0 && key(&v[j - 1]) > key(&v[j]) {
            v.swap(j - 1, j);
            j -= 1;
        }
    }
}

/// Failure and slow-path counts for `buddy/stats` (allocations are
/// counted per CPU, in the zones).
struct PoolStats {
    fails: [Atomic<u64>; NR_PAGE_ORDERS],
    zone_fallbacks: Atomic<u64>,
    /// Allocations that drained every CPU's lists to retry.
    drain_retries: Atomic<u64>,
}

/// The pool: every node's zones over the source layer's pages.
///
/// # Invariants
///
/// `nodes[nid][zone]` is that node's zone of that type, if it has pages;
/// every zone's pages belong to `source`'s chunks.
pub(crate) struct Pool {
    nodes: KVec<[Option<Pin<KBox<Zone>>>; MAX_NR_ZONES]>,
    min_free_kbytes: Atomic<usize>,
    stats: PoolStats,
    /// Serialises the writers of `min_free_kbytes` and the pcp knobs.
    tuning: Pin<KBox<Mutex<()>>>,
    // Dropped last: the zones' pages go back only after the zones are gone.
    source: Source,
}

impl Pool {
    /// Builds the zones over `source`'s chunks, carving `movable_mb` MiB off
    /// the top of each node's pages as its `Movable` zone.
    ///
    /// Must not be called from atomic context.
    pub(crate) fn new(source: Source, movable_mb: u64) -> Result<Self> {
        let movable = usize::try_from(movable_mb).ok().and_then(mib_to_pages);
        let Some(movable) = movable.filter(|p| p % MAX_ORDER_NR_PAGES == 0) else {
            pr_err!("movable_mb={movable_mb}: must be a multiple of 4\n");
            return Err(EINVAL);
        };
        // (node, zone, range) spans from the chunks, sorted by frame.
        let mut spans = KVec::<(usize, ZoneType, PfnRange)>::new();
        for chunk in source.chunks() {
            spans.push((chunk.nid() as usize, chunk.zone(), chunk.range()), GFP_KERNEL)?;
        }
        sort_by_key(&mut spans, |&(nid, _, range)| (nid, range.start.0, 0));
        // Every possible node, memoryless ones too (with no zones), so that
        // any node id has a zonelist, as every pg_data_t does.
        // SAFETY: Reads a boot-time constant.
        let nr_node_ids = unsafe { zonemm_nr_node_ids() } as usize;
        let nr_nodes = spans.iter().map(|s| s.0 + 1).max().unwrap_or(0).max(nr_node_ids);
        Self::carve_movable(&mut spans, nr_nodes, movable, movable_mb)?;
        sort_by_key(&mut spans, |&(nid, zone, range)| (nid, zone.index(), range.start.0));

        let mut nodes = KVec::new();
        for _ in 0..nr_nodes {
            nodes.push([None, None, None, None], GFP_KERNEL)?;
        }
        let mut ranges = KVec::new();
        let mut i = 0;
        while i < spans.len() {
            let (nid, ztype, _) = spans[i];
            ranges.clear();
            while i < spans.len() && spans[i].0 == nid && spans[i].1 == ztype {
                ranges.push(spans[i].2, GFP_KERNEL)?;
                i += 1;
            }
            let zone = Zone::new(nid, ztype, &ranges)?;
            if zone.spanned() > u32::MAX as usize {
                return Err(EINVAL);
            }
            nodes[nid][ztype.index()] = Some(zone);
        }
        let pool = Self {
            nodes,
            min_free_kbytes: Atomic::new(0),
            stats: PoolStats {
                fails: [const { Atomic::new(0) }; NR_PAGE_ORDERS],
                zone_fallbacks: Atomic::new(0),
                drain_retries: Atomic::new(0),
            },
            tuning: KBox::pin_init(new_mutex!((), "Pool::tuning"), GFP_KERNEL)?,
            // INVARIANT: the zones were built from these chunks alone.
            source,
        };
        // calculate_min_free_kbytes(): from the pages of the zones up to
        // Normal (nr_free_buffer_pages(), the watermarks still 0).
        pool.setup_watermarks(default_min_free_kbytes(pool.lowmem_pages()));
        Ok(pool)
    }

    /// Moves the top `movable` pages of each node to `Movable`, splitting
    /// a span where the boundary falls inside it.
    fn carve_movable(
        spans: &mut KVec<(usize, ZoneType, PfnRange)>,
        nr_nodes: usize,
        movable: usize,
        movable_mb: u64,
    ) -> Result {
        for nid in 0..nr_nodes {
            let mut left = movable;
            let mut i = spans.len();
            while left > 0 && i > 0 {
                i -= 1;
                let (n, _, range) = spans[i];
                if n != nid {
                    continue;
                }
                let take = left.min(range.nr_pages);
                left -= take;
                if take == range.nr_pages {
                    spans[i].1 = ZoneType::Movable;
                } else {
                    spans[i].2.nr_pages -= take;
                    let top = PfnRange { start: Pfn(range.end().0 - take), nr_pages: take };
                    spans.push((nid, ZoneType::Movable, top), GFP_KERNEL)?;
                }
            }
            let has_pages = spans.iter().any(|s| s.0 == nid);
            if left > 0 && has_pages {
                pr_err!("movable_mb={movable_mb}: node {nid} has less than that\n");
                return Err(EINVAL);
            }
        }
        Ok(())
    }

    /// Every zone, node by node, lowest zone first.
    pub(crate) fn zones(&self) -> impl Iterator<Item = &Zone> {
        self.nodes.iter().flat_map(|node| node.iter().flatten().map(|z| &**z))
    }

    /// Node `nid`'s zone of type `ztype`, if it has pages.
    pub(crate) fn zone(&self, nid: usize, ztype: ZoneType) -> Option<&Zone> {
        self.nodes.get(nid)?[ztype.index()].as_deref()
    }

    /// A number naming `zone` in [`Pool::block_at`]: node and type.
    pub(crate) fn zone_id(&self, zone: &Zone) -> usize {
        zone.nid() * MAX_NR_ZONES + zone.ztype().index()
    }

    /// The allocated block of `order` and `mt` at `pfn` in zone number
    /// `zone_id`, as a [`PageBlock`] again.
    ///
    /// # Safety
    ///
    /// That block must have been allocated from that zone, and the caller
    /// must own it (it was forgotten, and nothing else will free it).
    pub(crate) unsafe fn block_at(&self, zone_id: usize, pfn: Pfn, order: Order, mt: MigrateType) -> Option<PageBlock<'_>> {
        let zone = self.nodes.get(zone_id / MAX_NR_ZONES)?[zone_id % MAX_NR_ZONES].as_deref()?;
        let idx = zone.index_of(pfn)?;
        // INVARIANT: by the caller's guarantee, an allocated block of
        // `zone`, ours alone.
        Some(PageBlock { zone, idx, order, mt })
    }

    /// Number of node ids (some may have no zones).
    pub(crate) fn nr_nodes(&self) -> usize {
        self.nodes.len()
    }

    /// Pages handed to all zones.
    pub(crate) fn managed(&self) -> usize {
        self.zones().map(Zone::managed).sum()
    }

    /// Free pages: on the free lists and on the per-CPU lists.
    pub(crate) fn nr_free_pages(&self) -> usize {
        self.zones().map(|z| z.free_pages() + z.pcp_pages()).sum()
    }

    /// `drain_all_pages()`: every per-CPU list back to its zone. Sleeps.
    pub(crate) fn drain(&self) {
        for zone in self.zones() {
            zone.drain();
        }
    }

    /// `drain_local_pages()`: this CPU's lists back to their zones. Any
    /// context but NMI.
    pub(crate) fn drain_local(&self) {
        for zone in self.zones() {
            zone.drain_local();
        }
    }

    /// `__alloc_pages()`: a block of `order` as `flags` ask, or `ENOMEM`.
    /// Any context but NMI if `flags` may not sleep; else may sleep.
    ///
    /// The fast path takes from the first zone above its low watermark,
    /// reserves untouched (`get_page_from_freelist()` with
    /// `ALLOC_WMARK_LOW`). The slow path goes down to the min watermark,
    /// lowered for `__GFP_HIGH` (`ALLOC_MIN_RESERVE`, and `ALLOC_NON_BLOCK`
    /// for a caller that may not sleep), and before failing drains the
    /// per-CPU lists and tries once more: every CPU's for a caller that may
    /// sleep (`drain_all_pages()`, as `__alloc_pages_direct_reclaim()`
    /// does; it waits for each CPU), only this CPU's otherwise.
    pub(crate) fn alloc_pages(&self, order: Order, flags: Flags) -> Result<PageBlock<'_>> {
        if crate::fault::should_fail(crate::fault::Site::Buddy, order.nr_pages() << PAGE_SHIFT) {
            self.stats.fails[order.index()].add(1, Relaxed);
            return Err(ENOMEM);
        }
        let found = self
            .get_page_from_freelist(order, flags, Mark::Low, Reserves::None)
            .or_else(|| self.get_page_from_freelist(order, flags, Mark::Min, flags.reserves()))
            .or_else(|| {
                // SAFETY: No preconditions.
                if flags.may_sleep && unsafe { zonemm_in_task_context() } {
                    self.drain();
                } else {
                    self.drain_local();
                }
                self.stats.drain_retries.add(1, Relaxed);
                self.get_page_from_freelist(order, flags, Mark::Min, flags.reserves())
            });
        let Some(block) = found else {
            self.stats.fails[order.index()].add(1, Relaxed);
            return Err(ENOMEM);
        };
        if flags.zero {
            // SAFETY: The block is ours and `size()` bytes long.
            unsafe { core::ptr::write_bytes(block.as_mut_ptr(), 0, block.size()) };
        }
        Ok(block)
    }

    /// `get_page_from_freelist()`: the first zone of the zonelist that
    /// stays above `mark` (lowered for `reserves`) gives the block.
    fn get_page_from_freelist(&self, order: Order, flags: Flags, mark: Mark, reserves: Reserves) -> Option<PageBlock<'_>> {
        let preferred = flags.preferred_node();
        if preferred >= self.nodes.len() {
            return None;
        }
        let zones = zonelist(preferred, self.nodes.len(), flags.highest, flags.this_node)
            .filter_map(|(nid, ztype)| self.zone(nid, ztype));
        for (n, zone) in zones.enumerate() {
            if !zone.watermark_ok(order, mark, flags.highest, reserves) {
                continue;
            }
            let Some(idx) = zone.rmqueue(order, flags.mt) else { continue };
            if n > 0 {
                self.stats.zone_fallbacks.add(1, Relaxed);
            }
            // INVARIANT: `zone` just gave the block out to us.
            return Some(PageBlock { zone, idx, order, mt: flags.mt });
        }
        None
    }

    /// `alloc_pages_bulk()`: up to `n` blocks of `order`, each handed to
    /// `out` (which must not sleep). Zones are tried in zonelist order, each
    /// while it stays above its low watermark by the whole batch. Returns
    /// how many `out` got. Nothing here allocates or sleeps: any context
    /// but NMI.
    pub(crate) fn alloc_pages_bulk<'p>(&'p self, order: Order, flags: Flags, n: usize, mut out: impl FnMut(PageBlock<'p>)) -> usize {
        if crate::fault::should_fail(crate::fault::Site::Buddy, n << order.get() << PAGE_SHIFT) {
            return 0;
        }
        let preferred = flags.preferred_node();
        let mut got = 0;
        if preferred < self.nodes.len() {
            let zones = zonelist(preferred, self.nodes.len(), flags.highest, flags.this_node)
                .filter_map(|(nid, ztype)| self.zone(nid, ztype));
            for zone in zones {
                if got == n {
                    break;
                }
                let pages = (n - got) << order.get();
                // The fast path's rule: the low watermark, no reserves.
                if !zone.watermark_ok_plus(order, Mark::Low, pages, flags.highest, Reserves::None) {
                    continue;
                }
                got += zone.rmqueue_bulk(order, flags.mt, n - got, |idx| {
                    // INVARIANT: `zone` just gave the block out to us.
                    let block = PageBlock { zone, idx, order, mt: flags.mt };
                    if flags.zero {
                        // SAFETY: The block is ours and `size()` bytes long.
                        unsafe { core::ptr::write_bytes(block.as_mut_ptr(), 0, block.size()) };
                    }
                    out(block);
                });
            }
        }
        got
    }

    /// Allocations and failures per order, zone fallbacks, and slow paths
    /// that drained the per-CPU lists. Sleeps (it reads every CPU's
    /// counts on that CPU).
    pub(crate) fn alloc_stats(&self) -> ([u64; NR_PAGE_ORDERS], [u64; NR_PAGE_ORDERS], u64, u64) {
        let mut allocs = [0u64; NR_PAGE_ORDERS];
        for zone in self.zones() {
            for (sum, n) in allocs.iter_mut().zip(zone.allocs()) {
                *sum += n;
            }
        }
        (
            allocs,
            core::array::from_fn(|o| self.stats.fails[o].load(Relaxed)),
            self.stats.zone_fallbacks.load(Relaxed),
            self.stats.drain_retries.load(Relaxed),
        )
    }

    /// The frame of a direct-map address, if it is a pool page.
    pub(crate) fn pfn_of(&self, addr: *const u8) -> Option<Pfn> {
        self.source.pfn_of(addr)
    }

    /// The owner word of pool page `pfn` (the source layer's, lent to the
    /// layers above as `page->private` is lent to a page's owner).
    pub(crate) fn owner(&self, pfn: Pfn) -> Option<&Atomic<usize>> {
        self.source.owner(pfn)
    }

    /// The source layer under the pool.
    pub(crate) fn source(&self) -> &Source {
        &self.source
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.drain();
        let free = self.nr_free_pages();
        if free != self.managed() {
            pr_err!("{} pages leaked at teardown\n", self.managed() - free);
        }
    }
}

#[kunit_tests(zonemm_buddy)]
mod tests {
    use super::*;
    use crate::{
        helpers::zonemm_run_on_each_cpu,
        source::Params,
    };

    /// A pool of `pool_mb` MiB of CMA (node 1, Normal) and `node_mb` MiB on
    /// node 0 (DMA32), with no watermarks unless a test sets them.
    fn pool(pool_mb: u64, node_mb: u64, movable_mb: u64) -> Result<Pool> {
        let pool = Pool::new(Source::new(Params::new(pool_mb, node_mb)?)?, movable_mb)?;
        pool.set_min_free_kbytes(0)?;
        Ok(pool)
    }

    fn order(o: u32) -> Order {
        Order::new(o).unwrap_or(Order::ZERO)
    }

    /// Everything back, and every zone's lists sound.
    fn all_back(pool: &Pool) -> bool {
        pool.drain();
        pool.zones().all(|z| z.check().is_ok() && z.free_pages() == z.managed())
    }

    #[test]
    fn every_order_is_written_and_read_back() -> Result {
        let pool = pool(4, 4, 0)?;
        for o in 0..NR_PAGE_ORDERS as u32 {
            let block = pool.alloc_pages(order(o), Flags::KERNEL)?;
            assert_eq!(block.size(), 4096 << o);
            assert!(block.pfn().is_aligned(order(o)));
            // SAFETY: The block is ours and `size()` bytes long.
            let bytes = unsafe { core::slice::from_raw_parts_mut(block.as_mut_ptr(), block.size()) };
            for (i, b) in bytes.iter_mut().enumerate() {
                *b = (i / 4096) as u8 ^ o as u8;
            }
            assert!(bytes.iter().enumerate().all(|(i, &b)| b == (i / 4096) as u8 ^ o as u8));
        }
        let zeroed = pool.alloc_pages(order(3), Flags::KERNEL.zeroed())?;
        // SAFETY: As above.
        let bytes = unsafe { core::slice::from_raw_parts(zeroed.as_mut_ptr(), zeroed.size()) };
        assert!(bytes.iter().all(|&b| b == 0));
        zeroed.free();
        assert!(all_back(&pool));
        Ok(())
    }

    #[test]
    fn movable_zones_take_no_share_of_min_free_kbytes() -> Result {
        // Node 0: DMA32 and Movable, 1024 pages each; node 1: Normal and
        // Movable, the same. By hand from __setup_per_zone_wmarks() with
        // 2048 kB (512 pages) over 2048 lowmem pages: DMA32 and Normal get
        // 256 each, gap max(256 / 4, 1) = 64; Movable min = clamp(1024 /
        // 1024, 32, 128) = 32, gap 64.
        let pool = pool(8, 8, 4)?;
        pool.set_min_free_kbytes(2048)?;
        let lowmem = Watermarks { min: 256, low: 320, high: 384 };
        let movable = Watermarks { min: 32, low: 96, high: 160 };
        for (nid, ztype, want) in [
            (0, ZoneType::Dma32, lowmem),
            (0, ZoneType::Movable, movable),
            (1, ZoneType::Normal, lowmem),
            (1, ZoneType::Movable, movable),
        ] {
            let zone = pool.zone(nid, ztype).ok_or(EINVAL)?;
            assert_eq!(zone.managed(), 1024);
            assert_eq!(zone.watermarks(), want);
        }
        Ok(())
    }

    #[test]
    fn exhaustion_stops_at_the_watermarks() -> Result {
        let pool = pool(4, 4, 0)?;
        // 256 pages of min over two equal zones: min 128, low 160 each.
        pool.set_min_free_kbytes(1024)?;
        let zone = pool.zone(1, ZoneType::Normal).ok_or(EINVAL)?;
        assert_eq!(zone.watermarks(), Watermarks { min: 128, low: 160, high: 192 });
        let mut held = KVec::new();
        let normal = Flags::KERNEL.this_node(1);
        while let Ok(b) = pool.alloc_pages(order(4), normal) {
            held.push(b, GFP_KERNEL)?;
        }
        // The last order-4 block that kept free - 15 above min.
        assert_eq!(zone.free_pages(), 128);
        assert_eq!(pool.alloc_pages(order(0), normal).err(), Some(ENOMEM));
        // Atomic may go to min - min/2 - min/4 = 48.
        while let Ok(b) = pool.alloc_pages(order(4), Flags::ATOMIC.this_node(1)) {
            held.push(b, GFP_KERNEL)?;
        }
        assert_eq!(zone.free_pages(), 48);
        assert!(held.iter().all(|b| b.zone().nid() == 1));
        drop(held);
        assert!(all_back(&pool));
        Ok(())
    }

    #[test]
    fn lowmem_reserve_keeps_normal_from_movable_users() -> Result {
        // Node 1: 4 MiB Normal and 4 MiB Movable above it.
        let pool = pool(8, 4, 4)?;
        let normal = pool.zone(1, ZoneType::Normal).ok_or(EINVAL)?;
        let movable = pool.zone(1, ZoneType::Movable).ok_or(EINVAL)?;
        assert_eq!(normal.lowmem_reserve()[ZoneType::Movable.index()], 1024 / 32);
        let mut held = KVec::new();
        while let Ok(b) = pool.alloc_pages(order(4), Flags::MOVABLE.this_node(1)) {
            held.push(b, GFP_KERNEL)?;
        }
        // Movable first, down to its min (32 pages: a Movable zone's min is
        // clamped to at least SWAP_CLUSTER_MAX even with min_free_kbytes 0),
        // then Normal down to its reserve of 32 pages.
        assert_eq!(movable.free_pages(), 32);
        assert_eq!(normal.free_pages(), 32);
        // A Normal allocation may use the reserve.
        while let Ok(b) = pool.alloc_pages(order(4), Flags::KERNEL.this_node(1)) {
            held.push(b, GFP_KERNEL)?;
        }
        assert_eq!(normal.free_pages(), 0);
        drop(held);
        assert!(all_back(&pool));
        Ok(())
    }

    #[test]
    fn zone_fallback_goes_to_the_other_node_only_when_allowed() -> Result {
        let pool = pool(4, 4, 0)?;
        let (_, _, before, _) = pool.alloc_stats();
        let mut held = KVec::new();
        // Preferring node 1 (Normal): 63 blocks there. The 64th would
        // leave 1 page, not above the low watermark (0.1% of the zone), so
        // the fast path moves on to node 0 before any slow path dips to min.
        for _ in 0..63 {
            let b = pool.alloc_pages(order(4), Flags::KERNEL.node(1))?;
            assert_eq!((b.zone().nid(), b.zone().ztype()), (1, ZoneType::Normal));
            held.push(b, GFP_KERNEL)?;
        }
        assert_eq!(pool.alloc_stats().2, before);
        let b = pool.alloc_pages(order(4), Flags::KERNEL.node(1))?;
        assert_eq!((b.zone().nid(), b.zone().ztype()), (0, ZoneType::Dma32));
        assert_eq!(pool.alloc_stats().2, before + 1);
        held.push(b, GFP_KERNEL)?;
        // __GFP_THISNODE goes on to the min watermark instead, then stops.
        held.push(pool.alloc_pages(order(4), Flags::KERNEL.this_node(1))?, GFP_KERNEL)?;
        // With __GFP_THISNODE there is nowhere to go.
        assert_eq!(pool.alloc_pages(order(4), Flags::KERNEL.this_node(1)).err(), Some(ENOMEM));
        drop(held);
        // GFP_DMA32 never gets Normal pages, whichever node it prefers.
        let b = pool.alloc_pages(order(0), Flags::KERNEL.zone(ZoneType::Dma32).node(1))?;
        assert_eq!(b.zone().ztype(), ZoneType::Dma32);
        drop(b);
        assert!(all_back(&pool));
        Ok(())
    }

    #[test]
    fn migrate_types_steal_exactly_when_they_run_dry() -> Result {
        let pool = pool(4, 4, 0)?;
        let dma32 = pool.zone(0, ZoneType::Dma32).ok_or(EINVAL)?;
        let normal = pool.zone(1, ZoneType::Normal).ok_or(EINVAL)?;
        // Every pageblock starts movable: movable allocations never fall back.
        let m = pool.alloc_pages(order(0), Flags::MOVABLE.this_node(1))?;
        assert_eq!(normal.snapshot().stats.fallbacks, 0);
        assert_eq!(normal.snapshot().pageblocks, [0, 2, 0]);
        // The first unmovable page claims the whole order-10 block.
        let u = pool.alloc_pages(order(0), Flags::KERNEL.this_node(0))?;
        let s = dma32.snapshot();
        assert_eq!((s.stats.fallbacks, s.stats.claims), (1, 1));
        assert_eq!(s.pageblocks, [2, 0, 0]);
        // The next ones find unmovable pages and fall back no more.
        let u2 = pool.alloc_pages(order(2), Flags::KERNEL.this_node(0))?;
        assert_eq!(dma32.snapshot().stats.fallbacks, 1);
        drop((m, u, u2));
        assert!(all_back(&pool));
        Ok(())
    }

    #[test]
    fn bulk_allocation_fills_the_batch() -> Result {
        let pool = pool(4, 4, 0)?;
        let mut blocks = KVec::with_capacity(300, GFP_KERNEL)?;
        let mut add = |b| {
            let _ = blocks.push_within_capacity(b);
        };
        assert_eq!(pool.alloc_pages_bulk(order(0), Flags::KERNEL, 256, &mut add), 256);
        assert_eq!(pool.alloc_pages_bulk(order(3), Flags::ATOMIC, 40, &mut add), 40);
        assert_eq!(pool.alloc_pages_bulk(order(0), Flags::NOWAIT, 4, &mut add), 4);
        assert_eq!(blocks.len(), 300);
        let mut pfns = KVec::with_capacity(blocks.len(), GFP_KERNEL)?;
        for b in blocks.iter() {
            pfns.push(b.pfn().0, GFP_KERNEL)?;
        }
        // Distinct blocks.
        for (i, a) in pfns.iter().enumerate() {
            assert!(pfns[i + 1..].iter().all(|b| b != a));
        }
        drop(blocks);
        assert!(all_back(&pool));
        Ok(())
    }

    #[test]
    fn drain_returns_the_per_cpu_pages() -> Result {
        let pool = pool(4, 4, 0)?;
        let zone = pool.zone(0, ZoneType::Dma32).ok_or(EINVAL)?;
        let mut held = KVec::new();
        for _ in 0..3 {
            held.push(pool.alloc_pages(order(0), Flags::KERNEL.this_node(0))?, GFP_KERNEL)?;
        }
        drop(held);
        assert!(zone.pcp_pages() > 0);
        assert!(zone.free_pages() < zone.managed());
        assert_eq!(pool.nr_free_pages(), pool.managed());
        pool.drain();
        assert_eq!(zone.pcp_pages(), 0);
        assert_eq!(zone.free_pages(), zone.managed());
        Ok(())
    }

    /// One CPU's share of the stress test: random orders, each block
    /// stamped with the CPU and checked before it is freed.
    unsafe extern "C" fn stress(arg: *mut c_void, cpu: c_uint) -> c_int {
        // SAFETY: `arg` is the `&Pool` the test passed, alive until every
        // CPU's run returns.
        let pool = unsafe { &*arg.cast::<Pool>() };
        let mut held = KVec::<(PageBlock<'_>, u64)>::new();
        let mut seed = 0x9e37_79b9_7f4a_7c15u64 ^ cpu as u64;
        // The two CPUs together want more than the pool holds, so some
        // allocations fail (ENOMEM is the answer then); but most must not.
        let mut got = 0;
        for i in 0..4000u64 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            if seed % 3 != 0 || held.is_empty() {
                let flags = if seed & 4 == 0 { Flags::KERNEL } else { Flags::MOVABLE };
                match pool.alloc_pages(order((seed >> 8) as u32 % 5), flags) {
                    Ok(b) => {
                        got += 1;
                        let tag = (cpu as u64) << 32 | i;
                        // SAFETY: The block is ours; its first word is ours to write.
                        unsafe { b.as_mut_ptr().cast::<u64>().write(tag) };
                        if held.push((b, tag), GFP_KERNEL).is_err() {
                            return ENOMEM.to_errno();
                        }
                    }
                    Err(e) if e == ENOMEM => {}
                    Err(e) => return e.to_errno(),
                }
            } else {
                let (pick, last) = ((seed >> 16) as usize % held.len(), held.len() - 1);
                held.swap(pick, last);
                let Some((b, tag)) = held.pop() else { continue };
                // SAFETY: As above.
                if unsafe { b.as_mut_ptr().cast::<u64>().read() } != tag {
                    return EINVAL.to_errno();
                }
            }
        }
        if got < 1000 {
            pr_err!("stress on CPU {cpu}: only {got} allocations succeeded\n");
            return ENOMEM.to_errno();
        }
        0
    }

    #[test]
    fn both_cpus_at_once_keep_every_invariant() -> Result {
        let pool = pool(8, 8, 0)?;
        let arg = (&pool as *const Pool).cast_mut().cast();
        // SAFETY: `stress` only reads the pool through `arg`, which lives
        // until the call returns; the call waits for every CPU.
        let ret = unsafe { zonemm_run_on_each_cpu(stress, arg) };
        assert_eq!(ret, 0);
        assert!(all_back(&pool));
        Ok(())
    }

    /// Takes one page of node 1 and frees it: the CPU's list keeps it and
    /// the rest of its refill batch.
    unsafe extern "C" fn park_pages(arg: *mut c_void, _cpu: c_uint) -> c_int {
        // SAFETY: `arg` is the test's pool, alive until every CPU returns.
        let pool = unsafe { &*arg.cast::<Pool>() };
        match pool.alloc_pages(Order::ZERO, Flags::KERNEL.this_node(1)) {
            Ok(b) => {
                b.free();
                0
            }
            Err(e) => e.to_errno(),
        }
    }

    #[test]
    fn an_order_10_allocation_drains_every_cpus_lists() -> Result {
        let pool = pool(4, 4, 0)?;
        let normal = pool.zone(1, ZoneType::Normal).ok_or(EINVAL)?;
        let arg = (&pool as *const Pool).cast_mut().cast();
        // SAFETY: `park_pages` only uses the pool, alive until the call
        // returns; the call waits for every CPU.
        assert_eq!(unsafe { zonemm_run_on_each_cpu(park_pages, arg) }, 0);
        // Every page of the zone is free, some parked on CPUs' lists.
        assert!(normal.pcp_pages() > 0);
        assert_eq!(normal.free_pages() + normal.pcp_pages(), 1024);
        let (_, _, _, retries) = pool.alloc_stats();
        let b = pool.alloc_pages(Order::MAX, Flags::KERNEL.this_node(1))?;
        assert_eq!(b.zone().ztype(), ZoneType::Normal);
        // One drain-all retry.
        assert_eq!(pool.alloc_stats().3, retries + 1);
        drop(b);
        assert!(all_back(&pool));
        Ok(())
    }

    #[test]
    fn atomic_allocations_keep_off_the_reserves_on_the_fast_path() -> Result {
        let pool = pool(4, 4, 0)?;
        // Both zones: min 128, low 160.
        pool.set_min_free_kbytes(1024)?;
        let normal = pool.zone(1, ZoneType::Normal).ok_or(EINVAL)?;
        let mut held = KVec::new();
        while normal.free_pages() >= 160 {
            held.push(pool.alloc_pages(order(0), Flags::KERNEL.this_node(1))?, GFP_KERNEL)?;
        }
        assert!(normal.free_pages() > 128);
        // Node 1 is under low, above min: the fast path passes it by, even
        // for an atomic caller, and node 0 gives the page.
        let b = pool.alloc_pages(order(0), Flags::ATOMIC.node(1))?;
        assert_eq!((b.zone().nid(), b.zone().ztype()), (0, ZoneType::Dma32));
        held.push(b, GFP_KERNEL)?;
        // With nowhere else to go the slow path dips: others to min (the
        // last failure drained this CPU's list), an atomic caller below.
        while let Ok(b) = pool.alloc_pages(order(0), Flags::KERNEL.this_node(1)) {
            held.push(b, GFP_KERNEL)?;
        }
        let at_min = normal.free_pages();
        assert!(at_min <= 128 && normal.pcp_pages() == 0);
        held.push(pool.alloc_pages(order(0), Flags::ATOMIC.this_node(1))?, GFP_KERNEL)?;
        assert!(normal.free_pages() < at_min);
        drop(held);
        assert!(all_back(&pool));
        Ok(())
    }

    /// On CPU 0 only: frees a page allocated as movable from an
    /// unmovable pageblock, and checks which of CPU 0's lists it joins.
    unsafe extern "C" fn free_by_pageblock(arg: *mut c_void, cpu: c_uint) -> c_int {
        if cpu != 0 {
            return 0;
        }
        // SAFETY: `arg` is the test's pool, alive until every CPU returns.
        let pool = unsafe { &*arg.cast::<Pool>() };
        let Ok(mut b) = pool.alloc_pages(Order::ZERO, Flags::KERNEL.this_node(1)) else { return -12 };
        let zone = b.zone;
        if zone.pageblock_mt(b.idx) != MigrateType::Unmovable {
            return -22;
        }
        // As if a movable allocation had stolen it from the pageblock.
        b.mt = MigrateType::Movable;
        let len = |mt| zone.pcp_len_here(Order::ZERO, mt).unwrap_or(usize::MAX);
        let (unmovable, movable) = (len(MigrateType::Unmovable), len(MigrateType::Movable));
        drop(b);
        if (len(MigrateType::Unmovable), len(MigrateType::Movable)) != (unmovable + 1, movable) {
            return -22;
        }
        0
    }

    #[test]
    fn frees_join_the_list_of_their_pageblock() -> Result {
        let pool = pool(4, 4, 0)?;
        let arg = (&pool as *const Pool).cast_mut().cast();
        // SAFETY: `free_by_pageblock` only uses the pool, alive until the
        // call returns; the call waits for every CPU.
        assert_eq!(unsafe { zonemm_run_on_each_cpu(free_by_pageblock, arg) }, 0);
        assert!(all_back(&pool));
        Ok(())
    }
}
