// SPDX-License-Identifier: GPL-2.0

//! Per-CPU page lists: one CPU's cache of small free blocks for one zone.
//!
//! Mirrors `struct per_cpu_pages` and its use in `mm/page_alloc.c` since
//! 6.7, where `high` tunes itself between `high_min` and `high_max`:
//! `rmqueue_pcplist()` (take the hottest block, halve `free_count`),
//! `nr_pcp_alloc()` (refill an empty list, doubling the batch through
//! `alloc_factor` while allocations run without frees, and raising
//! `high`), `free_frozen_page_commit()` with `nr_pcp_high()` and
//! `nr_pcp_free()` (put a block back, grow `free_count`, give pages back
//! over `high`), `free_pcppages_bulk()`, `decay_pcp_high()`, and the
//! defaults of `zone_highsize()` and `zone_set_pageset_high_and_batch()`.
//!
//! Blocks are zone page indices (see [`crate::page_alloc`]); the caller moves
//! them to and from the zone under its lock, and tells these functions
//! whether the zone is under its high watermark (`ZONE_BELOW_HIGH`).
//! `ZONE_RECLAIM_ACTIVE` is left out: zonemm has no reclaim, so the branch
//! of `nr_pcp_high()` that caps the lists while kswapd runs never applies.
//! `PCPF_FREE_HIGH_BATCH` (set from the CPU's cache size) is taken as clear.

use crate::{
    page_alloc::{
        MigrateType,
        MIGRATE_PCPTYPES, //
    },
    pfn::Order,
};

/// Orders up to this one go through the per-CPU lists
/// (`PAGE_ALLOC_COSTLY_ORDER`).
pub const PAGE_ALLOC_COSTLY_ORDER: u32 = 3;

/// Number of lists: one per order and migrate type (`NR_PCP_LISTS`).
pub const NR_PCP_LISTS: usize = MIGRATE_PCPTYPES * (PAGE_ALLOC_COSTLY_ORDER as usize + 1);

/// How far `alloc_factor` scales a refill, and `batch` shifted by it the
/// most a free or a drain gives back at once (`CONFIG_PCP_BATCH_SCALE_MAX`,
/// default 5).
pub const PCP_BATCH_SCALE_MAX: u32 = 5;

/// `high_max` is the zone's managed pages over this, split over its CPUs
/// (`MIN_PERCPU_PAGELIST_HIGH_FRACTION`).
pub const MIN_PERCPU_PAGELIST_HIGH_FRACTION: usize = 8;

/// Room in each list.
const LIST_CAP: usize = 1024;

/// The most pages the lists hold between calls: a push of the largest
/// block still fits in any one list.
const PCP_COUNT_MAX: usize = LIST_CAP - (1 << PAGE_ALLOC_COSTLY_ORDER);

/// The largest `high` a list may be set to, in pages.
pub const PCP_HIGH_MAX: usize = LIST_CAP - PCP_BATCH_MAX;

/// The largest `batch` (as `zone_batchsize()` caps it).
pub const PCP_BATCH_MAX: usize = 63;

/// Slots of storage a [`PerCpuPages`] needs.
pub const PCP_SLOTS: usize = NR_PCP_LISTS * LIST_CAP;

/// A ring of block indices in `LIST_CAP` slots: hottest at the front.
#[derive(Clone, Copy)]
struct List {
    head: u16,
    len: u16,
}

impl List {
    const EMPTY: Self = Self { head: 0, len: 0 };

    fn push_front(&mut self, slots: &mut [u32], idx: u32) {
        self.head = ((self.head as usize + LIST_CAP - 1) % LIST_CAP) as u16;
        slots[self.head as usize] = idx;
        self.len += 1;
    }

    fn push_back(&mut self, slots: &mut [u32], idx: u32) {
        slots[(self.head as usize + self.len as usize) % LIST_CAP] = idx;
        self.len += 1;
    }

    fn pop_front(&mut self, slots: &[u32]) -> Option<u32> {
        if self.len == 0 {
            return None;
        }
        let idx = slots[self.head as usize];
        self.head = ((self.head as usize + 1) % LIST_CAP) as u16;
        self.len -= 1;
        Some(idx)
    }

    fn pop_back(&mut self, slots: &[u32]) -> Option<u32> {
        if self.len == 0 {
            return None;
        }
        self.len -= 1;
        Some(slots[(self.head as usize + self.len as usize) % LIST_CAP])
    }
}

/// Whether blocks of `order` use the per-CPU lists (`pcp_allowed_order()`).
pub const fn pcp_allowed_order(order: Order) -> bool {
    order.get() <= PAGE_ALLOC_COSTLY_ORDER
}

/// `zone_batchsize()`, scaled for zonemm's small zones: about a quarter of
/// the zone's MiB, as `2^n - 1`, between 1 and [`PCP_BATCH_MAX`].
pub const fn default_batch(managed: usize) -> usize {
    let mut batch = managed >> 8;
    if batch > PCP_BATCH_MAX + 1 {
        batch = PCP_BATCH_MAX + 1;
    }
    if batch < 2 {
        return 1;
    }
    // rounddown_pow_of_two(batch) - 1
    (1 << (usize::BITS - 1 - batch.leading_zeros())) - 1
}

/// `zone_highsize()`: `total_pages` split over the `nr_split_cpus` CPUs of
/// the zone's node (all online CPUs for a node with none, passed as such
/// by the caller; 0 counts as 1), at least `batch << 2`. zonemm then caps
/// it at [`PCP_HIGH_MAX`], the room its lists have.
pub const fn zone_highsize(total_pages: usize, batch: usize, nr_split_cpus: usize) -> usize {
    let cpus = if nr_split_cpus == 0 { 1 } else { nr_split_cpus };
    let mut high = total_pages / cpus;
    if high < batch << 2 {
        high = batch << 2;
    }
    if high > PCP_HIGH_MAX {
        PCP_HIGH_MAX
    } else {
        high
    }
}

/// The default branch of `zone_set_pageset_high_and_batch()`:
/// `(high_min, high_max)` of a zone whose low watermark is `low_wmark`
/// pages, from `low_wmark` and from `managed /
/// MIN_PERCPU_PAGELIST_HIGH_FRACTION`. Where the low watermark is the
/// larger (a `min_free_kbytes` near the zone's size), `high_min` is
/// lowered to `high_max`, where the kernel's clamp would put `high`.
pub const fn default_high_bounds(low_wmark: usize, managed: usize, batch: usize, nr_split_cpus: usize) -> (usize, usize) {
    let high_min = zone_highsize(low_wmark, batch, nr_split_cpus);
    let high_max = zone_highsize(managed / MIN_PERCPU_PAGELIST_HIGH_FRACTION, batch, nr_split_cpus);
    if high_min > high_max {
        (high_max, high_max)
    } else {
        (high_min, high_max)
    }
}

/// Event counts for `buddy/stats`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PcpStats {
    /// Allocations served from a list.
    pub hits: u64,
    /// Refills from the zone.
    pub refills: u64,
    /// Bulk frees back to the zone (over `high`, decayed, or drained).
    pub drains: u64,
}

/// `struct per_cpu_pages`, its lists kept in `slots` (at least
/// [`PCP_SLOTS`] long).
///
/// # Invariants
///
/// `count` is the number of pages on the lists and at most
/// `PCP_COUNT_MAX`, so no list ever overflows (a caller gives back what
/// [`PerCpuPages::push`] asks before anything else); `1 <= batch <=
/// PCP_BATCH_MAX` and `batch << 2 <= high_min <= high <= high_max <=
/// PCP_HIGH_MAX` (the kernel clamps `high` lazily; here it is kept in
/// range); `alloc_factor <= PCP_BATCH_SCALE_MAX`.
pub struct PerCpuPages<S> {
    slots: S,
    lists: [List; NR_PCP_LISTS],
    count: usize,
    high: usize,
    high_min: usize,
    high_max: usize,
    batch: usize,
    /// `PCPF_PREV_FREE_HIGH_ORDER`: the last free was of order 1 or more.
    prev_free_high_order: bool,
    alloc_factor: u32,
    free_count: usize,
    stats: PcpStats,
}

/// Why a `high_min`/`high_max`/`batch` triple was refused.
pub const BAD_HIGH_BATCH: &str = "need 1 <= batch <= 63 and 4 * batch <= high <= 961";

/// Whether `high_min`, `high_max` and `batch` may be set together: the
/// ranges the kernel's own values keep (`zone_highsize()` never gives less
/// than `batch << 2`), within the lists' room.
pub const fn check_high_batch(high_min: usize, high_max: usize, batch: usize) -> Result<(), &'static str> {
    if batch == 0 || batch > PCP_BATCH_MAX || high_min < batch << 2 || high_min > high_max || high_max > PCP_HIGH_MAX {
        Err(BAD_HIGH_BATCH)
    } else {
        Ok(())
    }
}

/// The list index of `order` and `mt` (`order_to_pindex()`).
fn pindex(order: Order, mt: MigrateType) -> usize {
    order.index() * MIGRATE_PCPTYPES + mt as usize
}

/// The order of list `pindex` (`pindex_to_order()`).
fn pindex_order(pindex: usize) -> Option<Order> {
    // CAST: below NR_PCP_LISTS, the order is at most PAGE_ALLOC_COSTLY_ORDER.
    Order::new((pindex / MIGRATE_PCPTYPES) as u32)
}

/// The slots of list `pindex`.
fn slots_of<S: core::ops::DerefMut<Target = [u32]>>(slots: &mut S, pindex: usize) -> &mut [u32] {
    &mut slots[pindex * LIST_CAP..(pindex + 1) * LIST_CAP]
}

impl<S: core::ops::DerefMut<Target = [u32]>> PerCpuPages<S> {
    /// Empty lists in `slots` (`per_cpu_pages_init()` then
    /// `pageset_update()`); `high` starts at `high_min`.
    pub fn new(slots: S, high_min: usize, high_max: usize, batch: usize) -> Result<Self, &'static str> {
        if slots.len() < PCP_SLOTS {
            return Err("per-CPU list storage too small");
        }
        check_high_batch(high_min, high_max, batch)?;
        // INVARIANT: checked just above; the lists are empty.
        Ok(Self {
            slots,
            lists: [List::EMPTY; NR_PCP_LISTS],
            count: 0,
            high: high_min,
            high_min,
            high_max,
            batch,
            prev_free_high_order: false,
            alloc_factor: 0,
            free_count: 0,
            stats: PcpStats::default(),
        })
    }

    /// Pages on the lists (`count`).
    pub const fn count(&self) -> usize {
        self.count
    }

    /// `high`, in pages: where a free starts giving pages back.
    pub const fn high(&self) -> usize {
        self.high
    }

    /// `high_min`, the least `high` auto-tuning goes to.
    pub const fn high_min(&self) -> usize {
        self.high_min
    }

    /// `high_max`, the most `high` auto-tuning goes to.
    pub const fn high_max(&self) -> usize {
        self.high_max
    }

    /// `batch`, in pages.
    pub const fn batch(&self) -> usize {
        self.batch
    }

    /// The event counters.
    pub const fn stats(&self) -> &PcpStats {
        &self.stats
    }

    /// Blocks on the list of `order` and `mt`.
    pub fn len(&self, order: Order, mt: MigrateType) -> usize {
        self.lists[pindex(order, mt)].len as usize
    }

    /// Pages over `high`, for the caller to give back with
    /// [`PerCpuPages::free_bulk`] after a change of `high`.
    pub const fn over_high(&self) -> usize {
        self.count.saturating_sub(self.high)
    }

    /// `pageset_update()`: new bounds and batch. `high_min == high_max`
    /// turns auto-tuning off, as a manual `percpu_pagelist_high_fraction`
    /// does. `high` is clamped into the new range at once (the kernel does
    /// so at the next allocation or free); pages over it are the caller's
    /// to give back (see [`PerCpuPages::over_high`]).
    pub fn set_high_batch(&mut self, high_min: usize, high_max: usize, batch: usize) -> Result<(), &'static str> {
        check_high_batch(high_min, high_max, batch)?;
        // INVARIANT: checked; `high` clamped into the new range.
        self.high_min = high_min;
        self.high_max = high_max;
        self.batch = batch;
        self.high = self.high.clamp(high_min, high_max);
        Ok(())
    }

    /// Takes the hottest block of `order` and `mt`, if the list has one.
    /// Every allocation halves `free_count` first, as `rmqueue_pcplist()`
    /// does, whether or not the list then has a block.
    #[inline]
    pub fn pop(&mut self, order: Order, mt: MigrateType) -> Option<u32> {
        self.free_count >>= 1;
        let p = pindex(order, mt);
        let idx = self.lists[p].pop_front(slots_of(&mut self.slots, p))?;
        self.count -= order.nr_pages();
        self.stats.hits += 1;
        Some(idx)
    }

    /// `nr_pcp_alloc()`: blocks of `order` to refill an empty list with.
    /// Order 0 takes `batch << alloc_factor` pages, at most what keeps the
    /// lists `batch` under `high`, and doubles the next refill while there
    /// is room; outside `below_high` each refill raises `high` by the
    /// pages it asks for, up to `high_max`.
    fn nr_pcp_alloc(&mut self, order: Order, below_high: bool) -> usize {
        let base_batch = self.batch;
        // `high < base_batch` (the boot pageset) cannot happen: by the
        // type invariant `high >= batch << 2`.
        let mut high = self.high;
        let mut batch = if order.get() == 0 { base_batch << self.alloc_factor } else { base_batch };
        if self.high_min != self.high_max && !below_high {
            high = (high + batch).min(self.high_max);
            // INVARIANT: between `high` and `high_max`.
            self.high = high;
        }
        if order.get() == 0 {
            let max_nr_alloc = high.saturating_sub(self.count + base_batch).max(base_batch);
            if batch <= max_nr_alloc && self.alloc_factor < PCP_BATCH_SCALE_MAX {
                // INVARIANT: below PCP_BATCH_SCALE_MAX before.
                self.alloc_factor += 1;
            }
            batch = batch.min(max_nr_alloc);
        }
        if batch > 1 {
            batch = (batch >> order.get()).max(2);
        }
        batch
    }

    /// `__rmqueue_pcplist()` on an empty list: refills the list of
    /// `order`/`mt` with up to `nr_pcp_alloc()` blocks from `take` (the
    /// zone's `rmqueue_bulk()`), then takes one. `take` returning `None`
    /// stops it. The lists' room caps the blocks kept (the kernel's lists
    /// have no such cap); the one handed out always fits.
    pub fn refill(
        &mut self,
        order: Order,
        mt: MigrateType,
        below_high: bool,
        mut take: impl FnMut() -> Option<u32>,
    ) -> Option<u32> {
        let room = 1 + ((PCP_COUNT_MAX - self.count) >> order.get());
        let blocks = self.nr_pcp_alloc(order, below_high).min(room);
        let p = pindex(order, mt);
        let slots = slots_of(&mut self.slots, p);
        let list = &mut self.lists[p];
        let mut taken = 0;
        while taken < blocks {
            let Some(idx) = take() else { break };
            // Bulk-taken blocks queue behind any freed (hotter) ones.
            list.push_back(slots, idx);
            taken += 1;
        }
        let idx = list.pop_front(slots)?;
        // INVARIANT: at most `room - 1` blocks stay, within PCP_COUNT_MAX.
        self.count += (taken - 1) * order.nr_pages();
        self.stats.refills += 1;
        Some(idx)
    }

    /// `free_frozen_page_commit()`: puts a freed block of `order` on the
    /// front of its list and returns how many pages to give back now with
    /// [`PerCpuPages::free_bulk`] (0 while under `high`), starting at this
    /// block's list. A free halves `alloc_factor` and grows `free_count`
    /// (up to `batch << PCP_BATCH_SCALE_MAX`); a second free in a row of
    /// order 1 to 3 once `free_count` passes `batch + high_min / 2` gives
    /// back as much as it can (`free_high`). The caller must give the pages
    /// back before it uses the lists again.
    #[inline(always)]
    pub fn push(&mut self, idx: u32, order: Order, mt: MigrateType, below_high: bool) -> usize {
        self.alloc_factor >>= 1;
        let p = pindex(order, mt);
        self.lists[p].push_front(slots_of(&mut self.slots, p), idx);
        self.count += order.nr_pages();
        let batch = self.batch;
        let mut free_high = false;
        if order.get() != 0 {
            free_high = self.prev_free_high_order && self.free_count >= batch + self.high_min / 2;
            self.prev_free_high_order = true;
        } else {
            self.prev_free_high_order = false;
        }
        if self.free_count < batch << PCP_BATCH_SCALE_MAX {
            self.free_count += order.nr_pages();
        }
        // `nr_pcp_high()` changes nothing and gives `high` back here.
        if !free_high && !below_high && self.count < self.high {
            return 0;
        }
        self.commit_over_high(free_high, below_high)
    }

    /// The rest of [`PerCpuPages::push`]: `nr_pcp_high()`, then
    /// `nr_pcp_free()` if the lists are over what it returns. Out of line:
    /// the hit path of a free ends before it.
    #[inline(never)]
    fn commit_over_high(&mut self, free_high: bool, below_high: bool) -> usize {
        let high = self.nr_pcp_high(free_high, below_high);
        if self.count < high {
            return 0;
        }
        self.nr_pcp_free(high, free_high)
    }

    /// `nr_pcp_high()`: the `high` this free is measured against, tuning
    /// `self.high` on the way: down fast on `free_high`, down by
    /// `free_count` while the zone is `below_high` (then the lists give
    /// back everything over `high_min`), and up to hold a batch more than
    /// the run of frees (`need_high`) when a free finds the lists full.
    fn nr_pcp_high(&mut self, free_high: bool, below_high: bool) -> usize {
        let batch = self.batch;
        let high = self.high;
        if free_high {
            // INVARIANT: at least `high_min`, at most the old `high`.
            self.high = high.saturating_sub(batch << PCP_BATCH_SCALE_MAX).max(self.high_min);
            return 0;
        }
        if self.high_min == self.high_max {
            return high;
        }
        if below_high {
            let free_count = self.free_count.max(batch);
            // INVARIANT: as above.
            self.high = high.saturating_sub(free_count).max(self.high_min);
            return self.count.max(self.high_min);
        }
        if self.count >= high {
            let need_high = self.free_count + batch;
            if high < need_high {
                // INVARIANT: clamped into range.
                self.high = need_high.clamp(self.high_min, self.high_max);
            }
        }
        high
    }

    /// `nr_pcp_free()`: pages to give back over `high`: the run of frees
    /// (`free_count`), at least `batch`, keeping `batch` on the lists; all
    /// it can, up to `batch << PCP_BATCH_SCALE_MAX`, on `free_high`.
    fn nr_pcp_free(&self, high: usize, free_high: bool) -> usize {
        let batch = self.batch;
        if free_high {
            return self.count.min(batch << PCP_BATCH_SCALE_MAX);
        }
        if high < batch {
            return 1;
        }
        self.free_count.max(batch).min(high - batch)
    }

    /// `free_pcppages_bulk()`: gives back `count` pages (at least; a
    /// block is given whole), coldest first, through `free`: from the list
    /// of `order`/`mt` until it is empty, then from the next non-empty
    /// list round the lists, and so on. Returns the pages given back.
    pub fn free_bulk(&mut self, count: usize, order: Order, mt: MigrateType, free: impl FnMut(u32, Order)) -> usize {
        self.free_bulk_from(count, pindex(order, mt), free)
    }

    fn free_bulk_from(&mut self, count: usize, mut p: usize, mut free: impl FnMut(u32, Order)) -> usize {
        let start = self.count;
        let mut left = count.min(self.count);
        'lists: while left > 0 {
            let mut tried = 0;
            while self.lists[p].len == 0 {
                tried += 1;
                if tried == NR_PCP_LISTS {
                    break 'lists;
                }
                p = if p + 1 == NR_PCP_LISTS { 0 } else { p + 1 };
            }
            let Some(order) = pindex_order(p) else { break };
            while left > 0 {
                let Some(idx) = self.lists[p].pop_back(slots_of(&mut self.slots, p)) else { break };
                self.count -= order.nr_pages();
                left = left.saturating_sub(order.nr_pages());
                free(idx, order);
            }
            p = if p + 1 == NR_PCP_LISTS { 0 } else { p + 1 };
        }
        if start != self.count {
            self.stats.drains += 1;
        }
        start - self.count
    }

    /// Gives back every page (`drain_pages_zone()`), from the first list
    /// round. Returns the pages given back.
    pub fn drain_all(&mut self, free: impl FnMut(u32, Order)) -> usize {
        self.free_bulk_from(self.count, 0, free)
    }

    /// `decay_pcp_high()`: lowers `high` by an eighth towards `high_min`
    /// (by at most what keeps `batch << PCP_BATCH_SCALE_MAX` pages under
    /// the count), and gives back through `free` what is over it, a batch
    /// at a time. Returns whether there is more to do (`high` still over
    /// `high_min`, or pages were given back). The kernel calls it from the
    /// vmstat worker every second, zonemm from its tick.
    pub fn decay(&mut self, mut free: impl FnMut(u32, Order)) -> bool {
        let batch = self.batch;
        let mut todo = false;
        if self.high > self.high_min {
            let by_count = self.count.saturating_sub(batch << PCP_BATCH_SCALE_MAX);
            let by_eighth = self.high - (self.high >> 3);
            // INVARIANT: at least `high_min`; capped at `high_max`, where
            // the kernel's next clamp would put it.
            self.high = by_count.max(by_eighth).max(self.high_min).min(self.high_max);
            todo = self.high > self.high_min;
        }
        let mut to_drain = self.count.saturating_sub(self.high);
        while to_drain > 0 {
            let batched = to_drain.min(batch);
            self.free_bulk_from(batched, 0, &mut free);
            todo = true;
            to_drain -= batched;
        }
        todo
    }
}

#[cfg(test)]
mod tests;
