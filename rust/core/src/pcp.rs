// SPDX-License-Identifier: GPL-2.0

//! Per-CPU page lists: one CPU's cache of small free blocks for one zone.
//!
//! Mirrors `struct per_cpu_pages` and its use in `mm/page_alloc.c`:
//! `rmqueue_pcplist()` (take the hottest block; refill `batch` from the
//! zone when empty), `free_frozen_page_commit()` (put it back; over `high`,
//! give a batch back with `free_pcppages_bulk()`), `drain_pages_zone()`,
//! and the defaults of `zone_batchsize()` / `zone_highsize()`.
//!
//! Blocks are zone page indices (see [`crate::page_alloc`]); the caller moves
//! them to and from the zone under its lock.

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

/// Room in each list; `high` is kept below it.
const LIST_CAP: usize = 1024;

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

/// The old `6 * batch` rule for `high`.
pub const fn default_high(batch: usize) -> usize {
    let high = 6 * batch;
    if high > PCP_HIGH_MAX {
        PCP_HIGH_MAX
    } else {
        high
    }
}

/// Event counts for `buddy/stats`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PcpStats {
    /// Allocations served from a list.
    pub hits: u64,
    /// Refills from the zone.
    pub refills: u64,
    /// Batches given back to the zone (over `high`, or drained).
    pub drains: u64,
}

/// `struct per_cpu_pages`, its lists kept in `slots` (at least
/// [`PCP_SLOTS`] long).
///
/// # Invariants
///
/// `count` is the number of pages on the lists; `batch <= PCP_BATCH_MAX`,
/// `batch <= high <= PCP_HIGH_MAX`, so no list ever overflows.
pub struct PerCpuPages<S> {
    slots: S,
    lists: [List; NR_PCP_LISTS],
    count: usize,
    high: usize,
    batch: usize,
    stats: PcpStats,
}

/// Why a `high`/`batch` pair was refused.
pub const BAD_HIGH_BATCH: &str = "need 1 <= batch <= 63 and batch <= high <= 961";

/// Whether `high` and `batch` may be set together.
pub const fn check_high_batch(high: usize, batch: usize) -> Result<(), &'static str> {
    if batch == 0 || batch > PCP_BATCH_MAX || high < batch || high > PCP_HIGH_MAX {
        Err(BAD_HIGH_BATCH)
    } else {
        Ok(())
    }
}

/// The list index of `order` and `mt` (`order_to_pindex()`).
fn pindex(order: Order, mt: MigrateType) -> usize {
    order.index() * MIGRATE_PCPTYPES + mt as usize
}

/// The slots of list `pindex`.
fn slots_of<S: core::ops::DerefMut<Target = [u32]>>(slots: &mut S, pindex: usize) -> &mut [u32] {
    &mut slots[pindex * LIST_CAP..(pindex + 1) * LIST_CAP]
}

impl<S: core::ops::DerefMut<Target = [u32]>> PerCpuPages<S> {
    /// Empty lists in `slots` with the given `high` and `batch`.
    pub fn new(slots: S, high: usize, batch: usize) -> Result<Self, &'static str> {
        if slots.len() < PCP_SLOTS {
            return Err("per-CPU list storage too small");
        }
        let mut pcp = Self {
            slots,
            lists: [List::EMPTY; NR_PCP_LISTS],
            count: 0,
            high: 0,
            batch: 1,
            stats: PcpStats::default(),
        };
        pcp.set_high_batch(high, batch)?;
        Ok(pcp)
    }

    /// Pages on the lists.
    pub const fn count(&self) -> usize {
        self.count
    }

    /// `high`, in pages.
    pub const fn high(&self) -> usize {
        self.high
    }

    /// `batch`, in pages.
    pub const fn batch(&self) -> usize {
        self.batch
    }

    /// The event counters.
    pub const fn stats(&self) -> &PcpStats {
        &self.stats
    }

    /// Changes `high` and `batch`; pages over the new `high` are the
    /// caller's to drain (see [`PerCpuPages::over_high`]).
    pub fn set_high_batch(&mut self, high: usize, batch: usize) -> Result<(), &'static str> {
        check_high_batch(high, batch)?;
        self.high = high;
        self.batch = batch;
        Ok(())
    }

    /// Takes the hottest block of `order` and `mt`, if the list has one.
    pub fn pop(&mut self, order: Order, mt: MigrateType) -> Option<u32> {
        let p = pindex(order, mt);
        let idx = self.lists[p].pop_front(slots_of(&mut self.slots, p))?;
        self.count -= order.nr_pages();
        self.stats.hits += 1;
        Some(idx)
    }

    /// Blocks of `order` one refill takes (`nr_pcp_alloc()`): `batch`
    /// pages' worth, and at least 2 blocks above order 0.
    pub fn refill_blocks(&self, order: Order) -> usize {
        if order.get() == 0 {
            self.batch
        } else {
            (self.batch >> order.get()).max(2)
        }
    }

    /// Refills the empty list of `order`/`mt` with up to
    /// [`PerCpuPages::refill_blocks`] blocks from `take` (the zone's
    /// `rmqueue_bulk()`), then takes one. `take` returning `None` stops it.
    pub fn refill(
        &mut self,
        order: Order,
        mt: MigrateType,
        mut take: impl FnMut() -> Option<u32>,
    ) -> Option<u32> {
        let blocks = self.refill_blocks(order);
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
        self.count += (taken - 1) * order.nr_pages();
        self.stats.refills += 1;
        Some(idx)
    }

    /// Puts a freed block of `order` on the front of its list. Returns
    /// whether the lists are now over `high`.
    pub fn push(&mut self, idx: u32, order: Order, mt: MigrateType) -> bool {
        let p = pindex(order, mt);
        self.lists[p].push_front(slots_of(&mut self.slots, p), idx);
        self.count += order.nr_pages();
        self.over_high()
    }

    /// Whether the lists hold `high` pages or more.
    pub const fn over_high(&self) -> bool {
        self.count >= self.high
    }

    /// `free_pcppages_bulk()`: gives the coldest blocks back through
    /// `free` until the lists are `batch` below `high` (or `all`: empty),
    /// going round the lists. Returns the pages given back.
    pub fn drain(&mut self, all: bool, mut free: impl FnMut(u32, Order)) -> usize {
        let target = if all { 0 } else { self.high.saturating_sub(self.batch) };
        let start = self.count;
        let mut pindex = 0;
        let mut empty_in_a_row = 0;
        while self.count > target && empty_in_a_row < NR_PCP_LISTS {
            let order = pindex / MIGRATE_PCPTYPES;
            // CAST: `order` is at most PAGE_ALLOC_COSTLY_ORDER.
            let Some(o) = Order::new(order as u32) else { break };
            match self.lists[pindex].pop_back(slots_of(&mut self.slots, pindex)) {
                Some(idx) => {
                    self.count -= o.nr_pages();
                    free(idx, o);
                    empty_in_a_row = 0;
                }
                None => empty_in_a_row += 1,
            }
            pindex = (pindex + 1) % NR_PCP_LISTS;
        }
        if start != self.count {
            self.stats.drains += 1;
        }
        start - self.count
    }

    /// Blocks on the list of `order` and `mt`.
    pub fn len(&self, order: Order, mt: MigrateType) -> usize {
        self.lists[pindex(order, mt)].len as usize
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use std::{vec, vec::Vec};

    use super::*;
    use crate::pfn::MAX_PAGE_ORDER;

    fn pcp(high: usize, batch: usize) -> Result<PerCpuPages<Vec<u32>>, &'static str> {
        PerCpuPages::new(vec![0; PCP_SLOTS], high, batch)
    }

    const M: MigrateType = MigrateType::Movable;

    fn o(order: u32) -> Order {
        Order::new(order).unwrap()
    }

    #[test]
    fn defaults_are_kernel_shaped() {
        assert_eq!(default_batch(0), 1);
        assert_eq!(default_batch(4096), 15);
        assert_eq!(default_batch(8192), 31);
        assert_eq!(default_batch(1 << 30), 63);
        assert_eq!(default_high(31), 186);
        assert_eq!(default_high(63), 378);
    }

    #[test]
    fn defaults_at_their_edges() {
        // managed >> 8 of 63 rounds down to 31; 64 and more give 63.
        assert_eq!(default_batch(63 << 8), 31);
        assert_eq!(default_batch(64 << 8), 63);
        assert_eq!(default_batch(65 << 8), 63);
        assert_eq!(default_batch(2 << 8), 1);
        assert_eq!(default_batch(4 << 8), 3);
        // high is clamped for batches no check would accept.
        assert_eq!(default_high(160), 960);
        assert_eq!(default_high(200), PCP_HIGH_MAX);
    }

    #[test]
    fn orders_up_to_costly_use_the_lists() {
        for order in 0..=PAGE_ALLOC_COSTLY_ORDER {
            assert!(pcp_allowed_order(o(order)), "order {order}");
        }
        for order in PAGE_ALLOC_COSTLY_ORDER + 1..=MAX_PAGE_ORDER {
            assert!(!pcp_allowed_order(o(order)), "order {order}");
        }
    }

    #[test]
    fn each_list_keeps_its_own_blocks_and_counts() {
        let mut pcp = pcp(50, 8).unwrap();
        assert!(!pcp.over_high());
        // One block on each of several lists: none overwrites another.
        let lists = [(0, M), (0, MigrateType::Unmovable), (1, M), (3, MigrateType::Reclaimable)];
        for (i, &(order, mt)) in lists.iter().enumerate() {
            assert!(!pcp.push(100 + i as u32, o(order), mt));
        }
        assert_eq!(pcp.count(), 1 + 1 + 2 + 8);
        let mut count = pcp.count();
        for (i, &(order, mt)) in lists.iter().enumerate().rev() {
            assert_eq!(pcp.pop(o(order), mt), Some(100 + i as u32));
            assert_eq!(pcp.pop(o(order), mt), None, "one block was on list {order}/{mt:?}");
            count -= 1 << order;
            assert_eq!(pcp.count(), count);
        }
        assert_eq!(pcp.count(), 0);
        assert_eq!(pcp.stats().hits, 4);
        // A refill of order 1 takes batch >> 1 = 4 blocks, keeps 3: 6 pages.
        let mut next = 0;
        let got = pcp.refill(o(1), M, || {
            next += 2;
            Some(next)
        });
        assert_eq!((got, pcp.count(), pcp.len(o(1), M)), (Some(2), 6, 3));
        for want in [4, 6, 8] {
            assert_eq!(pcp.pop(o(1), M), Some(want));
        }
        assert_eq!((pcp.pop(o(1), M), pcp.count(), pcp.len(o(1), M)), (None, 0, 0));
        assert_eq!(pcp.stats().hits, 7);
        // high is reached exactly at high pages.
        for i in 0..49 {
            assert!(!pcp.push(i, o(0), M), "{} pages", i + 1);
        }
        assert!(pcp.push(49, o(0), M));
    }

    #[test]
    fn bad_high_batch_is_refused() {
        assert!(pcp(8, 8).is_ok(), "high == batch is allowed");
        assert!(pcp(0, 0).is_err());
        assert!(pcp(10, 20).is_err());
        assert!(pcp(PCP_HIGH_MAX + 1, 31).is_err());
        assert!(pcp(100, 64).is_err());
        let mut pcp = pcp(100, 10).unwrap();
        assert!(pcp.set_high_batch(5, 10).is_err());
        assert_eq!((pcp.high(), pcp.batch()), (100, 10));
    }

    #[test]
    fn refill_takes_a_batch_and_hands_out_hottest_first() {
        let mut pcp = pcp(60, 10).unwrap();
        let mut next = 100;
        let got = pcp.refill(o(0), M, || {
            next += 1;
            Some(next)
        });
        // The first taken goes first; nine stay.
        assert_eq!(got, Some(101));
        assert_eq!(pcp.count(), 9);
        assert_eq!(pcp.pop(o(0), M), Some(102));
        // A freed block is hotter than the refilled ones.
        pcp.push(7, o(0), M);
        assert_eq!(pcp.pop(o(0), M), Some(7));
        // Order 2 takes batch >> 2 = 2 blocks.
        assert_eq!(pcp.refill_blocks(o(2)), 2);
        assert_eq!(pcp.refill(o(2), M, || None), None);
        assert_eq!(pcp.stats().refills, 1);
    }

    #[test]
    fn freeing_over_high_drains_the_coldest_to_high_minus_batch() {
        let mut pcp = pcp(20, 5).unwrap();
        let mut over = false;
        for i in 0..20 {
            over = pcp.push(i, o(0), M);
        }
        assert!(over);
        let mut freed = Vec::new();
        assert_eq!(pcp.drain(false, |idx, _| freed.push(idx)), 5);
        assert_eq!(freed, [0, 1, 2, 3, 4], "coldest first");
        assert_eq!(pcp.count(), 15);
        pcp.push(50, o(3), MigrateType::Unmovable);
        assert_eq!(pcp.count(), 23);
        let mut pages = 0;
        pcp.drain(true, |_, order| pages += order.nr_pages());
        assert_eq!(pages, 23);
        assert_eq!(pcp.count(), 0);
        assert_eq!(pcp.stats().drains, 2);
    }

    #[test]
    fn lists_never_overflow_at_the_largest_high() {
        let mut pcp = pcp(PCP_HIGH_MAX, PCP_BATCH_MAX).unwrap();
        let mut held = 0;
        for i in 0..10_000 {
            if pcp.push(i, o(0), M) {
                held -= pcp.drain(false, |_, _| {});
            }
            held += 1;
            assert!(pcp.len(o(0), M) < LIST_CAP);
        }
        assert_eq!(pcp.count(), held);
    }
}
