// SPDX-License-Identifier: GPL-2.0

//! One zone of the pool: `struct zone` of `include/linux/mmzone.h`.
//!
//! The free lists (the core's [`page_alloc::Zone`]) live under `lock`, an
//! interrupt-safe spinlock (`zone->lock` is taken with
//! `spin_lock_irqsave()`). Each CPU has its own [`PerCpuPages`] in a
//! [`PerCpu`], entered with the local trylock the kernel's
//! `pcp_spin_trylock()` became: an interrupt that finds its CPU's lists in
//! use goes straight to the free lists instead. Watermarks,
//! `lowmem_reserve` and a copy of the free counts are atomics, so the
//! watermark check of the fast path takes no lock, as
//! `zone_watermark_fast()` reads `NR_FREE_PAGES` without one.
//!
//! The lists' `high` tunes itself between `high_min` and `high_max`
//! (`zone_set_pageset_high_and_batch()`: from the low watermark and from an
//! eighth of the zone, split over the node's CPUs), recomputed whenever
//! the watermarks change. `ZONE_BELOW_HIGH` is a flag word set by an
//! allocation that finds the zone under its high watermark and cleared by
//! a free that gives pages back once it is above again. As each CPU's
//! vmstat work calls `decay_pcp_high()` every second, zonemm's per-CPU
//! tick (`helpers.c`, started at load) runs [`Zone::decay_local`]: a
//! `high` raised by a burst comes down an eighth a second, and what is
//! over it goes back.
//!
//! Lock order: a CPU's lists (the local trylock), then the zone's `lock`
//! (as `rmqueue_bulk()` and `free_pcppages_bulk()` nest them). Nothing
//! here sleeps or allocates inside either; only the functions that say
//! so (those reaching every CPU's lists) sleep.

use kernel::{
    prelude::*,
    sync::atomic::{
        Atomic,
        Relaxed, //
    },
};

use crate::compat::{
    new_spinlock_irq,
    SpinLockIrq, //
};

use crate::{
    page_alloc::{
        self,
        BuddyStats,
        MigrateType,
        PageMeta,
        MIGRATE_PCPTYPES,
        PAGEBLOCK_NR_PAGES, //
    },
    helpers::{
        zonemm_nr_split_cpus,
        zonemm_pfn_to_virt, //
    },
    once::OnceWord,
    source::BlockMap,
    percpu::{
        CpuGuard,
        PerCpu, //
    },
    pcp::{
        check_high_batch,
        default_batch,
        default_high_bounds,
        pcp_allowed_order,
        PcpStats,
        PerCpuPages,
        PCP_SLOTS, //
    },
    pfn::{
        Order,
        Pfn,
        PfnRange,
        MAX_ORDER_NR_PAGES,
        NR_PAGE_ORDERS,
        PAGE_SHIFT, //
    },
    watermark::{
        watermark_ok,
        Mark,
        Reserves,
        Watermarks,
    },
    zone::{
        ZoneType,
        MAX_NR_ZONES, //
    },
};

mod grow;
mod pageset;

pub(crate) use grow::GROW_EMPTY;

pub(crate) type FreeLists = page_alloc::Zone<KVVec<PageMeta>>;
type Pcp = PerCpuPages<KVVec<u32>>;

/// One CPU's part of a zone: its lists and its allocation counts (the
/// kernel's per-CPU `vm_event_states`), touched only on that CPU.
struct ZoneCpu {
    pcp: Pcp,
    allocs: [u64; NR_PAGE_ORDERS],
}

/// One CPU's lists as `/proc/zoneinfo` shows them under `pagesets`.
#[derive(Clone, Copy, Default)]
pub(crate) struct PcpCounts {
    /// Pages on the lists.
    pub(crate) count: usize,
    /// `high` as tuned now.
    pub(crate) high: usize,
    /// `batch`.
    pub(crate) batch: usize,
    /// `high_min`.
    pub(crate) high_min: usize,
    /// `high_max`.
    pub(crate) high_max: usize,
}

/// A copy of a zone's counters, taken under its locks.
pub(crate) struct ZoneSnapshot {
    /// `free_area[order].nr_free`.
    pub(crate) nr_free: [usize; NR_PAGE_ORDERS],
    /// Free blocks per order and migrate type.
    pub(crate) nr_free_of: [[usize; NR_PAGE_ORDERS]; MIGRATE_PCPTYPES],
    /// Pageblocks per migrate type.
    pub(crate) pageblocks: [usize; MIGRATE_PCPTYPES],
    /// Split, merge and fallback counts.
    pub(crate) stats: BuddyStats,
}

/// One zone: free lists, per-CPU lists, watermarks.
///
/// # Invariants
///
/// Page index `i` of the free lists is frame `slot_pfn[i >> MAX_PAGE_ORDER]
/// + (i & (MAX_ORDER_NR_PAGES - 1))`, one of the zone's own pages (or a
/// reserved padding entry, never handed out). The first `nr_base` slots
/// are the fixed chunks', sorted; the rest are grown blocks
/// ([`grow`]), each [`GROW_EMPTY`] while its pages are all reserved.
#[pin_data]
pub(crate) struct Zone {
    nid: usize,
    ztype: ZoneType,
    /// `managed_pages`: changes only as grown blocks come and go.
    managed: OnceWord,
    spanned: usize,
    slot_pfn: KVec<OnceWord>,
    nr_base: usize,
    /// The grown slots by block, over the frames growth can bring
    /// ([`grow`]); written under `lock`.
    grown_map: BlockMap,
    /// `pfn_to_kaddr(pfn) - (pfn << PAGE_SHIFT)`, the same for every
    /// lowmem frame (the direct map is linear): [`Zone::virt`] with no
    /// call.
    virt_delta: usize,
    #[pin]
    lock: SpinLockIrq<FreeLists>,
    cpus: PerCpu<ZoneCpu>,
    /// Allocations served from the free lists straight, per order,
    /// written under `lock` (a load and a store, no read-modify-write).
    allocs: [Atomic<u64>; NR_PAGE_ORDERS],
    free_pages: OnceWord,
    free_orders: OnceWord,
    /// Each pageblock's migrate type, copied from the free lists whenever
    /// one changes, for frees to read without the zone lock
    /// (`get_pfnblock_migratetype()` reads the pageblock bitmap so).
    pageblock_mt: KVec<OnceWord>,
    /// The free lists' pageblock change count when `pageblock_mt` was
    /// copied.
    pageblocks_copied: Atomic<u64>,
    wmark: [OnceWord; 3],
    lowmem_reserve: [OnceWord; MAX_NR_ZONES],
    /// CPUs `high` is split over (`nr_split_cpus` of `zone_highsize()`).
    nr_split_cpus: usize,
    /// `ZONE_BELOW_HIGH`: 1 while the zone is under its high watermark.
    below_high: OnceWord,
    /// `pageset_high_min`, `pageset_high_max` and `pageset_batch`, every
    /// CPU's values, written under `Pool::tuning`.
    pageset: [OnceWord; 3],
    /// `high` set by hand (then `high_min == high_max`), 0 while tuned.
    pageset_high_set: OnceWord,
}

impl Zone {
    /// A zone of type `ztype` on node `nid` over `spans` (sorted, disjoint
    /// frame ranges), with room for `grow_slots` grown blocks from frames
    /// `grow_span` (`[start, end)`: the node's). Every
    /// pageblock starts `MIGRATE_MOVABLE`, as at boot.
    ///
    /// Must not be called from atomic context: it allocates.
    pub(crate) fn new(nid: usize, ztype: ZoneType, spans: &[PfnRange], grow_slots: usize, grow_span: (usize, usize)) -> Result<Pin<KBox<Self>>> {
        // Lay each span out at its offset in its MAX_ORDER slot, so that
        // index arithmetic is frame arithmetic.
        let mut slot_pfn = KVec::<usize>::new();
        let mut starts = KVec::<usize>::new();
        for span in spans {
            let first = span.start.align_down(Order::MAX).0;
            if slot_pfn.last() != Some(&first) {
                slot_pfn.push(first, GFP_KERNEL)?;
            }
            starts.push((slot_pfn.len() - 1) * MAX_ORDER_NR_PAGES + (span.start.0 - first), GFP_KERNEL)?;
            let last = Pfn(span.end().0 - 1).align_down(Order::MAX).0;
            let mut pfn = first;
            while pfn < last {
                pfn += MAX_ORDER_NR_PAGES;
                slot_pfn.push(pfn, GFP_KERNEL)?;
            }
        }
        let nr_base = slot_pfn.len();
        let spanned = (nr_base + grow_slots) * MAX_ORDER_NR_PAGES;
        let pfn0 = slot_pfn.first().copied().ok_or(EINVAL)?;
        let grown_map = if grow_slots == 0 { BlockMap::empty() } else { BlockMap::new(grow_span.0, grow_span.1)? };
        let slot_pfn = Iterator::chain(slot_pfn.iter().copied(), (0..grow_slots).map(|_| GROW_EMPTY))
            .try_fold(KVec::new(), |mut v, p| v.push(OnceWord::new(p), GFP_KERNEL).map(|_| v))?;
        // SAFETY: No preconditions: `pfn_to_kaddr()` is arithmetic
        // (`__va()`), which holds for every lowmem frame, the zone's too.
        let virt0 = unsafe { zonemm_pfn_to_virt(pfn0 as c_ulong) } as usize;
        let virt_delta = virt0.wrapping_sub(pfn0 << PAGE_SHIFT);
        let meta = KVVec::from_elem(PageMeta::RESERVED, spanned, GFP_KERNEL)?;
        let mut lists = FreeLists::new(meta);
        for (span, &start) in spans.iter().zip(starts.iter()) {
            if !lists.add_span(start, span.nr_pages, MigrateType::Movable) {
                pr_err!("zone {} of node {}: overlapping spans\n", ztype.name(), nid);
                return Err(EINVAL);
            }
        }
        let nr_managed = lists.managed();
        // SAFETY: No preconditions: it reads the node's CPU mask, and
        // `nid` is a node id below `nr_node_ids` (the chunk's own node).
        let nr_split_cpus = unsafe { zonemm_nr_split_cpus(nid as c_int) } as usize;
        let batch = default_batch(nr_managed);
        // The watermarks are 0 until `Pool::new` sets them and calls
        // `Zone::pcp_update`, as `setup_zone_pageset()` runs before
        // `setup_per_zone_wmarks()`.
        let (high_min, high_max) = default_high_bounds(0, nr_managed, batch, nr_split_cpus);
        let cpus = PerCpu::new(|_| {
            let slots = KVVec::from_elem(0u32, PCP_SLOTS, GFP_KERNEL)?;
            let pcp = Pcp::new(slots, high_min, high_max, batch).map_err(|_| EINVAL)?;
            Ok(ZoneCpu { pcp, allocs: [0; NR_PAGE_ORDERS] })
        })?;
        let free_orders = Self::free_orders_of(&lists);
        let mut pageblock_mt = KVec::with_capacity(spanned / PAGEBLOCK_NR_PAGES, GFP_KERNEL)?;
        for pb in (0..spanned).step_by(PAGEBLOCK_NR_PAGES) {
            pageblock_mt.push(OnceWord::new(lists.pageblock_mt(pb) as usize), GFP_KERNEL)?;
        }
        KBox::pin_init(
            try_pin_init!(Self {
                nid,
                ztype,
                managed: OnceWord::new(nr_managed),
                spanned,
                // INVARIANT: the spans were laid out slot by slot above,
                // the grown slots empty.
                slot_pfn,
                nr_base,
                grown_map,
                virt_delta,
                lock <- new_spinlock_irq!(lists, "Zone::lock"),
                cpus,
                allocs: [const { Atomic::new(0) }; NR_PAGE_ORDERS],
                free_pages: OnceWord::new(nr_managed),
                free_orders: OnceWord::new(free_orders as usize),
                pageblock_mt,
                pageblocks_copied: Atomic::new(0),
                wmark: [const { OnceWord::new(0) }; 3],
                lowmem_reserve: [const { OnceWord::new(0) }; MAX_NR_ZONES],
                nr_split_cpus,
                below_high: OnceWord::new(0),
                pageset: [OnceWord::new(high_min), OnceWord::new(high_max), OnceWord::new(batch)],
                pageset_high_set: OnceWord::new(0),
            }? Error),
            GFP_KERNEL,
        )
    }

    /// Bytes of bookkeeping: the page array (`PageMeta` per spanned page),
    /// the per-CPU lists with their rings, and the slot map.
    pub(crate) fn metadata_bytes(&self) -> (usize, usize, usize) {
        let meta = self.spanned * core::mem::size_of::<PageMeta>();
        let pcp = self.cpus.len() * (core::mem::size_of::<ZoneCpu>().next_multiple_of(64) + PCP_SLOTS * core::mem::size_of::<u32>());
        let maps = self.slot_pfn.capacity() * core::mem::size_of::<usize>()
            + self.pageblock_mt.capacity() * core::mem::size_of::<OnceWord>()
            + self.grown_map.bytes()
            + core::mem::size_of::<Self>();
        (meta, pcp, maps)
    }

    /// The node.
    pub(crate) fn nid(&self) -> usize {
        self.nid
    }

    /// The zone type.
    pub(crate) fn ztype(&self) -> ZoneType {
        self.ztype
    }

    /// Pages handed to the zone (`managed_pages`).
    pub(crate) fn managed(&self) -> usize {
        self.managed.read()
    }

    /// Pages the zone's index space spans, padding included.
    pub(crate) fn spanned(&self) -> usize {
        self.spanned
    }

    /// Free pages on the free lists (`NR_FREE_PAGES`), as last published.
    pub(crate) fn free_pages(&self) -> usize {
        self.free_pages.read()
    }

    /// The frame of page index `idx`: one of a fixed chunk's, or of a
    /// grown slot holding a block (the index of a page the caller holds;
    /// compaction scans only the fixed chunks').
    pub(crate) fn pfn(&self, idx: u32) -> Pfn {
        let idx = idx as usize;
        Pfn(self.slot_pfn[idx / MAX_ORDER_NR_PAGES].read() + idx % MAX_ORDER_NR_PAGES)
    }

    /// Whether page index `idx` heads a block of `order` of this zone that
    /// sits at `addr` in the direct map: the check a free makes of an
    /// index it was handed rather than found. Lock-free.
    #[inline(always)]
    pub(crate) fn heads_at(&self, idx: u32, order: Order, addr: *const u8) -> bool {
        let idx = idx as usize;
        let Some(first) = self.slot_pfn.get(idx / MAX_ORDER_NR_PAGES) else { return false };
        let pfn = first.read() + idx % MAX_ORDER_NR_PAGES;
        idx % order.nr_pages() == 0 && (pfn << PAGE_SHIFT).wrapping_add(self.virt_delta) == addr as usize
    }

    /// The page index of frame `pfn`, if it is one of the zone's.
    pub(crate) fn index_of(&self, pfn: Pfn) -> Option<u32> {
        let first = pfn.align_down(Order::MAX).0;
        let slot = self.slot_pfn[..self.nr_base]
            .binary_search_by(|p| p.read().cmp(&first))
            .ok()
            .or_else(|| self.grown_slot(first))?;
        // CAST: zone indices fit in u32 (checked by `Pool::new`).
        Some((slot * MAX_ORDER_NR_PAGES + (pfn.0 - first)) as u32)
    }

    /// The direct-map address of page index `idx`.
    #[inline]
    pub(crate) fn virt(&self, idx: u32) -> *mut u8 {
        // `pfn_to_kaddr()`: by the type invariant the frame is one of the
        // zone's pages, which are lowmem, so in the linear direct map.
        (self.pfn(idx).0 << PAGE_SHIFT).wrapping_add(self.virt_delta) as *mut u8
    }

    fn free_orders_of(lists: &FreeLists) -> u32 {
        (0..NR_PAGE_ORDERS as u32)
            .filter(|&o| Order::new(o).is_some_and(|o| lists.free_area(o).nr_free() > 0))
            .fold(0, |mask, o| mask | 1 << o)
    }

    /// Publishes the free counts for the lock-free watermark check.
    fn publish(&self, lists: &FreeLists) {
        self.free_pages.write(lists.nr_free_pages());
        self.free_orders.write(Self::free_orders_of(lists) as usize);
        // Copy the pageblock types again after any changed (a claim, or a
        // merge across pageblocks that retypes the merged block).
        let changes = lists.pageblock_changes();
        if changes != self.pageblocks_copied.load(Relaxed) {
            for (i, mt) in self.pageblock_mt.iter().enumerate() {
                mt.write(lists.pageblock_mt(i * PAGEBLOCK_NR_PAGES) as usize);
            }
            self.pageblocks_copied.store(changes, Relaxed);
        }
    }

    /// The migrate type of the pageblock holding page `idx`, as last copied
    /// under the zone lock. Lock-free.
    pub(crate) fn pageblock_mt(&self, idx: u32) -> MigrateType {
        let mt = self.pageblock_mt.get(idx as usize / PAGEBLOCK_NR_PAGES).map_or(0, |m| m.read());
        MigrateType::ALL.get(mt).copied().unwrap_or(MigrateType::Movable)
    }

    /// The watermarks.
    pub(crate) fn watermarks(&self) -> Watermarks {
        Watermarks {
            min: self.wmark[0].read(),
            low: self.wmark[1].read(),
            high: self.wmark[2].read(),
        }
    }

    /// Sets the watermarks (`__setup_per_zone_wmarks()`).
    pub(crate) fn set_watermarks(&self, w: Watermarks) {
        self.wmark[0].write(w.min);
        self.wmark[1].write(w.low);
        self.wmark[2].write(w.high);
    }

    /// `lowmem_reserve[]`.
    pub(crate) fn lowmem_reserve(&self) -> [usize; MAX_NR_ZONES] {
        core::array::from_fn(|j| self.lowmem_reserve[j].read())
    }

    /// Sets `lowmem_reserve[]`.
    pub(crate) fn set_lowmem_reserve(&self, reserve: &[usize; MAX_NR_ZONES]) {
        for (r, &v) in self.lowmem_reserve.iter().zip(reserve) {
            r.write(v);
        }
    }

    /// `zone_watermark_fast()`: whether a block of `order` for an
    /// allocation whose highest zone is `highest` may come from here.
    pub(crate) fn watermark_ok(&self, order: Order, mark: Mark, highest: ZoneType, reserves: Reserves) -> bool {
        self.watermark_ok_plus(order, mark, 0, highest, reserves)
    }

    /// [`Zone::watermark_ok`] with `extra` pages more to stay above, as
    /// `alloc_pages_bulk()` checks for its whole batch.
    pub(crate) fn watermark_ok_plus(&self, order: Order, mark: Mark, extra: usize, highest: ZoneType, reserves: Reserves) -> bool {
        let mask = self.free_orders.read();
        watermark_ok(
            self.free_pages(),
            order,
            self.wmark[mark as usize].read() + extra,
            self.lowmem_reserve[highest.index()].read(),
            reserves,
            |o| (mask >> o & 1) as usize,
        )
    }

    /// Whether `ZONE_BELOW_HIGH` is set.
    #[inline]
    pub(crate) fn below_high(&self) -> bool {
        self.below_high.read() != 0
    }

    /// Sets `ZONE_BELOW_HIGH`: an allocation found the zone under its high
    /// watermark (`get_page_from_freelist()`).
    pub(crate) fn set_below_high(&self) {
        self.below_high.write(1);
    }

    /// `rmqueue()`: a block of `order` as `mt`, through this CPU's lists
    /// for small orders, straight from the free lists for larger ones or
    /// when an interrupted user holds this CPU's lists. Returns its page
    /// index. Any context but NMI.
    #[inline(always)]
    pub(crate) fn rmqueue(&self, order: Order, mt: MigrateType) -> Option<u32> {
        if pcp_allowed_order(order) {
            let guard = CpuGuard::new();
            if let Some(mut c) = self.cpus.try_lock_in(&guard) {
                let idx = match c.pcp.pop(order, mt) {
                    Some(idx) => Some(idx),
                    None => self.refill(&mut c.pcp, order, mt),
                };
                if idx.is_some() {
                    let n = &mut c.allocs[order.index()];
                    *n = n.wrapping_add(1);
                }
                return idx;
            };
        }
        self.rmqueue_locked(order, mt)
    }

    /// `rmqueue_buddy()`: one block from the free lists.
    #[inline(never)]
    fn rmqueue_locked(&self, order: Order, mt: MigrateType) -> Option<u32> {
        let mut lists = self.lock.lock();
        // CAST: zone indices fit in u32 (checked by `Pool::new`).
        let idx = lists.rmqueue(order, mt).map(|i| i as u32);
        if idx.is_some() {
            let n = &self.allocs[order.index()];
            n.store(n.load(Relaxed) + 1, Relaxed);
        }
        self.publish(&lists);
        idx
    }

    /// `rmqueue_bulk()` for a CPU's empty list: `nr_pcp_alloc()` blocks
    /// under one hold of the zone lock, the first block for the caller.
    #[inline(never)]
    fn refill(&self, pcp: &mut Pcp, order: Order, mt: MigrateType) -> Option<u32> {
        let below_high = self.below_high();
        let mut lists = self.lock.lock();
        let idx = pcp.refill(order, mt, below_high, || Self::take_for_pcp(&mut lists, order, mt));
        self.publish(&lists);
        idx
    }

    /// One block for a per-CPU refill; an injected fault ends the batch
    /// early, as a zone running dry part-way does.
    fn take_for_pcp(lists: &mut FreeLists, order: Order, mt: MigrateType) -> Option<u32> {
        if crate::fault::should_fail(crate::fault::Site::Buddy, order.nr_pages() << crate::pfn::PAGE_SHIFT) {
            return None;
        }
        // CAST: zone indices fit in u32 (checked by `Pool::new`).
        lists.rmqueue(order, mt).map(|i| i as u32)
    }

    /// Up to `n` blocks of `order` as `mt`, handed to `f` one by one, for
    /// `alloc_pages_bulk()`: this CPU's lists are entered once for the
    /// lot, and once they are empty the zone lock is taken once for the
    /// rest. Returns how many `f` got. `f` must not sleep. Any context but
    /// NMI.
    pub(crate) fn rmqueue_bulk(&self, order: Order, mt: MigrateType, n: usize, mut f: impl FnMut(u32)) -> usize {
        let mut got = 0;
        let entered = pcp_allowed_order(order)
            && self.cpus.try_with(|c| {
                while got < n {
                    if let Some(idx) = c.pcp.pop(order, mt) {
                        f(idx);
                        got += 1;
                        continue;
                    }
                    // This CPU's list is empty: the rest of the batch
                    // straight from the free lists, up to 64 blocks per
                    // hold of the zone lock (`rmqueue_bulk()` for the
                    // request, not `batch` pages at a time). `f` runs with
                    // the lock dropped: it may free a block again.
                    let mut taken = [0u32; 64];
                    loop {
                        let mut k = 0;
                        let mut lists = self.lock.lock();
                        while got + k < n && k < taken.len() {
                            let Some(idx) = Self::take_for_pcp(&mut lists, order, mt) else { break };
                            taken[k] = idx;
                            k += 1;
                        }
                        self.publish(&lists);
                        drop(lists);
                        for &idx in &taken[..k] {
                            f(idx);
                        }
                        got += k;
                        if k < taken.len() || got == n {
                            break;
                        }
                    }
                    break;
                }
                c.allocs[order.index()] += got as u64;
            })
            .is_some();
        // Larger orders, or this CPU's lists held by the code we
        // interrupted: the free lists.
        while got < n && !entered {
            let Some(idx) = self.rmqueue_locked(order, mt) else { break };
            f(idx);
            got += 1;
        }
        got
    }

    /// Frees a block [`Zone::rmqueue`] gave out: onto this CPU's list of
    /// its pageblock's migrate type for small orders (as
    /// `free_frozen_pages()` picks the list by `get_pfnblock_migratetype()`,
    /// not by what the block was allocated as), giving pages back over
    /// `high` (`free_frozen_page_commit()`); else, or when an interrupted
    /// user holds this CPU's lists, straight to the free lists. Any context
    /// but NMI.
    #[inline(always)]
    pub(crate) fn free(&self, idx: u32, order: Order) {
        if pcp_allowed_order(order) {
            let mt = self.pageblock_mt(idx);
            let guard = CpuGuard::new();
            if let Some(mut c) = self.cpus.try_lock_in(&guard) {
                let to_free = c.pcp.push(idx, order, mt, self.below_high());
                if to_free > 0 {
                    self.free_pcp_batch(&mut c.pcp, to_free, order, mt);
                }
                return;
            };
        }
        self.free_locked(idx, order);
    }

    /// The tail of `free_frozen_page_commit()`: `to_free` pages of a CPU's
    /// lists back, from the list of the block just freed (`order`/`mt`),
    /// `batch` pages per hold of the zone lock (`free_pcppages_bulk()`);
    /// then `ZONE_BELOW_HIGH` is cleared if the zone is back over its high
    /// watermark.
    #[inline(never)]
    fn free_pcp_batch(&self, pcp: &mut Pcp, mut to_free: usize, order: Order, mt: MigrateType) {
        let batch = pcp.batch();
        while to_free > 0 && pcp.count() > 0 {
            let n = to_free.min(batch);
            let mut lists = self.lock.lock();
            pcp.free_bulk(n, order, mt, |i, o| Self::free_one(&mut lists, i, o));
            self.publish(&lists);
            drop(lists);
            to_free -= n;
        }
        if self.below_high() && self.watermark_ok(Order::ZERO, Mark::High, ZoneType::Movable, Reserves::None) {
            self.below_high.write(0);
        }
    }

    /// [`Zone::free`] straight to the free lists.
    #[inline(never)]
    fn free_locked(&self, idx: u32, order: Order) {
        let mut lists = self.lock.lock();
        Self::free_one(&mut lists, idx, order);
        self.publish(&lists);
    }

    fn free_one(lists: &mut FreeLists, idx: u32, order: Order) {
        if let Err(e) = lists.free(idx as usize, order) {
            pr_err!("refused to free page index {} order {}: {:?}\n", idx, order.get(), e);
        }
    }

    /// Runs `f` on the free lists under the zone lock, then publishes the
    /// counts, for compaction's scanners. `f` must not sleep.
    pub(crate) fn with_lists<R>(&self, f: impl FnOnce(&mut FreeLists) -> R) -> R {
        let mut lists = self.lock.lock();
        let r = f(&mut lists);
        self.publish(&lists);
        r
    }

    /// `split_page()`: the block of `order` at `idx` becomes single pages.
    pub(crate) fn split(&self, idx: u32, order: Order) -> bool {
        self.lock.lock().split(idx as usize, order).is_ok()
    }

    /// `drain_local_pages()`: this CPU's lists back to the free lists, if
    /// no interrupted user holds them; whether it did. Any context but NMI.
    pub(crate) fn drain_local(&self) -> bool {
        self.cpus.try_with(|c| self.drain_cpu(&mut c.pcp)).is_some()
    }

    fn drain_cpu(&self, pcp: &mut Pcp) {
        let mut lists = self.lock.lock();
        pcp.drain_all(|i, o| Self::free_one(&mut lists, i, o));
        self.publish(&lists);
    }

    /// `decay_pcp_high()` on this CPU's lists, as each CPU's vmstat work
    /// runs it on its own; nothing if an interrupted user holds them. Any
    /// context but NMI.
    pub(crate) fn decay_local(&self) {
        self.cpus.try_with(|c| {
            if c.pcp.high() > c.pcp.high_min() || c.pcp.count() > c.pcp.high() {
                let mut lists = self.lock.lock();
                c.pcp.decay(|i, o| Self::free_one(&mut lists, i, o));
                self.publish(&lists);
            }
        });
    }

    /// `drain_pages_zone()` for `cpu`, which is not online.
    ///
    /// # Safety
    ///
    /// As for [`PerCpu::with_offline_cpu`].
    pub(crate) unsafe fn drain_offline_cpu(&self, cpu: usize) {
        // SAFETY: The caller's guarantee.
        if unsafe { self.cpus.with_offline_cpu(cpu, |c| self.drain_cpu(&mut c.pcp)) }.is_none() {
            pr_warn!("CPU {cpu} went down holding zone {}'s lists; left as they are\n", self.ztype.name());
        }
    }

    /// `drain_pages_zone()` on every CPU: all their lists back to the free
    /// lists. Sleeps (it runs on each CPU in turn).
    pub(crate) fn drain(&self) {
        self.cpus.on_each_cpu(|_, c| self.drain_cpu(&mut c.pcp));
    }

    /// [`Zone::drain`] from the allocator's slow path
    /// (`drain_all_pages(zone)`, see [`crate::percpu::each_cpu_from_alloc`]).
    /// Sleeps: process context with interrupts on.
    pub(crate) fn drain_from_alloc(&self) {
        crate::percpu::each_cpu_from_alloc(|cpu, online| {
            if online {
                self.drain_local()
            } else {
                // SAFETY: `each_cpu_from_alloc`'s offline arm: the
                // conditions of `PerCpu::with_offline_cpu` hold.
                unsafe { self.drain_offline_cpu(cpu) };
                true
            }
        });
    }

    /// Blocks allocated per order, all CPUs. Sleeps.
    pub(crate) fn allocs(&self) -> [u64; NR_PAGE_ORDERS] {
        let sum: [Atomic<u64>; NR_PAGE_ORDERS] = core::array::from_fn(|o| Atomic::new(self.allocs[o].load(Relaxed)));
        // As above.
        self.cpus.on_each_cpu(|_, c| {
            for (acc, v) in sum.iter().zip(c.allocs) {
                acc.store(acc.load(Relaxed) + v, Relaxed);
            }
        });
        core::array::from_fn(|o| sum[o].load(Relaxed))
    }

    /// A copy of the free-list counters.
    pub(crate) fn snapshot(&self) -> ZoneSnapshot {
        let lists = self.lock.lock();
        let mut s = ZoneSnapshot {
            nr_free: [0; NR_PAGE_ORDERS],
            nr_free_of: [[0; NR_PAGE_ORDERS]; MIGRATE_PCPTYPES],
            pageblocks: [0; MIGRATE_PCPTYPES],
            stats: *lists.stats(),
        };
        for o in 0..NR_PAGE_ORDERS {
            let Some(order) = Order::new(o as u32) else { break };
            let area = lists.free_area(order);
            s.nr_free[o] = area.nr_free();
            for mt in MigrateType::ALL {
                s.nr_free_of[mt as usize][o] = area.nr_free_of(mt);
            }
        }
        s.pageblocks = lists.pageblock_counts();
        s
    }

    /// Checks the free lists' invariants (`check_free_page()` at large).
    pub(crate) fn check(&self) -> Result<(), &'static str> {
        self.lock.lock().check()
    }
}
