// SPDX-License-Identifier: GPL-2.0

//! Memory compaction within one zone: the two scanners of
//! `mm/compaction.c`.
//!
//! Mirrors `compact_zone()`: a migrate scanner walks up from the zone's
//! bottom (`isolate_migratepages()`), a free scanner walks down from its
//! top (`isolate_freepages()`), a pageblock at a time, until they meet
//! (`compact_scanners_met()`). The migrate scanner picks movable pages in
//! use, at most [`COMPACT_CLUSTER_MAX`] per round; the free scanner takes
//! free blocks off the free lists as single pages (`split_page()` of an
//! isolated buddy, as before the kernel kept high-order free pages), only
//! while the zone stays above its min watermark plus the block
//! (`__isolate_free_page()`). Each picked page is copied into a free one
//! and its owner repointed by a [`CompactEnv`]; the pages it leaves
//! behind merge back at the bottom, so high-order blocks come free.
//!
//! What differs from the kernel: both scanners skip pageblocks that are not
//! `MIGRATE_MOVABLE` (the kernel's migrate scanner does so only for async
//! direct compaction, `suitable_migration_source()`); only single pages
//! migrate (zonemm's movable pages are single pages); there are no skip
//! bits, no cached scanner positions and no async mode: every run starts
//! at the zone's edges and is synchronous (`MIGRATE_SYNC_LIGHT`'s
//! behaviour, less the waiting). The owner's lock, taken by the
//! [`CompactEnv`] at migration, stands in for isolation from the LRU: a
//! page that changed hands meanwhile, or is in use, is skipped.

use crate::{
    page_alloc::{
        MigrateType,
        PageMeta,
        PageState,
        Zone,
        PAGEBLOCK_NR_PAGES,
        PAGEBLOCK_ORDER, //
    },
    pfn::{
        Order,
        MAX_PAGE_ORDER, //
    },
};

/// Pages the migrate scanner isolates per round (`COMPACT_CLUSTER_MAX`,
/// `SWAP_CLUSTER_MAX`).
pub const COMPACT_CLUSTER_MAX: usize = 32;

/// `enum compact_result`, the outcomes zonemm has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompactResult {
    /// `COMPACT_SKIPPED`: too few free pages to compact at all.
    Skipped,
    /// `COMPACT_CONTINUE`: not done yet.
    Continue,
    /// `COMPACT_COMPLETE`: the scanners met.
    Complete,
    /// `COMPACT_SUCCESS`: a free block of the order asked for exists.
    Success,
    /// `COMPACT_CONTENDED`, as `compact_zone()` returns it when
    /// `migrate_pages()` fails with `-ENOMEM`: the free scanner found no
    /// page to move into.
    NoFreePages,
}

/// What a compaction run needs from its caller: the zone under its lock,
/// and the migration of one page (copy, repoint, free).
pub trait CompactEnv<S> {
    /// Runs `f` on the zone's free lists, under the zone lock.
    fn with_zone<R>(&mut self, f: impl FnOnce(&mut Zone<S>) -> R) -> R;

    /// `migrate_pages()` of one page: moves the contents of the allocated
    /// single page `src` into `dst` (an isolated free page, given to the
    /// owner), repoints `src`'s owner to `dst` and frees `src`. Returns
    /// `false`, changing nothing, if `src` has no owner that can move it
    /// now (busy, mapped, or not movable after all); `dst` stays the
    /// caller's.
    fn migrate(&mut self, src: usize, dst: usize) -> bool;

    /// Between two holds of the zone lock: where the kernel's glue may
    /// reschedule (`cond_resched()`).
    fn relax(&mut self) {}
}

/// `struct compact_control`: one run over one zone, and its counts.
///
/// # Invariants
///
/// `free[..nr_free]` are runs of single pages taken off the free lists by
/// the free scanner and not yet used: the run's owner is the run.
#[derive(Debug)]
pub struct CompactControl {
    /// The next page the migrate scanner looks at.
    migrate_pfn: usize,
    /// Where the free scanner goes on: inside the pageblock it scans, or
    /// the start of the next one down.
    free_pfn: usize,
    /// The order asked for (`None`: all the zone, as `compact_memory`).
    order: Option<Order>,
    /// The migrate type of the allocation asked for.
    mt: MigrateType,
    /// Free pages the zone keeps below the scanner (its min watermark).
    min_free: usize,
    /// Isolated free pages: (first page, count) runs.
    free: [(u32, u32); COMPACT_CLUSTER_MAX],
    nr_free: usize,
    /// `compact_migrate_scanned`.
    pub migrate_scanned: u64,
    /// `compact_free_scanned`.
    pub free_scanned: u64,
    /// `compact_isolated`: pages isolated by both scanners.
    pub isolated: u64,
    /// `pgmigrate_success`.
    pub migrated: u64,
    /// `pgmigrate_fail`.
    pub migrate_failed: u64,
}

impl CompactControl {
    /// A run over a zone of `spanned` pages, for a block of `order` of
    /// `mt` (or the whole zone, `None`), never isolating free pages below
    /// `min_free`.
    pub const fn new(spanned: usize, order: Option<Order>, mt: MigrateType, min_free: usize) -> Self {
        Self {
            migrate_pfn: 0,
            free_pfn: spanned.saturating_sub(1) & !(PAGEBLOCK_NR_PAGES - 1),
            order,
            mt,
            min_free,
            free: [(0, 0); COMPACT_CLUSTER_MAX],
            nr_free: 0,
            migrate_scanned: 0,
            free_scanned: 0,
            isolated: 0,
            migrated: 0,
            migrate_failed: 0,
        }
    }

    /// The migrate scanner's position.
    pub const fn migrate_pfn(&self) -> usize {
        self.migrate_pfn
    }

    /// The free scanner's position.
    pub const fn free_pfn(&self) -> usize {
        self.free_pfn
    }

    /// `compact_scanners_met()`: the free scanner is in or below the
    /// migrate scanner's pageblock.
    pub const fn scanners_met(&self) -> bool {
        self.free_pfn >> PAGEBLOCK_ORDER <= self.migrate_pfn >> PAGEBLOCK_ORDER
    }

    /// `__compact_finished()`: complete once the scanners met; for an
    /// order asked for, success once a free block of it (or larger) is on
    /// `mt`'s lists, or one of a pageblock or more on any list (which the
    /// allocation can claim whole).
    pub fn finished<S: core::ops::DerefMut<Target = [PageMeta]>>(&self, zone: &Zone<S>) -> CompactResult {
        if self.scanners_met() {
            return CompactResult::Complete;
        }
        let Some(order) = self.order else { return CompactResult::Continue };
        for o in order.get()..=MAX_PAGE_ORDER {
            let Some(o) = Order::new(o) else { break };
            let area = zone.free_area(o);
            if area.nr_free_of(self.mt) > 0 || (o.get() >= PAGEBLOCK_ORDER && area.nr_free() > 0) {
                return CompactResult::Success;
            }
        }
        CompactResult::Continue
    }

    /// `isolate_migratepages()`: from the migrate scanner's position to the
    /// end of its pageblock (stopping early when `out` is full), the
    /// movable single pages in use, into `out`. A pageblock that is not
    /// `MIGRATE_MOVABLE` is skipped whole; so are free blocks and blocks of
    /// more than one page. Never scans a pageblock at or above the free
    /// scanner's. Returns how many it put in `out`.
    pub fn isolate_migratepages<S: core::ops::DerefMut<Target = [PageMeta]>>(
        &mut self,
        zone: &Zone<S>,
        out: &mut [u32; COMPACT_CLUSTER_MAX],
    ) -> usize {
        let meta = zone.meta();
        let mut n = 0;
        // Unsuitable pageblocks cost one look each; the pages of at most
        // one suitable pageblock are walked per call, so the zone lock is
        // held for no more than that (`compact_unlock_should_abort()`'s
        // bound in the kernel).
        while n == 0 && !self.scanners_met() {
            let mut pfn = self.migrate_pfn;
            let block_end = (pfn | (PAGEBLOCK_NR_PAGES - 1)) + 1;
            if zone.pageblock_mt(pfn) != MigrateType::Movable || meta[pfn & !(PAGEBLOCK_NR_PAGES - 1)].state() == PageState::Tail {
                // Unsuitable, or inside a larger block (free or in use).
                self.migrate_pfn = block_end;
                continue;
            }
            while pfn < block_end && n < out.len() {
                let m = &meta[pfn];
                self.migrate_scanned += 1;
                let step = match m.state() {
                    PageState::Allocated if m.order() == 0 && m.mt() == MigrateType::Movable => {
                        // CAST: zone indices fit in u32 (the zone's size
                        // limit).
                        out[n] = pfn as u32;
                        n += 1;
                        1
                    }
                    PageState::Allocated | PageState::Buddy => 1 << m.order(),
                    PageState::Reserved | PageState::Tail => 1,
                };
                pfn += step;
            }
            self.migrate_pfn = pfn;
            // One suitable pageblock walked: the lock goes back now.
            break;
        }
        self.isolated += n as u64;
        n
    }

    /// Free pages isolated and not used yet.
    pub fn nr_freepages(&self) -> usize {
        self.free[..self.nr_free].iter().map(|&(_, n)| n as usize).sum()
    }

    /// `isolate_freepages()`: down from the free scanner's position, a
    /// pageblock at a time and never into the migrate scanner's
    /// pageblock, takes free blocks off the free lists as single pages
    /// until `want` are held. Skips pageblocks that are not
    /// `MIGRATE_MOVABLE` and those free whole (`suitable_migration_target()`).
    /// Stops early when the zone would go below `min_free`.
    pub fn isolate_freepages<S: core::ops::DerefMut<Target = [PageMeta]>>(&mut self, zone: &mut Zone<S>, want: usize) {
        let low = (self.migrate_pfn | (PAGEBLOCK_NR_PAGES - 1)) + 1;
        let mut start = self.free_pfn;
        loop {
            let block_start = start & !(PAGEBLOCK_NR_PAGES - 1);
            if block_start < low {
                // Met the migrate scanner.
                self.free_pfn = block_start;
                return;
            }
            if self.nr_freepages() >= want || self.nr_free == self.free.len() {
                self.free_pfn = start;
                return;
            }
            let block_end = (block_start + PAGEBLOCK_NR_PAGES).min(zone.spanned());
            let head = zone.meta()[block_start];
            let whole = head.state() == PageState::Tail || (head.state() == PageState::Buddy && head.order() >= PAGEBLOCK_ORDER);
            let walked = zone.pageblock_mt(block_start) == MigrateType::Movable && !whole;
            if walked {
                start = self.isolate_freepages_block(zone, start, block_end, want);
                if start < block_end {
                    // Stopped inside the pageblock: go on from there.
                    self.free_pfn = start;
                    return;
                }
            }
            // The next pageblock down.
            let Some(next) = block_start.checked_sub(PAGEBLOCK_NR_PAGES) else {
                self.free_pfn = 0;
                return;
            };
            start = next;
            if walked {
                // One pageblock's pages walked per call, as the migrate
                // scanner: the caller calls again for more.
                self.free_pfn = start;
                return;
            }
        }
    }

    /// `isolate_freepages_block()`: the free blocks of `[start, end)` off
    /// the free lists, until `want` pages are held. Returns where it
    /// stopped.
    fn isolate_freepages_block<S: core::ops::DerefMut<Target = [PageMeta]>>(
        &mut self,
        zone: &mut Zone<S>,
        start: usize,
        end: usize,
        want: usize,
    ) -> usize {
        let mut pfn = start;
        while pfn < end {
            if self.nr_freepages() >= want || self.nr_free == self.free.len() {
                break;
            }
            let m = zone.meta()[pfn];
            self.free_scanned += 1;
            if m.state() != PageState::Buddy {
                pfn += if m.state() == PageState::Allocated { 1 << m.order() } else { 1 };
                continue;
            }
            let size = 1usize << m.order();
            if zone.nr_free_pages() < self.min_free + size {
                // `__isolate_free_page()`'s watermark check.
                return pfn;
            }
            let Some(order) = zone.isolate_free_block(pfn, MigrateType::Movable) else { break };
            // CAST: zone indices and block sizes fit in u32.
            self.free[self.nr_free] = (pfn as u32, order.nr_pages() as u32);
            self.nr_free += 1;
            self.isolated += size as u64;
            pfn += size;
        }
        pfn
    }

    /// `compaction_alloc()`: the first isolated free page (the kernel's
    /// free list is first in, first out, each split block in ascending
    /// order).
    fn take_freepage(&mut self) -> Option<u32> {
        if self.nr_free == 0 {
            return None;
        }
        let run = &mut self.free[0];
        let idx = run.0;
        run.0 += 1;
        run.1 -= 1;
        if run.1 == 0 {
            self.free.copy_within(1..self.nr_free, 0);
            self.nr_free -= 1;
        }
        Some(idx)
    }

    /// `compaction_free()`: the page [`Self::take_freepage`] just gave,
    /// back at the front.
    fn return_freepage(&mut self, idx: u32) {
        if self.nr_free > 0 && self.free[0].0 == idx + 1 {
            self.free[0] = (idx, self.free[0].1 + 1);
            return;
        }
        // Its run was used up and removed, so there is room.
        self.free.copy_within(0..self.nr_free, 1);
        self.free[0] = (idx, 1);
        self.nr_free += 1;
    }

    /// `release_free_list()`: every isolated free page not used goes back
    /// to the free lists.
    pub fn release_freepages<S: core::ops::DerefMut<Target = [PageMeta]>>(&mut self, zone: &mut Zone<S>) {
        for &(first, n) in &self.free[..self.nr_free] {
            for idx in first..first + n {
                // Ours since the free scanner took it: cannot fail.
                let _ = zone.free(idx as usize, Order::ZERO);
            }
        }
        self.nr_free = 0;
    }

    /// `compact_zone()`: rounds of isolating and migrating until
    /// [`CompactControl::finished`] says otherwise, then the isolated free
    /// pages left go back. The zone lock is held only inside
    /// `env.with_zone`, never across a migration.
    pub fn compact_zone<S, E>(&mut self, env: &mut E) -> CompactResult
    where
        S: core::ops::DerefMut<Target = [PageMeta]>,
        E: CompactEnv<S>,
    {
        let mut src = [0u32; COMPACT_CLUSTER_MAX];
        let result = loop {
            let result = env.with_zone(|z| self.finished(z));
            if result != CompactResult::Continue {
                break result;
            }
            let n = env.with_zone(|z| self.isolate_migratepages(z, &mut src));
            env.relax();
            if n == 0 {
                continue;
            }
            // A pageblock per lock hold, until there are copies enough or
            // the scanners meet.
            while self.nr_freepages() < n && self.nr_free < self.free.len() && !self.scanners_met() {
                let before = (self.free_pfn, self.nr_freepages());
                env.with_zone(|z| self.isolate_freepages(z, n));
                env.relax();
                if (self.free_pfn, self.nr_freepages()) == before {
                    // Stopped where it stood (the min watermark).
                    break;
                }
            }
            let mut out_of_free = false;
            for &s in &src[..n] {
                let Some(d) = self.take_freepage() else {
                    out_of_free = true;
                    break;
                };
                if env.migrate(s as usize, d as usize) {
                    self.migrated += 1;
                } else {
                    self.migrate_failed += 1;
                    self.return_freepage(d);
                }
            }
            if out_of_free {
                break if self.scanners_met() { CompactResult::Complete } else { CompactResult::NoFreePages };
            }
        };
        env.with_zone(|z| self.release_freepages(z));
        result
    }
}

/// `compaction_suitable()`: whether the zone has the free pages to compact
/// for `order` at all: its low watermark plus `compact_gap()`, twice the
/// block (the copies need room).
pub const fn compaction_suitable(nr_free: usize, low_wmark: usize, order: Order) -> bool {
    nr_free >= low_wmark + (2 << order.get())
}

/// `__fragmentation_index()` against `extfrag_threshold`: whether
/// compaction, not reclaim, is the answer for `order`
/// (`compaction_zonelist_suitable()` and kswapd's proactive check): the
/// index is over the threshold. `-1000` (enough free blocks) and indices
/// at or below it are not.
pub const fn fragmented(index: i32, extfrag_threshold: i32) -> bool {
    index > extfrag_threshold
}

/// One pageblock as [`model_largest_order`] counts it.
#[derive(Clone, Copy, Debug, Default)]
pub struct PageblockCount {
    movable: usize,
    free: usize,
    pinned: bool,
}

/// A model of what one run over `zone` as it is now can restore: the
/// largest order of a free block of a pageblock or more that it leaves
/// (`None`: none that large). The migrate scanner can empty the bottom
/// `k` movable pageblocks when the partly free movable pageblocks above
/// `k + 1` (one left for the scanners' meeting) have room for their
/// movable single pages; a pageblock emptied so is free when nothing else
/// was allocated in it. Wholly free pageblocks stay free (the free scanner
/// skips them). For tests, host and KUnit: O(pages), with `scratch`
/// one entry per pageblock (`None` if it has fewer).
pub fn model_largest_order<S: core::ops::DerefMut<Target = [PageMeta]>>(
    zone: &Zone<S>,
    scratch: &mut [PageblockCount],
) -> Option<u32> {
    let meta = zone.meta();
    let nr_pb = meta.len() / PAGEBLOCK_NR_PAGES;
    let blocks = scratch.get_mut(..nr_pb)?;
    blocks.fill(PageblockCount::default());
    let mut i = 0;
    while i < nr_pb * PAGEBLOCK_NR_PAGES {
        let m = &meta[i];
        let size = 1usize << m.order();
        let b = i / PAGEBLOCK_NR_PAGES;
        match m.state() {
            PageState::Buddy => {
                let mut left = size;
                let mut at = i;
                while left > 0 && at / PAGEBLOCK_NR_PAGES < nr_pb {
                    let here = left.min(PAGEBLOCK_NR_PAGES - at % PAGEBLOCK_NR_PAGES);
                    blocks[at / PAGEBLOCK_NR_PAGES].free += here;
                    left -= here;
                    at += here;
                }
                i += size;
            }
            PageState::Allocated if m.order() == 0 && m.mt() == MigrateType::Movable => {
                blocks[b].movable += 1;
                i += 1;
            }
            PageState::Allocated => {
                for p in b..((i + size).div_ceil(PAGEBLOCK_NR_PAGES)).min(nr_pb) {
                    blocks[p].pinned = true;
                }
                i += size;
            }
            PageState::Reserved | PageState::Tail => {
                blocks[b].pinned = true;
                i += 1;
            }
        }
    }
    let blocks = &*blocks;
    let movable_type = |b: usize| zone.pageblock_mt(b * PAGEBLOCK_NR_PAGES) == MigrateType::Movable;
    let whole_free = |b: usize| blocks[b].free == PAGEBLOCK_NR_PAGES;
    let room = |b: usize| if whole_free(b) || !movable_type(b) { 0 } else { blocks[b].free };
    let mut k = 0;
    while k < nr_pb {
        let need: usize = (0..=k).filter(|&b| movable_type(b)).map(|b| blocks[b].movable).sum();
        let have: usize = (k + 2..nr_pb).map(room).sum();
        if need > have {
            break;
        }
        k += 1;
    }
    let is_free = |b: usize| whole_free(b) || (b < k && movable_type(b) && !blocks[b].pinned);
    let mut best = None;
    for o in PAGEBLOCK_ORDER..=MAX_PAGE_ORDER {
        let span = 1 << (o - PAGEBLOCK_ORDER);
        if (0..nr_pb.saturating_sub(span - 1)).step_by(span).any(|b| (b..b + span).all(is_free)) {
            best = Some(o);
        }
    }
    best
}

#[cfg(test)]
mod tests;
