// SPDX-License-Identifier: GPL-2.0

//! One zone's buddy free lists: `free_area[order].free_list[migratetype]`.
//!
//! Mirrors `mm/page_alloc.c`: `__rmqueue_smallest`, `expand`,
//! `__free_one_page` with `find_buddy_page_pfn`, and the migrate-type
//! fallbacks `__rmqueue_claim` / `__rmqueue_steal` with
//! `try_to_claim_block`.
//!
//! Pages are named by their *index* in the zone's [`PageMeta`] array, the
//! zone's own `struct page` array. The glue lays each source chunk out at a
//! `MAX_ORDER_NR_PAGES`-aligned index and pads the tail with
//! [`PageState::Reserved`] entries, so that index arithmetic is pfn
//! arithmetic: a block's buddy is `index ^ (1 << order)`, found in O(1),
//! and never lies in another chunk.

use crate::pfn::{
    Order,
    Pfn,
    PfnRange,
    MAX_PAGE_ORDER,
    NR_PAGE_ORDERS, //
};

/// `pageblock_order` on x86-64: 2 MiB blocks.
pub const PAGEBLOCK_ORDER: u32 = 9;

/// Pages per pageblock (`pageblock_nr_pages`).
pub const PAGEBLOCK_NR_PAGES: usize = 1 << PAGEBLOCK_ORDER;

/// No page: the end of a free list.
const NIL: u32 = u32::MAX;

/// The migrate types that have free lists (`MIGRATE_PCPTYPES`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum MigrateType {
    /// `MIGRATE_UNMOVABLE`.
    Unmovable = 0,
    /// `MIGRATE_MOVABLE`.
    Movable = 1,
    /// `MIGRATE_RECLAIMABLE`.
    Reclaimable = 2,
}

/// Number of migrate types with free lists (`MIGRATE_PCPTYPES`).
pub const MIGRATE_PCPTYPES: usize = 3;

/// The kernel's `migratetype_names[]` (with `CONFIG_CMA` and
/// `CONFIG_MEMORY_ISOLATION`), for `/proc/pagetypeinfo`'s columns. zonemm
/// keeps the last three empty.
pub const MIGRATETYPE_NAMES: [&str; 6] =
    ["Unmovable", "Movable", "Reclaimable", "HighAtomic", "CMA", "Isolate"];

impl MigrateType {
    /// Every type, in the kernel's order.
    pub const ALL: [Self; MIGRATE_PCPTYPES] = [Self::Unmovable, Self::Movable, Self::Reclaimable];

    /// The kernel's name (`migratetype_names[]`).
    pub const fn name(self) -> &'static str {
        MIGRATETYPE_NAMES[self as usize]
    }

    /// The type written as in debugfs commands: `unmovable`, `movable`,
    /// `reclaimable` (any case).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|mt| mt.name().eq_ignore_ascii_case(name))
    }

    /// The types to fall back to, in order (`fallbacks[]`).
    pub const fn fallbacks(self) -> [Self; 2] {
        match self {
            Self::Unmovable => [Self::Reclaimable, Self::Movable],
            Self::Movable => [Self::Reclaimable, Self::Unmovable],
            Self::Reclaimable => [Self::Unmovable, Self::Movable],
        }
    }

    const fn from_u8(v: u8) -> Self {
        match v {
            0 => Self::Unmovable,
            2 => Self::Reclaimable,
            _ => Self::Movable,
        }
    }
}

/// What a page is to the buddy allocator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum PageState {
    /// Not the zone's: padding between chunks. Never merged with.
    Reserved,
    /// The head of a free block on a free list (`PageBuddy`).
    Buddy,
    /// The head of an allocated block.
    Allocated,
    /// Inside a block whose head is elsewhere.
    Tail,
}

/// The allocator's per-page metadata, its `struct page`.
#[derive(Clone, Copy, Debug)]
pub struct PageMeta {
    next: u32,
    prev: u32,
    state: PageState,
    /// Order of the block this page heads (`Buddy` or `Allocated`).
    order: u8,
    /// Migrate type the block was allocated as, or whose list it is on.
    mt: u8,
    /// At a pageblock's first page: the pageblock's migrate type.
    pageblock_mt: u8,
}

impl PageMeta {
    /// A page that is not (yet) the zone's.
    pub const RESERVED: Self = Self {
        next: NIL,
        prev: NIL,
        state: PageState::Reserved,
        order: 0,
        mt: MigrateType::Movable as u8,
        pageblock_mt: MigrateType::Movable as u8,
    };

    /// The page's state.
    pub const fn state(&self) -> PageState {
        self.state
    }

    /// Order of the block it heads (meaningful for `Buddy` and `Allocated`).
    pub const fn order(&self) -> u32 {
        self.order as u32
    }

    /// The migrate type the block it heads was allocated as, or whose free
    /// list it is on.
    pub const fn mt(&self) -> MigrateType {
        MigrateType::from_u8(self.mt)
    }
}

/// Why a free was refused. Nothing changes when it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FreeError {
    /// The index is outside the zone.
    OutOfRange,
    /// The page does not head an allocated block: a double or bad free.
    NotAllocated,
    /// The block was allocated with another order.
    WrongOrder,
}

/// `struct free_area`: one list per migrate type, and counts.
#[derive(Clone, Copy, Debug)]
pub struct FreeArea {
    heads: [u32; MIGRATE_PCPTYPES],
    count: [usize; MIGRATE_PCPTYPES],
}

impl FreeArea {
    const EMPTY: Self = Self { heads: [NIL; MIGRATE_PCPTYPES], count: [0; MIGRATE_PCPTYPES] };

    /// Free blocks of this order, all types (`nr_free`).
    pub fn nr_free(&self) -> usize {
        self.count.iter().sum()
    }

    /// Free blocks of this order on `mt`'s list.
    pub const fn nr_free_of(&self, mt: MigrateType) -> usize {
        self.count[mt as usize]
    }
}

/// Event counts for `buddy/stats`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BuddyStats {
    /// Blocks split in two by `expand`.
    pub splits: u64,
    /// Buddies merged by `__free_one_page`.
    pub merges: u64,
    /// Allocations served from another migrate type's list.
    pub fallbacks: u64,
    /// Of those, the pageblocks claimed for the allocating type.
    pub claims: u64,
}

/// The free lists of one zone over a page array `S`.
///
/// # Invariants
///
/// - A page is on `free_area[o].free_list[m]` exactly when it is
///   [`PageState::Buddy`] with `order == o` and `mt == m`; the pages after
///   a `Buddy` or `Allocated` head, up to its block's end, are `Tail`.
/// - A free block smaller than a pageblock lies in one pageblock and is on
///   that pageblock's type's list; a larger one's pageblocks share its type.
/// - `nr_free_pages` is the sum of the free blocks' sizes.
pub struct Zone<S> {
    meta: S,
    free_area: [FreeArea; NR_PAGE_ORDERS],
    nr_free_pages: usize,
    managed: usize,
    stats: BuddyStats,
    /// Pageblock type changes so far, for copies of the types kept outside.
    pageblock_changes: u64,
}

impl<S: core::ops::DerefMut<Target = [PageMeta]>> Zone<S> {
    /// A zone over `meta`, whose entries must all be [`PageMeta::RESERVED`];
    /// [`Zone::add_span`] gives it pages. At most `u32::MAX - 1` pages.
    pub fn new(meta: S) -> Self {
        Self {
            meta,
            free_area: [FreeArea::EMPTY; NR_PAGE_ORDERS],
            nr_free_pages: 0,
            managed: 0,
            stats: BuddyStats::default(),
            pageblock_changes: 0,
        }
    }

    /// Hands the pages `[start, start + nr)` to the zone as free, in the
    /// largest aligned blocks, like `memblock_free_pages()`. Their
    /// pageblocks become `mt`. Returns `false` (and changes nothing) if the
    /// range is outside the array or not all reserved.
    pub fn add_span(&mut self, start: usize, nr: usize, mt: MigrateType) -> bool {
        let fits = start.checked_add(nr).is_some_and(|end| end <= self.meta.len());
        if !fits || self.meta[start..start + nr].iter().any(|m| m.state != PageState::Reserved) {
            return false;
        }
        for pb in (start & !(PAGEBLOCK_NR_PAGES - 1)..start + nr).step_by(PAGEBLOCK_NR_PAGES) {
            self.set_pageblock_mt(pb, mt);
        }
        let Some(range) = PfnRange::new(Pfn(start), nr) else { return false };
        for (first, order) in range.blocks() {
            self.mark_block(first.0, order, PageState::Tail);
            self.meta[first.0].state = PageState::Allocated;
            self.meta[first.0].order = order.get() as u8;
            self.managed += order.nr_pages();
            self.free_one(first.0, order);
        }
        true
    }

    /// Pages in the array, reserved ones included.
    pub fn spanned(&self) -> usize {
        self.meta.len()
    }

    /// Pages handed to the zone (`managed_pages`).
    pub const fn managed(&self) -> usize {
        self.managed
    }

    /// Free pages on the free lists (`NR_FREE_PAGES`).
    pub const fn nr_free_pages(&self) -> usize {
        self.nr_free_pages
    }

    /// `free_area[order]`.
    pub fn free_area(&self, order: Order) -> &FreeArea {
        &self.free_area[order.index()]
    }

    /// The event counters.
    pub const fn stats(&self) -> &BuddyStats {
        &self.stats
    }

    /// The page metadata (read only).
    pub fn meta(&self) -> &[PageMeta] {
        &self.meta
    }

    /// Pageblocks of each migrate type (for `pagetypeinfo`).
    pub fn pageblock_counts(&self) -> [usize; MIGRATE_PCPTYPES] {
        let mut count = [0; MIGRATE_PCPTYPES];
        for pb in (0..self.meta.len()).step_by(PAGEBLOCK_NR_PAGES) {
            let end = (pb + PAGEBLOCK_NR_PAGES).min(self.meta.len());
            if self.meta[pb..end].iter().any(|m| m.state != PageState::Reserved) {
                count[self.meta[pb].pageblock_mt as usize] += 1;
            }
        }
        count
    }

    /// The pageblock type of page `idx`.
    pub fn pageblock_mt(&self, idx: usize) -> MigrateType {
        MigrateType::from_u8(self.meta[idx & !(PAGEBLOCK_NR_PAGES - 1)].pageblock_mt)
    }

    fn set_pageblock_range(&mut self, idx: usize, order: Order, mt: MigrateType) {
        let end = idx + order.nr_pages().max(PAGEBLOCK_NR_PAGES);
        for pb in (idx & !(PAGEBLOCK_NR_PAGES - 1)..end).step_by(PAGEBLOCK_NR_PAGES) {
            self.set_pageblock_mt(pb, mt);
        }
    }

    /// `set_pageblock_migratetype()`, counting the changes.
    fn set_pageblock_mt(&mut self, pb: usize, mt: MigrateType) {
        if self.meta[pb].pageblock_mt != mt as u8 {
            self.meta[pb].pageblock_mt = mt as u8;
            self.pageblock_changes += 1;
        }
    }

    /// How many times a pageblock has changed type: a copy of the types
    /// taken at one count is current while the count stays the same.
    pub fn pageblock_changes(&self) -> u64 {
        self.pageblock_changes
    }

    fn mark_block(&mut self, idx: usize, order: Order, state: PageState) {
        for m in &mut self.meta[idx + 1..idx + order.nr_pages()] {
            m.state = state;
        }
    }

    fn add_to_free_list(&mut self, idx: usize, order: Order, mt: MigrateType) {
        let area = &mut self.free_area[order.index()];
        let head = area.heads[mt as usize];
        self.meta[idx] = PageMeta {
            next: head,
            prev: NIL,
            state: PageState::Buddy,
            order: order.get() as u8,
            mt: mt as u8,
            pageblock_mt: self.meta[idx].pageblock_mt,
        };
        if head != NIL {
            self.meta[head as usize].prev = idx as u32;
        }
        area.heads[mt as usize] = idx as u32;
        area.count[mt as usize] += 1;
        self.nr_free_pages += order.nr_pages();
    }

    /// Takes a free block off its list; it becomes an allocated head.
    fn del_from_free_list(&mut self, idx: usize) {
        let PageMeta { next, prev, order, mt, .. } = self.meta[idx];
        let area = &mut self.free_area[order as usize];
        if prev == NIL {
            area.heads[mt as usize] = next;
        } else {
            self.meta[prev as usize].next = next;
        }
        if next != NIL {
            self.meta[next as usize].prev = prev;
        }
        area.count[mt as usize] -= 1;
        self.nr_free_pages -= 1 << order;
        let m = &mut self.meta[idx];
        m.state = PageState::Allocated;
        m.next = NIL;
        m.prev = NIL;
    }

    /// `expand()`: the allocated block of order `high` at `idx` is cut down
    /// to `low`, its upper halves going to `mt`'s free lists.
    fn expand(&mut self, idx: usize, low: Order, high: Order, mt: MigrateType) {
        let mut order = high;
        while let Some(half) = order.prev().filter(|&half| half >= low) {
            let upper = idx + half.nr_pages();
            self.add_to_free_list(upper, half, mt);
            self.mark_block(upper, half, PageState::Tail);
            self.stats.splits += 1;
            order = half;
        }
        self.meta[idx].order = low.get() as u8;
    }

    /// `__rmqueue_smallest()`: the smallest free block of `mt` that holds
    /// `order`, split down to it. Returns its index.
    pub fn rmqueue_smallest(&mut self, order: Order, mt: MigrateType) -> Option<usize> {
        for current in order.get()..=MAX_PAGE_ORDER {
            let head = self.free_area[current as usize].heads[mt as usize];
            if head == NIL {
                continue;
            }
            let idx = head as usize;
            let current = Order::new(current)?;
            self.del_from_free_list(idx);
            self.expand(idx, order, current, mt);
            self.meta[idx].mt = mt as u8;
            return Some(idx);
        }
        None
    }

    /// `__rmqueue()`: from `mt`'s lists, else by claiming a pageblock of
    /// another type, else by stealing a block of another type.
    pub fn rmqueue(&mut self, order: Order, mt: MigrateType) -> Option<usize> {
        if let Some(idx) = self.rmqueue_smallest(order, mt) {
            return Some(idx);
        }
        let idx = self.rmqueue_claim(order, mt).or_else(|| self.rmqueue_steal(order, mt))?;
        self.stats.fallbacks += 1;
        self.meta[idx].mt = mt as u8;
        Some(idx)
    }

    /// `should_try_claim_block()`.
    const fn should_try_claim_block(order: u32, start: MigrateType) -> bool {
        order >= PAGEBLOCK_ORDER / 2 || !matches!(start, MigrateType::Movable)
    }

    /// `find_suitable_fallback()` without the claim check: the first
    /// fallback type with a free block of `order`.
    fn find_fallback(&self, order: u32, start: MigrateType) -> Option<MigrateType> {
        let area = &self.free_area[order as usize];
        start.fallbacks().into_iter().find(|&mt| area.heads[mt as usize] != NIL)
    }

    /// `__rmqueue_claim()`: largest fallback block first; claim its
    /// pageblock(s) for `start` when the block is big or the pageblock is
    /// mostly free or alike.
    fn rmqueue_claim(&mut self, order: Order, start: MigrateType) -> Option<usize> {
        for current in (order.get()..=MAX_PAGE_ORDER).rev() {
            let Some(block_mt) = self.find_fallback(current, start) else { continue };
            if !Self::should_try_claim_block(current, start) {
                break;
            }
            let idx = self.free_area[current as usize].heads[block_mt as usize] as usize;
            if let Some(idx) = self.try_to_claim_block(idx, Order::new(current)?, order, start, block_mt) {
                self.stats.claims += 1;
                return Some(idx);
            }
        }
        None
    }

    /// `try_to_claim_block()`.
    fn try_to_claim_block(
        &mut self,
        idx: usize,
        current: Order,
        order: Order,
        start: MigrateType,
        block_mt: MigrateType,
    ) -> Option<usize> {
        if current.get() >= PAGEBLOCK_ORDER {
            self.del_from_free_list(idx);
            self.set_pageblock_range(idx, current, start);
            self.expand(idx, order, current, start);
            self.meta[idx].mt = start as u8;
            return Some(idx);
        }
        // Count the pageblock's free and movable pages
        // (`prep_move_freepages_block`).
        let pb = idx & !(PAGEBLOCK_NR_PAGES - 1);
        let (mut free, mut movable) = (0, 0);
        let mut i = pb;
        while i < pb + PAGEBLOCK_NR_PAGES {
            let m = self.meta[i];
            let size = 1usize << m.order;
            match m.state {
                PageState::Buddy => free += size,
                PageState::Allocated if m.mt == MigrateType::Movable as u8 => movable += size,
                PageState::Allocated => {}
                PageState::Reserved | PageState::Tail => {
                    i += 1;
                    continue;
                }
            }
            i += size;
        }
        // Pages "alike" the allocation: for a movable one the movable
        // pages; a non-movable one taking a movable block counts every
        // non-movable page; otherwise nothing can be told apart.
        let alike = match (start, block_mt) {
            (MigrateType::Movable, _) => movable,
            (_, MigrateType::Movable) => PAGEBLOCK_NR_PAGES - free - movable,
            _ => 0,
        };
        if free + alike < PAGEBLOCK_NR_PAGES / 2 {
            return None;
        }
        // `__move_freepages_block()`: the pageblock's free blocks change
        // lists, then the pageblock changes type.
        let mut i = pb;
        while i < pb + PAGEBLOCK_NR_PAGES {
            let m = self.meta[i];
            if m.state == PageState::Buddy {
                let o = Order::new(m.order as u32)?;
                self.del_from_free_list(i);
                self.add_to_free_list(i, o, start);
                i += o.nr_pages();
            } else {
                i += 1;
            }
        }
        self.set_pageblock_mt(pb, start);
        self.rmqueue_smallest(order, start)
    }

    /// `__rmqueue_steal()`: the smallest fallback block, its remainder left
    /// on the fallback type's lists.
    fn rmqueue_steal(&mut self, order: Order, start: MigrateType) -> Option<usize> {
        for current in order.get()..=MAX_PAGE_ORDER {
            let Some(block_mt) = self.find_fallback(current, start) else { continue };
            let idx = self.free_area[current as usize].heads[block_mt as usize] as usize;
            self.del_from_free_list(idx);
            self.expand(idx, order, Order::new(current)?, block_mt);
            return Some(idx);
        }
        None
    }

    /// Checks that `idx` heads an allocated block of `order`.
    pub fn check_free(&self, idx: usize, order: Order) -> Result<(), FreeError> {
        let m = self.meta.get(idx).ok_or(FreeError::OutOfRange)?;
        if m.state != PageState::Allocated {
            return Err(FreeError::NotAllocated);
        }
        if m.order as u32 != order.get() {
            return Err(FreeError::WrongOrder);
        }
        Ok(())
    }

    /// `split_page()`: the allocated block of `order` at `idx` becomes
    /// `2^order` allocated single pages, each freed on its own later.
    pub fn split(&mut self, idx: usize, order: Order) -> Result<(), FreeError> {
        self.check_free(idx, order)?;
        let mt = self.meta[idx].mt;
        for m in &mut self.meta[idx..idx + order.nr_pages()] {
            m.state = PageState::Allocated;
            m.order = 0;
            m.mt = mt;
        }
        Ok(())
    }

    /// `__isolate_free_page()` and `split_page()`, for the compaction free
    /// scanner: the free block headed by `idx` leaves the free lists as
    /// `2^order` allocated single pages of `mt`, each freed on its own
    /// later. Returns its order, or `None` (nothing changes) if `idx` heads
    /// no free block.
    pub fn isolate_free_block(&mut self, idx: usize, mt: MigrateType) -> Option<Order> {
        let m = self.meta.get(idx)?;
        if m.state != PageState::Buddy {
            return None;
        }
        let order = Order::new(m.order as u32)?;
        self.del_from_free_list(idx);
        for m in &mut self.meta[idx..idx + order.nr_pages()] {
            m.state = PageState::Allocated;
            m.order = 0;
            m.mt = mt as u8;
        }
        Some(order)
    }

    /// Frees the allocated block of `order` at `idx` (`__free_one_page`):
    /// merges with free buddies as far as it can, then goes on the list of
    /// its pageblock's type.
    pub fn free(&mut self, idx: usize, order: Order) -> Result<(), FreeError> {
        self.check_free(idx, order)?;
        self.free_one(idx, order);
        Ok(())
    }

    fn free_one(&mut self, mut idx: usize, mut order: Order) {
        let mt = self.pageblock_mt(idx);
        while let Some(up) = order.next() {
            let buddy = idx ^ order.nr_pages();
            let Some(b) = self.meta.get(buddy) else { break };
            if b.state != PageState::Buddy || b.order as u32 != order.get() {
                break;
            }
            let buddy_mt = MigrateType::from_u8(b.mt);
            self.del_from_free_list(buddy);
            self.meta[buddy].state = PageState::Tail;
            if buddy_mt != mt {
                self.set_pageblock_range(buddy, order, mt);
            }
            idx &= buddy;
            order = up;
            self.stats.merges += 1;
        }
        self.mark_block(idx, order, PageState::Tail);
        self.add_to_free_list(idx, order, mt);
    }

    /// Whether `idx` heads a free block of exactly `order`.
    pub fn is_free_block(&self, idx: usize, order: Order) -> bool {
        self.meta.get(idx).is_some_and(|m| m.state == PageState::Buddy && m.order as u32 == order.get())
            && idx + order.nr_pages() <= self.meta.len()
    }

    /// `__offline_isolated_pages()` for one whole free block: if `idx`
    /// heads a free block of `order` (not merely lies inside a larger
    /// one), takes it off its free list and out of the zone: its pages
    /// become reserved again, as before [`Zone::add_span`], and
    /// `managed` drops. Returns `false` (and changes nothing) otherwise.
    pub fn remove_free_block(&mut self, idx: usize, order: Order) -> bool {
        if !self.is_free_block(idx, order) {
            return false;
        }
        self.del_from_free_list(idx);
        for m in &mut self.meta[idx..idx + order.nr_pages()] {
            *m = PageMeta { pageblock_mt: m.pageblock_mt, ..PageMeta::RESERVED };
        }
        self.managed -= order.nr_pages();
        true
    }

    /// Checks every invariant; returns the first broken one.
    pub fn check(&self) -> Result<(), &'static str> {
        let mut free = 0;
        let mut counted = [[0usize; MIGRATE_PCPTYPES]; NR_PAGE_ORDERS];
        let mut i = 0;
        while i < self.meta.len() {
            let m = self.meta[i];
            match m.state {
                PageState::Reserved => {
                    i += 1;
                    continue;
                }
                PageState::Tail => return Err("a tail page outside any block"),
                PageState::Buddy | PageState::Allocated => {}
            }
            let size = 1usize << m.order;
            if i & (size - 1) != 0 || i + size > self.meta.len() {
                return Err("a block misaligned or past the zone");
            }
            if self.meta[i + 1..i + size].iter().any(|t| t.state != PageState::Tail) {
                return Err("a block's pages are not all tails");
            }
            if m.state == PageState::Buddy {
                free += size;
                counted[m.order as usize][m.mt as usize] += 1;
                if self.pageblock_mt(i) as u8 != m.mt {
                    return Err("a free block on another type's list than its pageblock");
                }
                if let Some(b) = self.meta.get(i ^ size) {
                    if size < 1 << MAX_PAGE_ORDER && b.state == PageState::Buddy && b.order == m.order {
                        return Err("two free buddies left unmerged");
                    }
                }
            }
            i += size;
        }
        if free != self.nr_free_pages {
            return Err("nr_free_pages does not match the free blocks");
        }
        for (order, area) in self.free_area.iter().enumerate() {
            for mt in MigrateType::ALL {
                let mut n = 0;
                let mut prev = NIL;
                let mut cur = area.heads[mt as usize];
                while cur != NIL {
                    let m = self.meta[cur as usize];
                    if m.prev != prev || m.state != PageState::Buddy || m.order as usize != order {
                        return Err("a free list is corrupt");
                    }
                    n += 1;
                    prev = cur;
                    cur = m.next;
                }
                if n != area.count[mt as usize] || n != counted[order][mt as usize] {
                    return Err("a free list's count is wrong");
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
