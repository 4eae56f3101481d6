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
    once::OnceWord,
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
        Reserves, //
    },
    zone::{
        ZoneType,
        MAX_NR_ZONES, //
    },
    zonelist::zonelist,
};

mod compaction;
mod gfp;
mod grow;
mod kswapd;
mod pool_shrinker;
mod shrinker;
mod tuning;
pub(crate) mod zone;

pub(crate) use compaction::{
    movable_word,
    MigrateMode,
    MovableOwner,
    MovableRegistration, //
};
pub(crate) use gfp::Flags;
pub(crate) use kswapd::Kswapd;
pub(crate) use pool_shrinker::PoolShrinker;
pub(crate) use shrinker::{
    Deferred,
    RcuWork,
    Shrinker,
    ShrinkerRegistration, //
};
use kswapd::{
    KswapdWait,
    ReclaimStats, //
};
use grow::Growth;
use shrinker::Shrinkers;
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
    /// The head page's index in its zone: with [`Pool::zone_id`], what
    /// [`Pool::block_at_index`] takes back.
    pub(crate) fn index(&self) -> u32 {
        self.idx
    }

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

    /// Frees the block now, inline in the caller (the same as dropping
    /// it, without a call to the drop glue).
    #[inline(always)]
    pub(crate) fn free(self) {
        let block = core::mem::ManuallyDrop::new(self);
        block.zone.free(block.idx, block.order);
    }

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
    #[inline(always)]
    fn drop(&mut self) {
        self.zone.free(self.idx, self.order);
    }
}

/// The kernel's `WARN_ON_ONCE(!can_direct_reclaim)` for a `__GFP_NOFAIL`
/// allocation about to fail: a caller that may not sleep cannot be made to
/// wait for memory (nor one that asks for zones the pool has no pages in).
#[cold]
fn warn_nofail(why: &str) {
    static WARNED: OnceWord = OnceWord::new(0);
    if WARNED.xchg(1) == 0 {
        pr_warn!("__GFP_NOFAIL {why}: failing\n");
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
    /// `__GFP_NOFAIL` allocations' waits for memory to come free.
    nofail_retries: Atomic<u64>,
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
    reclaim: ReclaimStats,
    shrinkers: Shrinkers,
    compaction: compaction::Compaction,
    /// Growing and shrinking back (`max_pool_mb`).
    growth: Growth,
    /// Each node's kswapd, as wakers see it.
    kswapd: KVec<KswapdWait>,
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
        let mut kswapd = KVec::new();
        for _ in 0..nr_nodes {
            nodes.push([None, None, None, None], GFP_KERNEL)?;
            kswapd.push(KswapdWait::new(), GFP_KERNEL)?;
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
            // The zone growth on its node lands in has room for the grown
            // blocks the source may take there; the others (and Movable,
            // carved at load only) none.
            let room = if ztype == ZoneType::Movable { 0 } else { source.grow_room(nid, ztype) };
            let zone = Zone::new(nid, ztype, &ranges, room, crate::source::node_span(nid as i32))?;
            if zone.spanned() > u32::MAX as usize {
                return Err(EINVAL);
            }
            nodes[nid][ztype.index()] = Some(zone);
        }
        let start: usize = source.chunks().iter().map(|c| c.range().nr_pages).sum();
        let slots = source.grown().capacity();
        let growth = Growth::new(start, slots, start + slots * MAX_ORDER_NR_PAGES, nr_nodes)?;
        let pool = Self {
            nodes,
            min_free_kbytes: Atomic::new(0),
            stats: PoolStats {
                fails: [const { Atomic::new(0) }; NR_PAGE_ORDERS],
                zone_fallbacks: Atomic::new(0),
                drain_retries: Atomic::new(0),
                nofail_retries: Atomic::new(0),
            },
            reclaim: ReclaimStats::new(),
            shrinkers: Shrinkers::new()?,
            compaction: compaction::Compaction::new()?,
            growth,
            kswapd,
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

    /// The allocated block of `order` and `mt` at page index `idx` of zone
    /// number `zone_id` ([`PageBlock::index`]), as a [`PageBlock`] again:
    /// [`Pool::block_at`] without the search for the frame's index, but
    /// `None` unless that index heads such a block at `addr` (a word that
    /// was not what the caller took it for never frees another block).
    ///
    /// # Safety
    ///
    /// As for [`Pool::block_at`]: that block was allocated from that zone
    /// and the caller owns it.
    #[inline(always)]
    pub(crate) unsafe fn block_at_index(
        &self,
        zone_id: usize,
        idx: u32,
        order: Order,
        mt: MigrateType,
        addr: *const u8,
    ) -> Option<PageBlock<'_>> {
        let zone = self.nodes.get(zone_id / MAX_NR_ZONES)?[zone_id % MAX_NR_ZONES].as_deref()?;
        if !zone.heads_at(idx, order, addr) {
            return None;
        }
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

    /// Whether some zone is below its high watermark, kswapd's target
    /// (`pgdat_balanced()` false): memory kept for reuse should go back
    /// rather than be kept. Any context.
    pub(crate) fn pressure(&self) -> bool {
        self.zones().any(|z| z.managed() > 0 && z.free_pages() < z.watermarks().high)
    }

    /// `drain_all_pages()`: every per-CPU list back to its zone. Sleeps.
    pub(crate) fn drain(&self) {
        for zone in self.zones() {
            zone.drain();
        }
    }

    /// `page_alloc_cpu_dead()`: the lists of `cpu`, which just died, back
    /// to their zones. Process context.
    ///
    /// # Safety
    ///
    /// As for [`crate::percpu::PerCpu::with_offline_cpu`]: the caller is
    /// the CPU-dead callback, under `helpers.c`'s per-CPU mutex.
    pub(crate) unsafe fn cpu_dead(&self, cpu: usize) {
        for zone in self.zones() {
            // SAFETY: The caller's guarantee.
            unsafe { zone.drain_offline_cpu(cpu) };
        }
    }

    /// `decay_pcp_high()` on this CPU's lists of every zone, as each
    /// CPU's vmstat work runs it once a second. Any context but NMI.
    pub(crate) fn decay_local(&self) {
        for zone in self.zones() {
            zone.decay_local();
        }
    }

    /// The slow path's `drain_all_pages(NULL)`: as [`Pool::drain`], but
    /// every zone's lists of a CPU at once, from an interrupt on every
    /// online CPU (`percpu::each_cpu_from_alloc`; a CPU whose interrupted code held some zone's lists gets a work
    /// instead, which waits for the CPU's running task to yield), waiting
    /// for a per-CPU run in flight (the kernel coalesces concurrent
    /// drains; zonemm runs them one after another), with CPU hotplug only
    /// tried for (the caller may hold `cpus_read_lock()`). Sleeps: process
    /// context with interrupts on.
    fn drain_for_retry(&self) {
        crate::percpu::each_cpu_from_alloc(|cpu, online| {
            let mut done = true;
            for zone in self.zones() {
                if online {
                    // A CPU the interrupt drained gets no work; one it
                    // could not gets every zone drained again (what its
                    // lists hold by then).
                    done &= zone.drain_local();
                } else {
                    // SAFETY: `each_cpu_from_alloc`'s offline arm: the
                    // conditions of `PerCpu::with_offline_cpu` hold.
                    unsafe { zone.drain_offline_cpu(cpu) };
                }
            }
            done
        });
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
    #[inline(always)]
    pub(crate) fn alloc_pages(&self, order: Order, flags: Flags) -> Result<PageBlock<'_>> {
        // Injected faults spare `__GFP_NOFAIL` (`should_fail_alloc_page()`).
        if !flags.nofail && crate::fault::should_fail(crate::fault::Site::Buddy, order.nr_pages() << PAGE_SHIFT) {
            return self.alloc_pages_failed(order);
        }
        match self.get_page_from_freelist(order, flags, Mark::Low, Reserves::None) {
            Some(block) => Ok(Self::zero_if(block, flags)),
            None => self.alloc_pages_slow(order, flags),
        }
    }

    /// `__GFP_ZERO`: clears the block.
    #[inline(always)]
    fn zero_if(block: PageBlock<'_>, flags: Flags) -> PageBlock<'_> {
        if flags.zero {
            // SAFETY: The block is ours and `size()` bytes long.
            unsafe { core::ptr::write_bytes(block.as_mut_ptr(), 0, block.size()) };
        }
        block
    }

    /// A failed allocation, counted.
    #[cold]
    fn alloc_pages_failed(&self, order: Order) -> Result<PageBlock<'_>> {
        self.stats.fails[order.index()].add(1, Relaxed);
        Err(ENOMEM)
    }

    /// `__alloc_pages_slowpath()`: wake kswapd, the reserves, then drain
    /// and retry, then (if the caller may sleep) direct reclaim, then for
    /// a costly order direct compaction, then growth of the pool up to
    /// `max_pool_mb` ([`grow`]).
    ///
    /// `__GFP_NOFAIL` from a caller that may sleep retries until a block
    /// comes free, with `ALLOC_MIN_RESERVE`'s share of the reserves and a
    /// sleep growing to 100 ms between tries (the kernel's loop waits in
    /// reclaim). One that may not sleep gets a warning and may fail, as the
    /// kernel returns `NULL` for it.
    #[cold]
    #[inline(never)]
    fn alloc_pages_slow(&self, order: Order, flags: Flags) -> Result<PageBlock<'_>> {
        // SAFETY: No preconditions.
        let can_sleep = flags.may_sleep && unsafe { zonemm_in_task_context() };
        let mut reserves = flags.reserves();
        let mut backoff_ms = 1;
        let pgsteal = self.pgsteal();
        loop {
            self.wake_all_kswapds(order, flags);
            let found = self.get_page_from_freelist(order, flags, Mark::Min, reserves).or_else(|| {
                if can_sleep {
                    self.drain_for_retry();
                } else {
                    self.drain_local();
                }
                self.stats.drain_retries.add(1, Relaxed);
                self.get_page_from_freelist(order, flags, Mark::Min, reserves)
            });
            let found = match found {
                None if can_sleep => self
                    .direct_reclaim(order, flags, reserves, pgsteal)
                    .or_else(|| self.direct_compact(order, flags, reserves))
                    .or_else(|| self.direct_grow(order, flags, reserves)),
                found => found,
            };
            if let Some(block) = found {
                return Ok(Self::zero_if(block, flags));
            }
            if flags.nofail && !can_sleep {
                warn_nofail("without __GFP_DIRECT_RECLAIM (or from atomic context)");
            }
            if !(flags.nofail && can_sleep) {
                return self.alloc_pages_failed(order);
            }
            // `__GFP_NOFAIL` can wait only for zones that have pages.
            if !self.zonelist_has_pages(flags) {
                warn_nofail("for zones with no pages in the pool");
                return self.alloc_pages_failed(order);
            }
            // `__GFP_NOFAIL`: never fails; some access to the reserves,
            // and a wait that grows to 100 ms between tries.
            if reserves == Reserves::None {
                reserves = Reserves::Min;
            }
            self.stats.nofail_retries.add(1, Relaxed);
            kernel::time::delay::fsleep(kernel::time::Delta::from_millis(backoff_ms));
            backoff_ms = (backoff_ms * 2).min(100);
        }
    }

    /// Whether any zone `flags`' zonelist walks has pages at all.
    fn zonelist_has_pages(&self, flags: Flags) -> bool {
        let preferred = flags.preferred_node();
        preferred < self.nodes.len()
            && zonelist(preferred, self.nodes.len(), flags.highest, flags.this_node)
                .filter_map(|(nid, ztype)| self.zone(nid, ztype))
                .any(|z| z.managed() > 0)
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
            // ZONE_BELOW_HIGH: a zone over its high watermark is over
            // `mark` too; one under it is flagged, so that its per-CPU
            // lists shrink and frees give back more. The flag is tested
            // first, so a zone under high pays no second check.
            let over_high = !zone.below_high() && {
                let ok = zone.watermark_ok(order, Mark::High, flags.highest, reserves);
                if !ok {
                    zone.set_below_high();
                }
                ok
            };
            if !over_high && !zone.watermark_ok(order, mark, flags.highest, reserves) {
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
        if !flags.nofail && crate::fault::should_fail(crate::fault::Site::Buddy, n << order.get() << PAGE_SHIFT) {
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
        // As `alloc_pages_bulk()` falls back to `__alloc_pages()` for one
        // page when its fast path got none: the slow path, with its drain
        // and reclaim.
        if got == 0 && n > 0 {
            if let Ok(block) = self.alloc_pages_slow(order, flags) {
                out(block);
                got = 1;
            }
        }
        got
    }

    /// Allocations and failures per order, zone fallbacks, slow paths
    /// that drained the per-CPU lists, and `__GFP_NOFAIL` waits. Sleeps
    /// (it reads every CPU's counts on that CPU).
    pub(crate) fn alloc_stats(&self) -> ([u64; NR_PAGE_ORDERS], [u64; NR_PAGE_ORDERS], u64, u64, u64) {
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
            self.stats.nofail_retries.load(Relaxed),
        )
    }

    /// The frame of a direct-map address, if it is a pool page.
    #[inline]
    pub(crate) fn pfn_of(&self, addr: *const u8) -> Option<Pfn> {
        self.source.pfn_of(addr)
    }

    /// The owner word of pool page `pfn` (the source layer's, lent to the
    /// layers above as `page->private` is lent to a page's owner).
    #[inline]
    pub(crate) fn owner(&self, pfn: Pfn) -> Option<&OnceWord> {
        self.source.owner(pfn)
    }

    /// The owner word of the frame at `addr` ([`Source::owner_of_addr`]:
    /// zero for frames near ours that are not ours).
    #[inline]
    pub(crate) fn owner_of_addr(&self, addr: *const u8) -> Option<&OnceWord> {
        self.source.owner_of_addr(addr)
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

mod tests;
