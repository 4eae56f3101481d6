// SPDX-License-Identifier: GPL-2.0

//! The elastic pool: growing it under pressure and giving the growth
//! back, as memory hotplug adds and removes memory blocks
//! (`mm/memory_hotplug.c`: `online_pages()`, `offline_pages()`, and
//! `init_per_zone_wmark_min()` after each).
//!
//! With `max_pool_mb` (a module parameter, and the `buddy/max_pool_mb`
//! knob within the room taken at load; 0, the default, never grows), the
//! pool takes more `MAX_PAGE_ORDER` blocks from its source (the node's CMA
//! area, or the page allocator on the node) when reclaim has nothing left
//! to give:
//!
//! - kswapd's `balance_pgdat()`, once its shrinkers give nothing and the
//!   node is still below its high watermark, grows the node a block at a
//!   time until it is balanced or the limit is reached;
//! - an allocation that may sleep and still finds nothing after direct
//!   reclaim grows the pool itself before failing, a block at a time
//!   along its zonelist, retrying after each, at most
//!   `MAX_RECLAIM_RETRIES` times (`__alloc_pages_slowpath()`'s bounded
//!   retry), so that a burst up to `max_pool_mb` never fails it. Not from
//!   inside reclaim (`PF_MEMALLOC`: the kernel never recurses into
//!   reclaim, and `cma_alloc()` migrates), nor for a caller without
//!   `__GFP_IO` or `__GFP_FS` or in a `memalloc_noio/nofs_save()` scope
//!   (migration may write back and allocate); kswapd, woken by them,
//!   grows for them. From the allocation path the watermarks follow only
//!   if `Pool::tuning` is free, and the per-CPU bounds never (they run on
//!   every CPU under `cpus_read_lock()`, which the caller may hold):
//!   kswapd recomputes both at its next look, within a second.
//!
//! The growth goes back when it is no longer needed: kswapd, while its
//! node holds grown blocks, wakes every second, and once the node has not
//! grown for `buddy/shrink_back_delay` seconds ([`SHRINK_BACK_DELAY`] by
//! default, so that bursts close together do not make it thrash) offlines every wholly free grown block that its
//! zone can spare above its high watermark. It drains the per-CPU lists
//! first only when that could free a block (some grown block lacks no
//! more free pages than the lists hold), and after a drain that freed
//! nothing waits 2, 4, ... up to 64 looks before the next
//! (`defer_compaction()`'s backoff), unless a block's worth of pages was
//! freed meanwhile. The kernel may take them sooner through the pool's
//! [`shrinker`](super::pool_shrinker) under its own memory pressure.
//! After every change the watermarks are recomputed from the new
//! `managed_pages`, with `min_free_kbytes` recalculated unless the one set
//! by hand is larger (`init_per_zone_wmark_min()`).
//!
//! Lock order: `Growth::lock` (a mutex: growth sleeps in `cma_alloc()`),
//! then the source's grown-chunks mutex and a zone's lock. `Pool::tuning`
//! is taken after `Growth::lock` is released, except by the kernel's
//! shrinker, which only tries the locks.

use kernel::{
    new_mutex,
    prelude::*,
    sync::{
        atomic::{
            Atomic,
            Relaxed, //
        },
        Mutex,
    },
};

use super::{
    Flags,
    PageBlock,
    Pool, //
};
use crate::{
    pfn::{
        Order,
        MAX_ORDER_NR_PAGES,
        PAGES_PER_MIB, //
    },
    watermark::{
        default_min_free_kbytes,
        Mark,
        Reserves, //
    },
    helpers::{
        zonemm_in_reclaim,
        zonemm_memalloc_scoped, //
    },
    zone::ZoneType,
    zonelist::zonelist,
};

/// Seconds a node must go without growing before kswapd gives its grown
/// blocks back, by default (`buddy/shrink_back_delay`).
pub(super) const SHRINK_BACK_DELAY: u32 = 3;

/// The most `buddy/shrink_back_delay` takes: an hour.
const MAX_SHRINK_BACK_DELAY: u32 = 3600;

/// How often kswapd looks at a node that holds grown blocks, in ms.
pub(super) const SHRINK_BACK_INTERVAL_MS: u32 = 1000;

/// Growth attempts of one allocation (`MAX_RECLAIM_RETRIES`).
const MAX_GROW_RETRIES: usize = 16;

/// The most a drain that freed nothing defers the next: 2^6 looks.
const DRAIN_MAX_DEFER_SHIFT: u32 = 6;

/// A node's shrink-back drain backoff (`compact_considered`,
/// `compact_defer_shift`), with the node's free pages after the last
/// drain that freed nothing. Only the node's kswapd writes it.
struct DrainDefer {
    considered: Atomic<u32>,
    shift: Atomic<u32>,
    mark: Atomic<usize>,
}

impl DrainDefer {
    const fn new() -> Self {
        Self { considered: Atomic::new(0), shift: Atomic::new(0), mark: Atomic::new(usize::MAX) }
    }

    /// Whether this look's drain is skipped; `free` is the node's free
    /// pages now (free and per-CPU lists).
    fn deferred(&self, free: usize) -> bool {
        if free >= self.mark.load(Relaxed).saturating_add(MAX_ORDER_NR_PAGES) {
            // A block's worth freed since: worth a drain again.
            self.shift.store(0, Relaxed);
        }
        let limit = 1u32 << self.shift.load(Relaxed);
        let considered = self.considered.load(Relaxed) + 1;
        self.considered.store(considered.min(limit), Relaxed);
        considered < limit
    }

    /// After a drain: `helped` if it let a block go back.
    fn result(&self, helped: bool, free: usize) {
        self.considered.store(0, Relaxed);
        let shift = self.shift.load(Relaxed);
        self.shift.store(if helped { 0 } else { (shift + 1).min(DRAIN_MAX_DEFER_SHIFT) }, Relaxed);
        self.mark.store(if helped { usize::MAX } else { free }, Relaxed);
    }
}

/// The pool's growth state and its `buddy/stats` counts.
///
/// # Invariants
///
/// `max_pages` is 0 or between `start_pages + MAX_ORDER_NR_PAGES` and
/// `limit`; `limit` is `start_pages` plus the source's grown slots.
pub(super) struct Growth {
    max_pages: Atomic<usize>,
    limit: usize,
    start_pages: usize,
    /// `user_min_free_kbytes` plus one, 0 while never set by hand.
    user_min_free_kbytes: Atomic<usize>,
    /// Serialises growing and shrinking (process context).
    lock: Pin<KBox<Mutex<()>>>,
    /// Per node: kswapd's looks since it last grew.
    idle: KVec<Atomic<u32>>,
    /// Looks (seconds) without growth before shrink-back, at most
    /// `MAX_SHRINK_BACK_DELAY`.
    shrink_back_delay: Atomic<u32>,
    /// Per node: shrink-back's drain backoff.
    drain_defer: KVec<DrainDefer>,
    /// 1 while the watermarks or the per-CPU bounds wait for kswapd
    /// (growth from the allocation path, or the kernel's shrinker).
    stale: Atomic<u32>,
    /// Drains of every CPU's lists by shrink-back (`pool_shrink_drain`).
    pool_shrink_drain: Atomic<u64>,
    /// Blocks added (`pool_grow`), refused by the source
    /// (`pool_grow_fail`), given back by kswapd (`pool_shrink`);
    /// allocations that grew the pool themselves (`pool_grow_stall`).
    pool_grow: Atomic<u64>,
    pool_grow_fail: Atomic<u64>,
    pool_grow_stall: Atomic<u64>,
    pool_shrink: Atomic<u64>,
    /// Pages the kernel's shrinker asked for and got.
    pub(super) pgscan_shrinker: Atomic<u64>,
    pub(super) pgsteal_shrinker: Atomic<u64>,
}

impl Growth {
    /// For a pool of `start_pages` whose source has room for `slots`
    /// grown blocks and whose limit is `max_pages` (0: none), over
    /// `nr_nodes` nodes. Process context.
    pub(super) fn new(start_pages: usize, slots: usize, max_pages: usize, nr_nodes: usize) -> Result<Self> {
        let limit = start_pages + slots * MAX_ORDER_NR_PAGES;
        let mut idle = KVec::with_capacity(nr_nodes, GFP_KERNEL)?;
        let mut drain_defer = KVec::with_capacity(nr_nodes, GFP_KERNEL)?;
        for _ in 0..nr_nodes {
            idle.push(Atomic::new(0), GFP_KERNEL)?;
            drain_defer.push(DrainDefer::new(), GFP_KERNEL)?;
        }
        Ok(Self {
            // INVARIANT: the source sized its slots from `max_pages`.
            max_pages: Atomic::new(if slots == 0 { 0 } else { max_pages.min(limit) }),
            limit,
            start_pages,
            user_min_free_kbytes: Atomic::new(0),
            lock: KBox::pin_init(new_mutex!((), "Growth::lock"), GFP_KERNEL)?,
            idle,
            shrink_back_delay: Atomic::new(SHRINK_BACK_DELAY),
            drain_defer,
            stale: Atomic::new(0),
            pool_shrink_drain: Atomic::new(0),
            pool_grow: Atomic::new(0),
            pool_grow_fail: Atomic::new(0),
            pool_grow_stall: Atomic::new(0),
            pool_shrink: Atomic::new(0),
            pgscan_shrinker: Atomic::new(0),
            pgsteal_shrinker: Atomic::new(0),
        })
    }

    /// `min_free_kbytes` was set by hand to `kbytes`.
    pub(super) fn set_user_min_free_kbytes(&self, kbytes: usize) {
        self.user_min_free_kbytes.store(kbytes.saturating_add(1), Relaxed);
    }
}

impl Pool {
    /// `max_pool_mb` now (0: the pool does not grow).
    pub(crate) fn max_pool_mb(&self) -> usize {
        self.growth.max_pages.load(Relaxed) / PAGES_PER_MIB
    }

    /// Sets `max_pool_mb`: 0 (no growth; grown blocks go back as they come
    /// free), or from the starting size plus one block up to the value
    /// given at load. Anything else is refused (`EINVAL`, one log line)
    /// and changes nothing.
    pub(crate) fn set_max_pool_mb(&self, mb: usize) -> Result {
        let g = &self.growth;
        let least = (g.start_pages + MAX_ORDER_NR_PAGES).div_ceil(PAGES_PER_MIB);
        let most = g.limit / PAGES_PER_MIB;
        if g.limit <= g.start_pages && mb != 0 {
            pr_err!("max_pool_mb={mb}: the pool was loaded without room to grow (max_pool_mb=0): only 0\n");
            return Err(EINVAL);
        }
        if mb != 0 && !(least..=most).contains(&mb) {
            pr_err!("max_pool_mb={mb}: must be 0 or between {least} and {most} (the room taken at load)\n");
            return Err(EINVAL);
        }
        // INVARIANT: checked just above (and `mb <= most` cannot overflow).
        // Lowered, kswapd gives back what is over it as it comes free, at
        // its next look (within a second).
        g.max_pages.store(mb * PAGES_PER_MIB, Relaxed);
        Ok(())
    }

    /// `buddy/shrink_back_delay`: the seconds a node must go without
    /// growing before kswapd gives its grown blocks back.
    pub(crate) fn shrink_back_delay(&self) -> u32 {
        self.growth.shrink_back_delay.load(Relaxed)
    }

    /// Sets `buddy/shrink_back_delay`, 0 (at kswapd's next look) to 3600
    /// seconds; anything else is refused (`EINVAL`, one log line) and
    /// changes nothing. The kernel's shrinker and `max_pool_mb` take
    /// grown blocks back whatever it is. Any context.
    pub(crate) fn set_shrink_back_delay(&self, seconds: usize) -> Result {
        match u32::try_from(seconds) {
            Ok(s) if s <= MAX_SHRINK_BACK_DELAY => {
                self.growth.shrink_back_delay.store(s, Relaxed);
                Ok(())
            }
            _ => {
                pr_err!("shrink_back_delay={seconds}: must be between 0 and {MAX_SHRINK_BACK_DELAY} seconds\n");
                Err(EINVAL)
            }
        }
    }

    /// Pages handed out: managed minus free (on the free and the per-CPU
    /// lists), read with no growth or shrink-back in between. Sleeps.
    pub(crate) fn pages_in_use(&self) -> usize {
        let _guard = self.growth.lock.lock();
        self.managed().saturating_sub(self.nr_free_pages())
    }

    /// Whether one more block fits under `max_pool_mb`. Lock-free.
    fn may_grow(&self) -> bool {
        let max = self.growth.max_pages.load(Relaxed);
        max != 0 && self.managed() + MAX_ORDER_NR_PAGES <= max
    }

    /// Whether node `nid` holds grown blocks. Lock-free.
    pub(super) fn has_grown(&self, nid: usize) -> bool {
        self.nodes.get(nid).is_some_and(|n| n.iter().flatten().any(|z| z.grown().0 > 0))
    }

    /// Grows node `nid` by one `MAX_PAGE_ORDER` block from its source, if
    /// `max_pool_mb` allows and the source has one; the watermarks follow
    /// ([`Pool::resized`], `from_alloc` for the allocation path).
    /// Returns the zone type that grew. Must not be called from atomic
    /// context: it sleeps.
    pub(crate) fn grow_node(&self, nid: usize, from_alloc: bool) -> Option<ZoneType> {
        let ztype = self.grow_node_locked(nid)?;
        self.resized(from_alloc);
        Some(ztype)
    }

    /// [`Pool::grow_node`] less the watermarks, under `Growth::lock`.
    fn grow_node_locked(&self, nid: usize) -> Option<ZoneType> {
        let _guard = self.growth.lock.lock();
        if !self.may_grow() {
            return None;
        }
        let Some((pfn, ztype)) = self.source.grow(nid as i32) else {
            self.growth.pool_grow_fail.add(1, Relaxed);
            return None;
        };
        // A block of a zone the pool does not have there (or the Movable
        // zone, which is carved at load only) goes straight back.
        let zone = self.zone(nid, ztype).filter(|z| z.ztype() != ZoneType::Movable);
        if !zone.is_some_and(|z| z.online_block(pfn)) {
            self.source.shrink(pfn);
            self.growth.pool_grow_fail.add(1, Relaxed);
            return None;
        }
        self.growth.pool_grow.add(1, Relaxed);
        if let Some(idle) = self.growth.idle.get(nid) {
            idle.store(0, Relaxed);
        }
        Some(ztype)
    }

    /// After the pool's size changed: from kswapd or another context that
    /// may wait for `Pool::tuning` and run on every CPU, the watermarks and
    /// the per-CPU bounds; from the allocation path (`from_alloc`), the
    /// watermarks only and only if `Pool::tuning` is free, the rest left to
    /// kswapd ([`Pool::update_stale_bounds`]): the caller may hold
    /// `cpus_read_lock()` or locks a knob writer waits for. Sleeps unless
    /// `from_alloc`.
    fn resized(&self, from_alloc: bool) {
        if from_alloc {
            self.growth.stale.store(1, Relaxed);
            if let Some(_tuning) = self.tuning.try_lock() {
                self.hotplug_watermarks(false);
            }
        } else {
            let _tuning = self.tuning.lock();
            self.growth.stale.store(0, Relaxed);
            self.hotplug_watermarks(true);
        }
    }

    /// kswapd's catch-up after growth from the allocation path or a scan
    /// by the kernel's shrinker: the watermarks and per-CPU bounds again.
    /// Sleeps.
    pub(super) fn update_stale_bounds(&self) {
        if self.growth.stale.load(Relaxed) != 0 {
            self.resized(false);
        }
    }

    /// `init_per_zone_wmark_min()` after the pool's size changed:
    /// `min_free_kbytes` again from the pages now managed, unless the one
    /// set by hand is larger, then the watermarks, lowmem reserves and
    /// (with `pcp`, which sleeps) the per-CPU bounds. Callers hold
    /// `Pool::tuning`.
    fn hotplug_watermarks(&self, pcp: bool) {
        let new = default_min_free_kbytes(self.lowmem_pages());
        let user = self.growth.user_min_free_kbytes.load(Relaxed);
        let kbytes = if user > 0 && user - 1 >= new { user - 1 } else { new };
        self.setup_watermarks_with(kbytes, pcp);
    }

    /// The slow path's growth (see the file's doc): after direct reclaim
    /// failed, one block at a time along the zonelist of `flags`, retrying
    /// the allocation after each. A node whose growth lands in a zone the
    /// allocation may not use (above `flags.highest`) is not grown again.
    /// Sleeps.
    pub(super) fn direct_grow(&self, order: Order, flags: Flags, reserves: Reserves) -> Option<PageBlock<'_>> {
        if !self.may_grow() || !Self::may_grow_directly(flags) {
            return None;
        }
        self.growth.pool_grow_stall.add(1, Relaxed);
        let preferred = flags.preferred_node();
        // Nodes (below 64) whose growth this allocation cannot use.
        let mut useless = 0u64;
        for _ in 0..MAX_GROW_RETRIES {
            let mut nodes = zonelist(preferred, self.nodes.len(), flags.highest, flags.this_node).map(|(nid, _)| nid);
            let mut last = usize::MAX;
            let grew = nodes.any(|nid| {
                let fresh = nid != last && useless & 1u64.checked_shl(nid as u32).unwrap_or(0) == 0;
                last = nid;
                if !fresh {
                    return false;
                }
                match self.grow_node(nid, true) {
                    Some(ztype) if ztype <= flags.highest => true,
                    Some(_) => {
                        useless |= 1u64.checked_shl(nid as u32).unwrap_or(0);
                        false
                    }
                    None => false,
                }
            });
            if !grew {
                return None;
            }
            if let Some(block) = self.get_page_from_freelist(order, flags, Mark::Min, reserves) {
                return Some(block);
            }
        }
        None
    }

    /// Whether an allocation with `flags` may grow the pool itself: it may
    /// sleep, has `__GFP_IO` and `__GFP_FS`, runs in no
    /// `memalloc_noio/nofs_save()` scope and is not reclaiming
    /// (`PF_MEMALLOC`): `cma_alloc()` and `alloc_pages_node()` may
    /// migrate, write back and reclaim on its behalf.
    fn may_grow_directly(flags: Flags) -> bool {
        // SAFETY: No preconditions.
        flags.may_sleep && flags.io && flags.fs && !unsafe { zonemm_in_reclaim() } && !unsafe { zonemm_memalloc_scoped() }
    }

    /// kswapd's growth for node `nid` once reclaim gave nothing: a block
    /// at a time until `balanced` says so, the limit is reached, or the
    /// source has none. Returns the blocks added. Sleeps.
    /// A block of a zone above `highest` ends it: more would not help.
    pub(super) fn grow_until(&self, nid: usize, highest: ZoneType, balanced: impl Fn() -> bool, stop: impl Fn() -> bool) -> usize {
        let mut grown = 0;
        while !balanced() && !stop() {
            let Some(ztype) = self.grow_node(nid, false) else { break };
            grown += 1;
            if ztype > highest {
                break;
            }
        }
        grown
    }

    /// kswapd's look at node `nid` while it holds grown blocks (`tick`:
    /// its once-a-second look, not a wakeup): once the node has not grown
    /// for [`SHRINK_BACK_DELAY`] such looks (at once if it is over
    /// `max_pool_mb`), gives back every wholly free grown block its zone
    /// can spare above its high watermark, draining the per-CPU lists
    /// first only if that could free one and no backoff holds (see the
    /// file's doc). Returns the blocks given back. Sleeps.
    pub(super) fn shrink_back(&self, nid: usize, tick: bool) -> usize {
        if !self.has_grown(nid) {
            return 0;
        }
        let max = self.growth.max_pages.load(Relaxed);
        let over = self.managed() > max;
        let idle = self.growth.idle.get(nid).map_or(0, |i| {
            let v = i.load(Relaxed).saturating_add(u32::from(tick));
            i.store(v, Relaxed);
            v
        });
        if idle < self.growth.shrink_back_delay.load(Relaxed) && !over {
            return 0;
        }
        let mut given = self.offline_free_blocks(nid);
        if let Some(defer) = self.growth.drain_defer.get(nid) {
            let could_free = self.nodes[nid].iter().flatten().any(|z| z.grown().0 > 0 && z.grown_drain_could_free());
            if could_free && !defer.deferred(self.grown_zones_free(nid)) {
                self.growth.pool_shrink_drain.add(1, Relaxed);
                for zone in self.nodes[nid].iter().flatten() {
                    if zone.grown().0 > 0 {
                        zone.drain();
                    }
                }
                let freed = self.offline_free_blocks(nid);
                defer.result(freed > 0, self.grown_zones_free(nid));
                given += freed;
            }
        }
        if given > 0 {
            self.growth.pool_shrink.add(given as u64, Relaxed);
            self.resized(false);
        }
        given
    }

    /// Free pages (free and per-CPU lists) of node `nid`'s zones that hold
    /// grown blocks. Lock-free.
    fn grown_zones_free(&self, nid: usize) -> usize {
        let mut free = 0;
        for zone in self.nodes[nid].iter().flatten() {
            if zone.grown().0 > 0 {
                free += zone.free_pages() + zone.pcp_pages();
            }
        }
        free
    }

    /// Offlines and gives back node `nid`'s wholly free grown blocks that
    /// their zones can spare above the high watermark. Sleeps.
    fn offline_free_blocks(&self, nid: usize) -> usize {
        let _guard = self.growth.lock.lock();
        let mut given = 0;
        for zone in self.nodes[nid].iter().flatten().filter(|z| z.grown().0 > 0) {
            while let Some(pfn) = zone.offline_free_block(zone.watermarks().high, false) {
                self.source.shrink(pfn);
                given += 1;
            }
        }
        given
    }

    /// Pages the kernel's shrinker could take now: wholly free grown
    /// blocks above each zone's high watermark, and, while the pool holds
    /// grown blocks, the pages zonemm's own shrinkers keep idle (the
    /// region cache's lazily freed mappings), which go back to the pool
    /// and from there, once their blocks are wholly free, to their
    /// sources. A pool that has not grown has nothing to give the kernel,
    /// and keeps its caches. Never waits.
    pub(super) fn shrinker_count(&self) -> usize {
        let mut grown = false;
        let blocks = self
            .zones()
            .filter(|z| z.grown().0 > 0)
            .map(|z| {
                grown = true;
                z.free_grown_blocks(z.watermarks().high) * MAX_ORDER_NR_PAGES
            })
            .sum::<usize>();
        blocks + if grown { self.shrinkers.try_count() } else { 0 }
    }

    /// The kernel's shrinker's scan: about `nr` pages, first wholly free
    /// grown blocks, then (while any are left) what zonemm's own
    /// shrinkers keep idle, after which the grown blocks that came wholly
    /// free go too; never takes a zone below its high watermark and never
    /// waits for a lock (`None`: busy, try later). Returns the objects
    /// [`Pool::shrinker_count`] counted that were freed: the blocks' pages
    /// given back first and the idle pages (the blocks those free are the
    /// same pages, not counted again; `pgsteal_shrinker` counts every page
    /// given back to a source). Process context; sleeps only as the own
    /// shrinkers' scans do (unmapping).
    pub(super) fn shrinker_scan(&self, nr: usize) -> Option<usize> {
        self.growth.pgscan_shrinker.add(nr as u64, Relaxed);
        let mut freed = self.shrink_grown(nr)?;
        if freed < nr && self.zones().any(|z| z.grown().0 > 0) {
            // Empty slabs come back after a grace period, in kswapd,
            // which then gives back their blocks.
            self.shrinkers.set_for_kernel();
            if let Some(idle) = self.shrinkers.try_shrink(nr - freed) {
                // Again after: a run of works already under way may have
                // taken the mark before this scan queued its own.
                self.shrinkers.set_for_kernel();
                if idle > 0 {
                    freed += idle;
                    // The pages just freed may sit on this CPU's lists.
                    self.drain_local();
                    // Whatever came wholly free (`usize::MAX`: every such
                    // block, as the idle pages were asked for).
                    self.shrink_grown(usize::MAX);
                }
            }
        }
        Some(freed)
    }

    /// After RCU works the kernel's shrinker queued: the grown blocks
    /// their pages left wholly free, above the zones' high watermarks, go
    /// back to their sources (if the locks are free). Process context;
    /// does not sleep.
    pub(super) fn give_back_free_grown(&self) {
        let _ = self.shrink_grown(usize::MAX);
    }

    /// Gives back wholly free grown blocks (about `nr` pages, whole
    /// blocks) above the zones' high watermarks, without waiting for a
    /// lock (`None`: busy). Returns the pages given back. Process context;
    /// does not sleep.
    fn shrink_grown(&self, nr: usize) -> Option<usize> {
        if nr == 0 {
            return Some(0);
        }
        let _guard = self.growth.lock.try_lock()?;
        let _tuning = self.tuning.try_lock()?;
        let mut freed = 0;
        for zone in self.zones().filter(|z| z.grown().0 > 0) {
            while freed < nr {
                let Some(pfn) = zone.offline_free_block(zone.watermarks().high, true) else { break };
                match self.source.try_shrink(pfn) {
                    Some(true) => freed += MAX_ORDER_NR_PAGES,
                    // The grown-chunks mutex is busy (a reader of
                    // `source/areas`): the block goes back to its zone.
                    _ => {
                        zone.online_block(pfn);
                        break;
                    }
                }
            }
        }
        if freed > 0 {
            self.growth.pgsteal_shrinker.add(freed as u64, Relaxed);
            // The per-CPU bounds follow at kswapd's next look (they run on
            // every CPU).
            self.hotplug_watermarks(false);
            self.growth.stale.store(1, Relaxed);
        }
        Some(freed)
    }

    /// The growth counts for `buddy/stats`, with their names.
    pub(crate) fn growth_stats(&self) -> [(&'static str, u64); 9] {
        let g = &self.growth;
        [
            ("pool_grow", g.pool_grow.load(Relaxed)),
            ("pool_grow_fail", g.pool_grow_fail.load(Relaxed)),
            ("pool_grow_stall", g.pool_grow_stall.load(Relaxed)),
            ("pool_shrink", g.pool_shrink.load(Relaxed)),
            ("pool_shrink_drain", g.pool_shrink_drain.load(Relaxed)),
            ("pgscan_shrinker", g.pgscan_shrinker.load(Relaxed)),
            ("pgsteal_shrinker", g.pgsteal_shrinker.load(Relaxed)),
            ("pool_pages", self.managed() as u64),
            ("pool_start_pages", g.start_pages as u64),
        ]
    }
}

mod tests;
