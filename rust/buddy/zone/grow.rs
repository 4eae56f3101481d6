// SPDX-License-Identifier: GPL-2.0

//! A zone's grown blocks: `online_pages()` and `offline_pages()`
//! (`mm/memory_hotplug.c`) for one `MAX_PAGE_ORDER` block at a time.
//!
//! A zone is built with room for the grown blocks the pool may take
//! (`max_pool_mb`): index slots past its fixed chunks', whose frame is
//! [`GROW_EMPTY`] and whose pages are reserved while unused. Onlining a
//! block writes its frame into a free slot and hands its pages to the
//! free lists (`online_pages()` -> `__free_pages_core()`); offlining
//! takes a block that is wholly free off the free lists in one step under
//! the zone lock (the kernel isolates the pageblocks, migrates, then
//! `__offline_isolated_pages()`; a wholly free block needs no migration,
//! and under the lock nothing can allocate from it in between). Both run
//! under the zone lock; the slot's frame is written there, so that an
//! index handed out by the free lists afterwards finds it (the lock's
//! release and acquire order it). `managed_pages` follows; the pool then
//! recomputes the watermarks, as `online_pages()` calls
//! `init_per_zone_wmark_min()`.
//!
//! A grown block's slot is found by its frame in the zone's
//! [`BlockMap`] (one load), written under the zone lock beside the
//! slot's frame. Compaction scans only the fixed chunks' slots
//! ([`Zone::compact_spanned`]): its free scanner starts at the top of the
//! zone, and grown blocks there would be filled with moved pages and
//! never come free to be given back.

use super::*;
use crate::page_alloc::PageState;

/// The frame of a grown slot that holds no block.
pub(crate) const GROW_EMPTY: usize = usize::MAX;

impl Zone {
    /// The grown slot holding the block that starts at frame `first`.
    /// Lock-free; callers ask only about blocks whose pages they hold.
    pub(super) fn grown_slot(&self, first: usize) -> Option<usize> {
        let slot = self.grown_map.get(first)?;
        (slot >= self.nr_base && self.slot_pfn.get(slot)?.read() == first).then_some(slot)
    }

    /// The page indices compaction scans: the fixed chunks' slots, below
    /// every grown one.
    pub(crate) fn compact_spanned(&self) -> usize {
        self.nr_base * MAX_ORDER_NR_PAGES
    }

    /// Grown blocks the zone holds now, and room for more. Lock-free.
    pub(crate) fn grown(&self) -> (usize, usize) {
        let held = self.slot_pfn[self.nr_base..].iter().filter(|p| p.read() != GROW_EMPTY).count();
        (held, self.slot_pfn.len() - self.nr_base - held)
    }

    /// `online_pages()`: the block of `MAX_PAGE_ORDER` at `pfn` joins the
    /// zone's free lists. `false` if the zone has no room left. Any
    /// context but NMI (the zone lock only).
    pub(crate) fn online_block(&self, pfn: Pfn) -> bool {
        let mut lists = self.lock.lock();
        let Some(slot) = (self.nr_base..self.slot_pfn.len()).find(|&s| self.slot_pfn[s].read() == GROW_EMPTY) else {
            return false;
        };
        // A block outside the frames the map covers cannot be looked up.
        if !self.grown_map.set(pfn.0, Some(slot)) {
            return false;
        }
        // INVARIANT: the frame is written before the slot's pages can be
        // handed out, under the same lock.
        self.slot_pfn[slot].write(pfn.0);
        if !lists.add_span(slot * MAX_ORDER_NR_PAGES, MAX_ORDER_NR_PAGES, MigrateType::Movable) {
            self.slot_pfn[slot].write(GROW_EMPTY);
            self.grown_map.set(pfn.0, None);
            return false;
        }
        self.managed.write(lists.managed());
        self.publish(&lists);
        true
    }

    /// `offline_pages()` of one wholly free grown block, if the zone keeps
    /// at least `keep` pages on its free lists without it; returns the
    /// block's first frame. With `trylock` a busy zone gives `None`
    /// rather than wait (reclaim must not block). Any context but NMI.
    pub(crate) fn offline_free_block(&self, keep: usize, trylock: bool) -> Option<Pfn> {
        let mut lists = if trylock { self.lock.try_lock()? } else { self.lock.lock() };
        if lists.nr_free_pages() < keep + MAX_ORDER_NR_PAGES {
            return None;
        }
        // The newest first, as the kernel offlines the last-added memory
        // blocks first when it can choose.
        for slot in (self.nr_base..self.slot_pfn.len()).rev() {
            let first = self.slot_pfn[slot].read();
            if first == GROW_EMPTY || !lists.remove_free_block(slot * MAX_ORDER_NR_PAGES, Order::MAX) {
                continue;
            }
            // INVARIANT: the slot's pages are all reserved again.
            self.slot_pfn[slot].write(GROW_EMPTY);
            self.grown_map.set(first, None);
            self.managed.write(lists.managed());
            self.publish(&lists);
            return Some(Pfn(first));
        }
        None
    }

    /// Grown blocks that are wholly free on the free lists now, beyond
    /// `keep` free pages (what [`Zone::offline_free_block`] could take
    /// one by one). Never waits: 0 if the zone lock is busy.
    pub(crate) fn free_grown_blocks(&self, keep: usize) -> usize {
        let Some(lists) = self.lock.try_lock() else { return 0 };
        let whole = (self.nr_base..self.slot_pfn.len())
            .filter(|&s| self.slot_pfn[s].read() != GROW_EMPTY && lists.is_free_block(s * MAX_ORDER_NR_PAGES, Order::MAX))
            .count();
        whole.min(lists.nr_free_pages().saturating_sub(keep) / MAX_ORDER_NR_PAGES)
    }

    /// Whether draining the per-CPU lists could make a grown block wholly
    /// free: some grown block not wholly free on the free lists lacks no
    /// more pages than the per-CPU lists hold (an upper bound: they may
    /// hold other blocks' pages). Takes the zone lock and walks each grown
    /// block's pages once; any context but NMI.
    pub(crate) fn grown_drain_could_free(&self) -> bool {
        let pcp = self.pcp_pages();
        if pcp == 0 {
            return false;
        }
        let lists = self.lock.lock();
        let meta = lists.meta();
        (self.nr_base..self.slot_pfn.len()).filter(|&s| self.slot_pfn[s].read() != GROW_EMPTY).any(|s| {
            let (mut i, end, mut free) = (s * MAX_ORDER_NR_PAGES, (s + 1) * MAX_ORDER_NR_PAGES, 0);
            while i < end {
                let m = meta[i];
                let size = 1usize << m.order();
                match m.state() {
                    PageState::Buddy => {
                        free += size;
                        i += size;
                    }
                    PageState::Allocated => i += size,
                    PageState::Reserved | PageState::Tail => i += 1,
                }
            }
            free < MAX_ORDER_NR_PAGES && free + pcp >= MAX_ORDER_NR_PAGES
        })
    }
}
